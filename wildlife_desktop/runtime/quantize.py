"""Static int8 (QDQ) quantisation calibrated on real camera-trap images, with a safety verdict.

:func:`quantize_static_model` writes an int8 copy of a detector or classifier and compares it
with the fp32 original on evaluation images. A quantised model may replace the fp32 one only
when :attr:`QuantReport.safe_default` is true: every output finite (dynamic int8 made RT-DETR
output NaN), measurably faster here (dynamic int8 made YOLOv10n *slower*), and boxes that agree
with fp32 (greedy matching, same class, IoU >= 0.5, F1 >= 0.99) at the typical threshold.

Only the network body is quantised: nodes after the last convolution (box decoding, sigmoid,
top-k, concatenation of pixel coordinates with scores and class indices) stay in float. A
uint8 tensor cannot hold pixel coordinates, scores near 0 and class indices at once, and
quantising that tail zeroes every score.

With random-weight twins the typical-threshold comparison is mostly vacuous (few boxes score
above 0.2), so the report also gives agreement at a low threshold (default 0.01), and the
verdict falls back to it when the typical threshold has too few reference boxes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..core.errors import ModelLoadError
from ..core.records import BBox
from .families import FAMILIES
from .manifest import IMAGENET_MEAN, IMAGENET_STD
from .postprocess import MAX_DETECTIONS, Candidates
from .preprocess import InputSpec, crop_batch, letterbox
from .session import make_session

ImageInput = Path | str | np.ndarray


@dataclass(frozen=True)
class QuantReport:
    """What quantisation did and whether the int8 model may be the default.

    ``f1_vs_fp32`` is box agreement at ``threshold`` for detectors and top-1 agreement for
    classifiers; ``f1_low`` the same at ``low_threshold`` (detectors; equals ``f1_vs_fp32``
    for classifiers). ``boxes_fp32``/``boxes_fp32_low`` count the fp32 reference boxes the F1
    values rest on: with 0 boxes the F1 is 1.0 by convention and says nothing.
    """

    family: str
    src: str
    dst: str
    fp32_ms: float
    int8_ms: float
    speedup: float
    finite: bool
    f1_vs_fp32: float
    f1_low: float
    threshold: float
    low_threshold: float
    boxes_fp32: int
    boxes_fp32_low: int
    n_calibration: int
    n_eval: int
    quantized_nodes: int
    excluded_nodes: int
    safe_default: bool
    reason: str

    def agreement(self) -> dict[str, Any]:
        """The figures a model manifest can carry (``extra["int8"]``)."""
        d = asdict(self)
        for k in ("src", "dst"):
            d.pop(k)
        d["method"] = "onnxruntime static QDQ, u8 activations / s8 per-channel weights, MinMax"
        d["iou"] = 0.5
        return d


def _as_array(image: ImageInput, target: int) -> np.ndarray:
    """A calibration image as RGB uint8; files are draft-decoded near ``target`` (as the pipeline does)."""
    if isinstance(image, np.ndarray):
        return image
    from PIL import Image, ImageOps

    with Image.open(Path(image)) as im:
        if im.format == "JPEG":
            im.draft("RGB", (target, target))
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _tensor(image: np.ndarray, family: str, hw: tuple[int, int], input_spec: InputSpec | None = None) -> np.ndarray:
    spec = FAMILIES[family]
    if spec.task == "classification":
        return crop_batch(image, [BBox(0.0, 0.0, 1.0, 1.0)], hw[0], IMAGENET_MEAN, IMAGENET_STD, spec=input_spec)
    mode = spec.default_letterbox or "square"
    return letterbox(image, hw, mode=mode, spec=input_spec)[0]


def _tail_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of nodes from which no convolution is reachable (the decoding tail); Conv itself excluded."""
    graph = model.graph
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for t in node.input:
            consumers.setdefault(t, []).append(i)
    reaches_conv = [False] * len(graph.node)
    # Nodes are topologically sorted in a valid ONNX graph: walk backwards.
    for i in range(len(graph.node) - 1, -1, -1):
        node = graph.node[i]
        if node.op_type in ("Conv", "ConvTranspose"):
            reaches_conv[i] = True
            continue
        reaches_conv[i] = any(
            graph.node[j].op_type in ("Conv", "ConvTranspose") or reaches_conv[j]
            for t in node.output for j in consumers.get(t, [])
        )
    names = []
    for i, node in enumerate(graph.node):
        if not reaches_conv[i] and node.op_type not in ("Conv", "ConvTranspose"):
            if not node.name:
                node.name = f"wd_node_{i}"
            names.append(node.name)
    return names


