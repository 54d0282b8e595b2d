"""Crops and frozen features: the base classifier run by onnxruntime on the verified crops.

Crops are cut exactly as the runtime's :class:`~wildlife_desktop.runtime.classifier.Classifier`
cuts them (:func:`runtime.preprocess.crop_batch` with the pack's input size and
:class:`~wildlife_desktop.runtime.preprocess.InputSpec`: layout, dtype, normalisation) from
the image decoded as the pipeline decodes it (Pillow draft decode at a detector input scale,
full resolution when that would make a crop smaller than the classifier input; video frames
with :func:`pipeline.video.read_frame` at the same detector input scale, as the pipeline samples
them), so training features match the features at inference.

A crop is kept as its resized ``S x S x 3`` uint8 pixels (``crop_batch`` with a raw uint8 NHWC
spec and the pack's resize filter), which :func:`crops_to_tensor` turns into the model's input
bit-for-bit as ``crop_batch`` would (NCHW float32 mean/std for a ResNet, the uint8 NHWC pixels
themselves for MobileNetV2): the validation crops are re-run through the exported (and int8)
models without decoding again.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from ...core.errors import ImageReadError, ModelLoadError
from ...core.records import BBox
from ...pipeline.images import load_image
from ...pipeline.video import read_frame
from ...runtime.manifest import ModelManifest
from ...runtime.preprocess import InputSpec, crop_batch, to_tensor
from ...runtime.session import default_intra_threads, make_session, tensor_infos
from ...runtime.store import ModelStore, sha256_file
from .dataset import CropExample
from .graph import FeatureTap, find_features, with_features_output

#: Decode scale of the crop source: the input size of the usual detectors (MDv6, MDv1000); the
#: pipeline decodes at the detector's input scale and crops from that unless a crop would be
#: smaller than the classifier input.
DECODE_TARGET = 640
#: Crops per onnxruntime call for a model with a dynamic batch dimension.
BATCH = 16
#: Manifest ``extra`` key naming the base graph's feature tensor (when it is not ``features``).
FEATURES_KEY = "features_output"


@dataclass(frozen=True, eq=False)
class BaseModel:
    """An installed classifier pack opened for fine-tuning (sha256 checked), and how to feed it."""

    manifest: ModelManifest
    path: Path
    proto: onnx.ModelProto
    tap: FeatureTap
    spec: InputSpec  # the manifest's input description (dtype from the file when the manifest names none)


def open_base(store: ModelStore, model_id: str) -> BaseModel:
    """Load and check the base pack; find its features.

    Raises:
        ModelLoadError: not installed, not a classifier, damaged (sha256), or no usable features.
    """
    m, path = store.get(model_id)
    if m.task != "classification":
        raise ModelLoadError(f"Model '{model_id}' is a {m.task} model; fine-tuning needs a classifier as its base.")
    if not path.is_file():
        raise ModelLoadError(f"Model '{model_id}': its file {m.file} is missing. Re-import the model pack.")
    if sha256_file(path) != m.sha256:
        raise ModelLoadError(f"Model '{model_id}': file {m.file} does not match its manifest (damaged or replaced).")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises several unrelated types
        raise ModelLoadError(f"Model '{model_id}': cannot read {m.file} as ONNX ({exc})") from exc
    named = m.extra_dict().get(FEATURES_KEY)
    tap = find_features(proto, model_id, features=named if isinstance(named, str) and named else None,
                        output=m.output)
    inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    elem = inputs[0].type.tensor_type.elem_type if inputs else onnx.TensorProto.FLOAT
    onnx_dtype = {onnx.TensorProto.FLOAT16: np.float16, onnx.TensorProto.UINT8: np.uint8}.get(elem, np.float32)
    try:
        spec = m.input_spec(onnx_dtype)
    except ValueError as exc:
        raise ModelLoadError(f"Model '{model_id}': its manifest's input description does not fit ({exc})") from exc
    return BaseModel(m, path, proto, tap, spec)


class FeatureExtractor:
    """The base model's ``(logits, features)`` for prepared crop tensors, in batches."""

    def __init__(self, base: BaseModel, work_dir: Path, *, intra_threads: int | None = None):
        path = base.path
        if not base.tap.is_output:
            path = Path(work_dir) / "base_with_features.onnx"
            onnx.save(with_features_output(base.proto, base.tap), str(path))
        self.session = make_session(path, intra_threads=intra_threads)
        threads = intra_threads or default_intra_threads()
        #: concurrent runs: cores / session threads (``InferenceSession.run`` releases the GIL)
        self.parallel = max(1, (os.cpu_count() or 1) // max(1, threads))
        inputs = tensor_infos(self.session.get_inputs())
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelLoadError(f"Model '{base.manifest.id}': expected one 4-D image input")
        self.input = inputs[0]
        self.outputs = [base.tap.logits, base.tap.features]
        self.spec = base.spec
        fixed = self.input.fixed_hw_in(base.spec.layout)
        self.size = fixed[0] if fixed is not None else base.manifest.input_size
        self.fixed_batch = self.input.fixed_batch
        self.batch = self.fixed_batch or BATCH
        self.dtype = base.spec.dtype

    def run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prepared crops (``[N, 3, S, S]``, or NHWC) -> base outputs ``[N, C]`` and features ``[N, D]`` (float32).

        The base outputs are what the manifest's output holds (logits, or probabilities); features of
        any shape are flattened per crop (``[N, 1280, 1, 1]`` -> ``[N, 1280]``).
        """
        logits, feats = [], []
        for start in range(0, tensor.shape[0], self.batch):
            chunk = tensor[start : start + self.batch].astype(self.dtype, copy=False)
            n = chunk.shape[0]
            if self.fixed_batch and n < self.fixed_batch:
                chunk = np.concatenate([chunk, np.zeros((self.fixed_batch - n, *chunk.shape[1:]), chunk.dtype)])
            lo, fe = self.session.run(self.outputs, {self.input.name: chunk})
            logits.append(np.asarray(lo, np.float32).reshape(chunk.shape[0], -1)[:n])
            fe = np.asarray(fe, np.float32).reshape(chunk.shape[0], -1)[:n]
            feats.append(fe)
        return np.concatenate(logits), np.concatenate(feats)


def crops_u8(image: np.ndarray, boxes: Sequence[BBox], size: int, resize_filter: str = "area") -> np.ndarray:
    """Square crops of ``boxes`` resized as the classifier resizes them: ``[N, S, S, 3]`` uint8 RGB."""
    pixels = InputSpec(layout="nhwc", normalisation="raw", dtype=np.uint8, resize_filter=resize_filter)
    return crop_batch(image, boxes, size, spec=pixels)


def crops_to_tensor(crops: np.ndarray, spec: InputSpec) -> np.ndarray:
    """``[N, S, S, 3]`` uint8 RGB crops -> the classifier's input as ``spec`` says (bit-for-bit ``crop_batch``)."""
    return to_tensor(np.asarray(crops, dtype=np.uint8), spec)


def cut_crops(
    path: Path, boxes: Sequence[BBox], frame: int | None, size: int, *, video: bool, resize_filter: str = "area"
) -> np.ndarray:
    """Decode ``path`` (or its video ``frame``) like the pipeline and cut the crops of ``boxes``.

    Raises:
        ImageReadError: the file cannot be decoded.
    """
    if video:
        return crops_u8(read_frame(path, frame or 0, target=DECODE_TARGET), boxes, size, resize_filter)
    img = load_image(path, target=DECODE_TARGET)
    if img.scale < 1.0:
        h, w = img.array.shape[:2]
        if any(max(b.w * w, b.h * h) < size for b in boxes):
            img = load_image(path)
    return crops_u8(img.array, boxes, size, resize_filter)


@dataclass
class FeatureSet:
    """What extraction produced, per example index (rows of failed examples are unused)."""

    features: np.ndarray  # [N, D] float32
    flipped: dict[int, np.ndarray] = field(default_factory=dict)  # example index -> [D] (train crops)
    base_logits: np.ndarray | None = None  # [N, C_base]
    crops: dict[int, np.ndarray] = field(default_factory=dict)  # example index -> [S, S, 3] uint8 (kept ones)
    ok: np.ndarray | None = None  # [N] bool
    skipped: list[str] = field(default_factory=list)


def extract_features(
    examples: Sequence[CropExample],
    extractor: FeatureExtractor,
    *,
    flip: set[int] | frozenset[int] = frozenset(),
    keep_crops: set[int] | frozenset[int] = frozenset(),
) -> Generator[int, None, FeatureSet]:
    """Features of every example's crop (and of the mirrored crop for the indices in ``flip``).

    Files are decoded ahead on a worker thread while onnxruntime runs; on a machine with cores to
    spare beyond one session's threads (2 cores: two single-threaded runs), batches run
    concurrently, as the pipeline's predictions do. Yields the number of examples done after every
    onnxruntime call, in order (stop by not resuming: cancellation). A file that cannot be decoded,
    or a crop whose features are not finite, is skipped with its reason (``FeatureSet.skipped``,
    ``ok`` False).
    """
    n = len(examples)
    by_file: dict[tuple[str, str, int | None], list[int]] = {}
    for i, e in enumerate(examples):
        by_file.setdefault((str(e.folder), e.rel_path, e.frame if e.is_video else None), []).append(i)
    files = list(by_file.items())
    size = extractor.size
    ok = np.zeros(n, dtype=bool)
    result = FeatureSet(features=np.zeros((n, 0), np.float32), ok=ok)
    feats: np.ndarray | None = None
    base_logits: np.ndarray | None = None
    pending: list[tuple[int, bool, np.ndarray]] = []  # (example index, flipped, [S,S,3] crop)
    done = 0

    def prepare(key: tuple[str, str, int | None], idx: list[int]) -> np.ndarray | ImageReadError:
        e = examples[idx[0]]
        try:
            return cut_crops(e.path, [examples[i].bbox for i in idx], key[2], size, video=e.is_video,
                             resize_filter=extractor.spec.resize_filter)
        except ImageReadError as exc:
            return exc
        except OSError as exc:
            return ImageReadError(str(exc))

    def submit() -> None:
        tags = [(i, flipped) for i, flipped, _ in pending]
        tensor = crops_to_tensor(np.stack([c for _, _, c in pending]), extractor.spec)
        pending.clear()
        inflight.append((tags, infer_pool.submit(extractor.run, tensor)))

    def collect() -> int:
        nonlocal feats, base_logits
        tags, fut = inflight.popleft()
        lo, fe = fut.result()
        if feats is None:
            feats = np.zeros((n, fe.shape[1]), np.float32)
            base_logits = np.zeros((n, lo.shape[1]), np.float32)
        assert base_logits is not None
        finished = 0
        finite = np.isfinite(fe).all(axis=1)
        for row, (i, flipped) in enumerate(tags):
            if flipped:
                if finite[row]:
                    result.flipped[i] = fe[row]
                continue
            finished += 1
            if not finite[row]:  # e.g. a float16 overflow: one such row would turn the whole head into NaN
                e = examples[i]
                where = e.rel_path if e.frame is None else f"{e.rel_path} frame {e.frame}"
                result.skipped.append(f"{where}: the base model gave non-finite features for this crop")
                result.crops.pop(i, None)
                continue
            feats[i] = fe[row]
            base_logits[i] = lo[row]
            ok[i] = True
        return finished

    slots = extractor.parallel
    inflight: deque[tuple[list[tuple[int, bool]], Future[tuple[np.ndarray, np.ndarray]]]] = deque()
    decode_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finetune-decode")
    infer_pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="finetune-features")
    decoded: list[Future[np.ndarray | ImageReadError]] = []
    try:
        ahead = 1 + slots
        for j in range(min(ahead, len(files))):
            decoded.append(decode_pool.submit(prepare, *files[j]))
        for j, (key, idx) in enumerate(files):
            got = decoded[j].result()
            if j + ahead < len(files):
                decoded.append(decode_pool.submit(prepare, *files[j + ahead]))
            if isinstance(got, ImageReadError):
                where = key[1] if key[2] is None else f"{key[1]} frame {key[2]}"
                result.skipped.append(f"{where}: {got}")
                done += len(idx)
                yield done
                continue
            for row, i in enumerate(idx):
                pending.append((i, False, got[row]))
                if i in flip:
                    pending.append((i, True, np.ascontiguousarray(got[row][:, ::-1])))
                if i in keep_crops:
                    result.crops[i] = got[row]
            if len(pending) >= extractor.batch:
                submit()
            while len(inflight) >= slots:
                done += collect()
                yield done
        if pending:
            submit()
        while inflight:
            done += collect()
            yield done
    finally:
        for f in decoded:
            f.cancel()
        for _, f in inflight:
            f.cancel()
        decode_pool.shutdown(wait=True)
        infer_pool.shutdown(wait=True)
    result.features = feats if feats is not None else np.zeros((n, 0), np.float32)
    result.base_logits = base_logits
    return result
