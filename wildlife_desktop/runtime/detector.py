"""Object detector: letterbox, one onnxruntime call, family decoder, MegaDetector-style output.

A pack whose manifest has a ``category_map`` (e.g. NanoDet's 80 COCO classes) emits detector
categories ("1" animal, "2" person, "3" vehicle) instead of its own classes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.errors import ModelLoadError
from ..core.records import Detection
from .families import FAMILIES, FamilySpec
from .manifest import DETECTOR_LABELS, ModelManifest
from .postprocess import MAX_DETECTIONS, map_categories, to_detections
from .preprocess import INPUT_DTYPES, InputSpec, LetterboxTransform, letterbox
from .session import TensorInfo, open_image_model

DEFAULT_CONF_FLOOR = 0.005


class Detector:
    """Run one detection model pack on single RGB images.

    Args:
        manifest: the pack's manifest (task ``detection``).
        onnx_path: the ONNX file (checked against the manifest by :class:`ModelStore`).
        intra_threads: onnxruntime intra-op threads (default ``cpu_count - 1``).

    Raises:
        ModelLoadError: wrong task, unloadable file, or an output layout that does not match the family.
    """

    def __init__(self, manifest: ModelManifest, onnx_path: Path | str, *, intra_threads: int | None = None):
        spec = FAMILIES[manifest.family]
        if spec.task != "detection" or spec.decoder is None:
            raise ModelLoadError(f"Model '{manifest.id}' is a {manifest.task} model, not a detector")
        self.manifest = manifest
        self._decoder = spec.decoder
        model = open_image_model(onnx_path, model_id=manifest.id, what=manifest.family, n_labels=len(manifest.labels),
                                 check_output=spec.check_output, intra_threads=intra_threads,
                                 output=manifest.output,
                                 input_dtype=INPUT_DTYPES[manifest.input_dtype] if manifest.input_dtype else None,
                                 pick_outputs=_output_picker(spec, manifest))
        self._session = model.session
        self._input = model.input
        self._output_name = model.output_name
        self._output_names = list(model.output_names)
        self._multi = spec.outputs is not None
        self._class_map, self._floors = _category_arrays(manifest)
        self.input_spec: InputSpec = manifest.input_spec(model.dtype)
        fixed = self._input.fixed_hw_in(manifest.input_layout)
        mode = manifest.letterbox or spec.default_letterbox or ("square" if fixed else "classic")
        if fixed is not None and mode == "classic":
            mode = "square"  # a fixed-shape export cannot take a rectangular input
        self.letterbox_mode: str = mode
        size = manifest.input_size
        self._target: tuple[int, int] = fixed if fixed is not None else (size, size)

    @property
    def input_size(self) -> int:
        """Long side of the network input in pixels."""
        return max(self._target)

    @property
    def labels(self) -> tuple[str, ...]:
        """Names of the categories it emits, index 0 = category "1" (the detector categories when
        the manifest maps the model's classes to them)."""
        return DETECTOR_LABELS if self._class_map is not None else self.manifest.labels

    @property
    def random_weights(self) -> bool:
        """True for architecture twins whose output means nothing."""
        return self.manifest.random_weights

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, LetterboxTransform]:
        """Letterbox an ``H x W x 3`` uint8 RGB image into this model's input tensor."""
        target = self._target[0] if self.letterbox_mode == "classic" else self._target
        return letterbox(image, target, mode=self.letterbox_mode, stride=self.manifest.stride, spec=self.input_spec)

    def run_raw(self, tensor: np.ndarray) -> np.ndarray:
        """Run the network on a prepared tensor and return its first output (float32)."""
        out = self._session.run([self._output_name], {self._input.name: tensor})[0]
        return np.asarray(out, dtype=np.float32)

    def run_outputs(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the network and return every output its decoder reads, in decoder order (float32)."""
        outs = self._session.run(self._output_names, {self._input.name: tensor})
        return [np.asarray(o, dtype=np.float32) for o in outs]

    def detect(self, image: np.ndarray, conf_floor: float = DEFAULT_CONF_FLOOR, *,
               use_category_floors: bool = True) -> list[Detection]:
        """Detect animals, people and vehicles in one image.

        Args:
            image: ``H x W x 3`` uint8 RGB array (EXIF orientation already applied).
            conf_floor: drop boxes scoring below this (MegaDetector writes everything above 0.005).
            use_category_floors: apply the manifest's per-category floors (a composite applies
                its own, and needs the weaker boxes as evidence for its merge rules).

        Returns:
            Detections with boxes normalised to ``image``, highest confidence first.

        Raises:
            ValueError: ``image`` is not a uint8 image array.
        """
        tensor, transform = self.preprocess(image)
        raw = self.run_outputs(tensor) if self._multi else self.run_raw(tensor)
        cands = self._decoder(
            raw, conf_floor=conf_floor, nms_iou=self.manifest.nms_iou,
            input_hw=(transform.input_h, transform.input_w), max_det=MAX_DETECTIONS,
        )
        floors = self._floors if use_category_floors else np.zeros_like(self._floors)
        if self._class_map is not None:
            cands = map_categories(cands, self._class_map, floors, self.manifest.nms_iou)
        elif self.manifest.category_floors and use_category_floors:
            cands = map_categories(cands, np.arange(len(self.manifest.labels)), floors, self.manifest.nms_iou)
        return to_detections(cands, transform)


OutputPicker = Callable[[tuple[TensorInfo, ...], TensorInfo], "tuple[int, ...] | str"]


def _output_picker(spec: FamilySpec, manifest: ModelManifest) -> OutputPicker | None:
    """For a multi-output family: pick its outputs by shape for this input (``None`` otherwise)."""
    grid = spec.outputs
    if grid is None:
        return None

    def pick(outputs: tuple[TensorInfo, ...], image_input: TensorInfo) -> tuple[int, ...] | str:
        hw = image_input.fixed_hw_in(manifest.input_layout) or (manifest.input_size, manifest.input_size)
        return grid.match([o.shape for o in outputs], len(manifest.labels), hw)

    return pick


def _category_arrays(manifest: ModelManifest) -> tuple[np.ndarray | None, np.ndarray]:
    """``(class -> category index or -1, floor per emitted category)`` (``None``: no map)."""
    floors_by_name = dict(manifest.category_floors)
    if not manifest.category_map:
        return None, np.array([float(floors_by_name.get(n, 0.0)) for n in manifest.labels])
    mapping = dict(manifest.category_map)
    class_map = np.array([DETECTOR_LABELS.index(mapping[lab]) if lab in mapping else -1 for lab in manifest.labels],
                         dtype=np.int64)
    return class_map, np.array([float(floors_by_name.get(n, 0.0)) for n in DETECTOR_LABELS])