def match_f1(a: Candidates, b: Candidates, threshold: float, iou: float = 0.5) -> tuple[float, int]:
    """F1 of ``b`` against reference ``a`` above ``threshold``: greedy, same class, IoU >= ``iou``."""
    ka = a.scores >= threshold
    kb = b.scores >= threshold
    ba, ca, sa = a.boxes[ka], a.classes[ka], a.scores[ka]
    bb, cb = b.boxes[kb], b.classes[kb]
    na, nb = len(ba), len(bb)
    if na == 0 and nb == 0:
        return 1.0, 0
    if na == 0 or nb == 0:
        return 0.0, na
    x1 = np.maximum(ba[:, None, 0], bb[None, :, 0])
    y1 = np.maximum(ba[:, None, 1], bb[None, :, 1])
    x2 = np.minimum(ba[:, None, 2], bb[None, :, 2])
    y2 = np.minimum(ba[:, None, 3], bb[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(ba[:, 2] - ba[:, 0], 0, None) * np.clip(ba[:, 3] - ba[:, 1], 0, None)
    area_b = np.clip(bb[:, 2] - bb[:, 0], 0, None) * np.clip(bb[:, 3] - bb[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    ious[ca[:, None] != cb[None, :]] = 0.0
    used = np.zeros(nb, dtype=bool)
    tp = 0
    for i in np.argsort(-sa, kind="stable"):
        row = np.where(used, -1.0, ious[i])
        j = int(np.argmax(row))
        if row[j] >= iou:
            used[j] = True
            tp += 1
    return 2.0 * tp / (na + nb), na


class _Reader:
    """onnxruntime CalibrationDataReader over prepared tensors."""

    def __init__(self, name: str, tensors: list[np.ndarray]):
        self._name = name
        self._it: Iterator[np.ndarray] = iter(tensors)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self._it, None)
        return None if x is None else {self._name: x}


def _time_ms(sessions: Sequence[Any], name: str, tensors: list[np.ndarray], runs: int) -> list[float]:
    """Median ms per run for each session, runs interleaved so machine noise hits both alike."""
    times: list[list[float]] = [[] for _ in sessions]
    for s in sessions:
        s.run(None, {name: tensors[0]})
    for r in range(runs):
        x = tensors[r % len(tensors)]
        for k, s in enumerate(sessions):
            t0 = time.perf_counter()
            s.run(None, {name: x})
            times[k].append((time.perf_counter() - t0) * 1000.0)
    return [float(np.median(t)) for t in times]


def write_int8_qdq(
    src: Path | str, dst: Path | str, input_name: str, calibration: Sequence[np.ndarray]
) -> tuple[int, int]:
    """Write the static int8 (QDQ) copy of ``src`` at ``dst``, calibrated on prepared input tensors.

    The settings of :func:`quantize_static_model` (u8 activations, s8 per-channel weights,
    MinMax; nodes after the last convolution stay float). ``calibration`` holds tensors ready
    for the model's input ``input_name`` (one ``run`` each).

    Returns:
        ``(quantized_nodes, excluded_nodes)``: graph nodes before quantisation, split into
        those eligible for int8 and the float tail.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = Path(src), Path(dst)
    with tempfile.TemporaryDirectory(prefix="wd-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        tail = _tail_nodes(model)
        onnx.save(model, str(pre))
        n_nodes = len(model.graph.node)
        dst.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(
            str(pre), str(dst), _Reader(input_name, list(calibration)), quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=tail,
        )
    return n_nodes - len(tail), len(tail)


def quantize_static_model(
    src: Path | str,
    dst: Path | str,
    calibration_images: Sequence[ImageInput],
    family: str,
    *,
    eval_images: Sequence[ImageInput] | None = None,
    threshold: float = 0.2,
    low_threshold: float = 0.01,
    nms_iou: float = 0.45,
    min_speedup: float = 1.1,
    min_f1: float = 0.99,
    min_boxes: int = 10,
    timing_runs: int = 10,
    intra_threads: int = 1,
    input_spec: InputSpec | None = None,
) -> QuantReport:
    """Quantise ``src`` to int8 QDQ at ``dst`` and compare it with fp32.

    Args:
        src: fp32 ONNX model (fixed input size).
        dst: where to write the int8 model.
        calibration_images: camera-trap images (paths or ``H x W x 3`` uint8 RGB arrays) whose
            activation ranges set the quantisation scales.
        family: model family (:data:`~.families.FAMILIES`), for preprocessing and decoding.
        eval_images: images for the agreement and speed check (default: the calibration images;
            pass held-out images for an honest figure).
        threshold: the typical detection threshold for ``f1_vs_fp32``.
        low_threshold: the second, low threshold (meaningful on random-weight twins).
        nms_iou: NMS IoU for families that need NMS.
        min_speedup: fp32 ms / int8 ms needed for ``safe_default``.
        min_f1: agreement needed for ``safe_default``.
        min_boxes: fewer fp32 boxes than this at ``threshold`` make that F1 vacuous; the verdict then
            uses the low-threshold F1 instead.
        timing_runs: timed runs per model (interleaved).
        intra_threads: onnxruntime threads for the timing (the app uses ``cores - 1``).
        input_spec: how images become input tensors (a manifest's :meth:`~.manifest.ModelManifest.input_spec`);
            default: the classic NCHW float32 RGB input of the MegaDetector families / ImageNet classifiers.

    Returns:
        A :class:`QuantReport`.

    Raises:
        ModelLoadError: unknown family, a family whose head has several outputs (NanoDet),
            unloadable model, or no calibration images.
    """
    spec = FAMILIES.get(family)
    if spec is None:
        raise ModelLoadError(f"Unknown model family {family!r}")
    if spec.outputs is not None:  # the agreement check below decodes the first output only
        raise ModelLoadError(f"Static quantisation of {family!r} models (a head of several outputs) is not supported")
    if not calibration_images:
        raise ModelLoadError("Static quantisation needs at least one calibration image")
    src, dst = Path(src), Path(dst)
    fp32 = make_session(src, intra_threads=intra_threads)
    inp = fp32.get_inputs()[0]
    shape = inp.shape
    if len(shape) != 4 or not all(isinstance(v, int) for v in shape[2:]):
        raise ModelLoadError(f"{src.name}: static quantisation needs a fixed NCHW input, got {shape}")
    hw = (int(shape[2]), int(shape[3]))
    side = max(hw)
    cal = [_tensor(_as_array(im, side), family, hw, input_spec) for im in calibration_images]
    evals = cal if eval_images is None else [_tensor(_as_array(im, side), family, hw, input_spec)
                                             for im in eval_images]

    quantized_nodes, excluded_nodes = write_int8_qdq(src, dst, inp.name, cal)
    int8 = make_session(dst, intra_threads=intra_threads)
    out_name = fp32.get_outputs()[0].name

    finite = True
    f1s: list[float] = []
    f1s_low: list[float] = []
    n_ref = n_ref_low = 0
    agree = 0
    for x in evals:
        ref = np.asarray(fp32.run([out_name], {inp.name: x})[0], dtype=np.float32)
        got = np.asarray(int8.run([out_name], {inp.name: x})[0], dtype=np.float32)
        if not np.isfinite(got).all():
            finite = False
            continue
        if spec.task == "classification":
            agree += int(np.argmax(ref.reshape(ref.shape[0], -1)[0]) == np.argmax(got.reshape(got.shape[0], -1)[0]))
            continue
        assert spec.decoder is not None
        kw: dict[str, Any] = {"conf_floor": low_threshold, "nms_iou": nms_iou, "input_hw": hw,
                              "max_det": MAX_DETECTIONS}
        ca, cb = spec.decoder(ref, **kw), spec.decoder(got, **kw)
        f, n = match_f1(ca, cb, threshold)
        f1s.append(f)
        n_ref += n
        f, n = match_f1(ca, cb, low_threshold)
        f1s_low.append(f)
        n_ref_low += n
    if spec.task == "classification":
        f1 = f1_low = agree / len(evals)
        n_ref = n_ref_low = len(evals)
    else:
        f1 = float(np.mean(f1s)) if f1s else 0.0
        f1_low = float(np.mean(f1s_low)) if f1s_low else 0.0

    fp32_ms, int8_ms = _time_ms([fp32, int8], inp.name, evals, timing_runs)
    speedup = fp32_ms / int8_ms if int8_ms > 0 else 0.0

    reasons = []
    if not finite:
        reasons.append("int8 output has NaN/inf")
    if speedup < min_speedup:
        reasons.append(f"not faster (x{speedup:.2f} < x{min_speedup})")
    if spec.task == "classification" or n_ref >= min_boxes:
        if f1 < min_f1:
            reasons.append(f"F1 vs fp32 {f1:.3f} < {min_f1} at threshold {threshold}")
    else:
        if f1_low < min_f1:
            reasons.append(f"only {n_ref} fp32 boxes at {threshold} (vacuous); F1 at {low_threshold} is "
                           f"{f1_low:.3f} < {min_f1}")
        if n_ref_low < min_boxes:
            reasons.append(f"too few fp32 boxes even at {low_threshold} ({n_ref_low}) to judge agreement")
    return QuantReport(
        family=family, src=str(src), dst=str(dst), fp32_ms=round(fp32_ms, 2), int8_ms=round(int8_ms, 2),
        speedup=round(speedup, 3), finite=finite, f1_vs_fp32=round(f1, 4), f1_low=round(f1_low, 4),
        threshold=threshold, low_threshold=low_threshold, boxes_fp32=n_ref, boxes_fp32_low=n_ref_low,
        n_calibration=len(cal), n_eval=len(evals), quantized_nodes=quantized_nodes, excluded_nodes=excluded_nodes,
        safe_default=not reasons, reason="; ".join(reasons) or "faster, finite and agrees with fp32",
    )
