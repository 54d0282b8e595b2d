"""Object detector: letterbox, one onnxruntime call, family decoder, MegaDetector-style output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import ModelLoadError
from ..core.records import Detection
from .families import FAMILIES
from .manifest import ModelManifest
from .postprocess import MAX_DETECTIONS, to_detections
from .preprocess import INPUT_DTYPES, InputSpec, LetterboxTransform, letterbox
from .session import open_image_model

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
                                 input_dtype=INPUT_DTYPES[manifest.input_dtype] if manifest.input_dtype else None)
        self._session = model.session
        self._input = model.input
        self._output_name = model.output_name
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
        """Class names, index 0 = category "1"."""
        return self.manifest.labels

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

    def detect(self, image: np.ndarray, conf_floor: float = DEFAULT_CONF_FLOOR) -> list[Detection]:
        """Detect animals, people and vehicles in one image.

        Args:
            image: ``H x W x 3`` uint8 RGB array (EXIF orientation already applied).
            conf_floor: drop boxes scoring below this (MegaDetector writes everything above 0.005).

        Returns:
            Detections with boxes normalised to ``image``, highest confidence first.

        Raises:
            ValueError: ``image`` is not a uint8 image array.
        """
        tensor, transform = self.preprocess(image)
        raw = self.run_raw(tensor)
        cands = self._decoder(
            raw, conf_floor=conf_floor, nms_iou=self.manifest.nms_iou,
            input_hw=(transform.input_h, transform.input_w), max_det=MAX_DETECTIONS,
        )
        return to_detections(cands, transform)
