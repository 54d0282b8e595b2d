"""Torch vs ONNX parity on real images, decoded with the application's own runtime code.

Detectors: each image is letterboxed exactly as the runtime does, both outputs are decoded by the
family decoder (confidence floor, NMS), and every box of either side must have a partner of the
same class at IoU >= 0.99 with |delta conf| < 1e-3. A box whose score lies within the confidence
tolerance of the floor may exist on one side only (it crossed the floor by rounding); such boxes
are counted as ``borderline``, never silently matched.
Classifiers: crops of each image, softmax (or sigmoid) probabilities within 1e-3, same top-1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

from ...core.records import BBox
from ...runtime.classifier import logits_to_probs
from ...runtime.families import FAMILIES
from ...runtime.manifest import ModelManifest
from ...runtime.postprocess import Candidates
from ...runtime.preprocess import crop_batch, letterbox

IOU_MIN = 0.99
CONF_TOL = 1e-3
PROB_TOL = 1e-3

TorchFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ParityReport:
    """Parity figures written into the pack (``parity.json`` and ``manifest.extra.parity``)."""

    kind: str  # "detection" or "classification"
    images: int
    passed: bool
    iou_min_required: float
    conf_tol: float
    torch_boxes: int = 0
    onnx_boxes: int = 0
    matched: int = 0
    unmatched: int = 0
    borderline: int = 0
    min_iou: float | None = None
    max_conf_diff: float | None = None
    max_prob_diff: float | None = None
    top1_agree: int = 0
    crops: int = 0
    max_raw_abs_diff: float = 0.0
    input_shapes: tuple[tuple[int, int], ...] = ()
    conf_floor: float = 0.0
    failures: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shapes"] = [list(s) for s in self.input_shapes]
        d["failures"] = list(self.failures)
        return d


def read_rgb(path: Path) -> np.ndarray:
    """RGB uint8 array with EXIF orientation applied (as the application reads images)."""
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (K,4) against every box in ``b`` (M,4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match(t: Candidates, o: Candidates, floor: float) -> tuple[int, int, int, list[float], list[float]]:
    """Greedy one-to-one matching (highest torch score first). Returns matched, unmatched,
    borderline, IoUs and |delta conf| of the matches."""
    iou = _iou_xyxy(t.boxes, o.boxes)
    used = np.zeros(len(o), dtype=bool)
    matched = unmatched = borderline = 0
    ious: list[float] = []
    dconf: list[float] = []
    for i in np.argsort(-t.scores, kind="stable"):
        ok = (~used) & (o.classes == t.classes[i]) & (np.abs(o.scores - t.scores[i]) < CONF_TOL)
        cand = np.where(ok, iou[i] if len(o) else 0.0, -1.0)
        j = int(np.argmax(cand)) if len(o) else -1
        if j >= 0 and cand[j] >= IOU_MIN:
            used[j] = True
            matched += 1
            ious.append(float(iou[i, j]))
            dconf.append(float(abs(o.scores[j] - t.scores[i])))
        elif t.scores[i] < floor + CONF_TOL:
            borderline += 1
        else:
            unmatched += 1
    for j in np.where(~used)[0]:
        if o.scores[j] < floor + CONF_TOL:
            borderline += 1
        else:
            unmatched += 1
    return matched, unmatched, borderline, ious, dconf


def _session(onnx_path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def detector_input(path: Path, manifest: ModelManifest, letterbox_mode: str) -> tuple[np.ndarray, Any]:
    """The letterboxed input tensor of one image (and its transform), as the runtime makes it."""
    return letterbox(read_rgb(path), manifest.input_size, mode=letterbox_mode, stride=manifest.stride)


def classifier_input(path: Path, manifest: ModelManifest) -> np.ndarray:
    """The batch of crops of one image that the classifier parity compares."""
    return crop_batch(read_rgb(path), _crop_boxes(), manifest.input_size, manifest.mean, manifest.std)


def parity_inputs(manifest: ModelManifest, images: Sequence[Path], letterbox_mode: str) -> list[np.ndarray]:
    """Every array the parity check gives the torch model, in order (for an isolated export)."""
    if manifest.task == "detection":
        return [detector_input(p, manifest, letterbox_mode)[0] for p in images]
    return [classifier_input(p, manifest) for p in images]


def detector_parity(torch_fn: TorchFn, onnx_path: Path, manifest: ModelManifest, images: Sequence[Path],
                    *, conf_floor: float = 0.05, letterbox_mode: str = "classic") -> ParityReport:
    """Compare torch and ONNX detections on ``images`` (see the module docstring)."""
    spec = FAMILIES[manifest.family]
    assert spec.decoder is not None
    sess = _session(onnx_path)
    name = sess.get_inputs()[0].name
    tb = ob = matched = unmatched = borderline = 0
    ious: list[float] = []
    dconf: list[float] = []
    raw_diff = 0.0
    shapes: list[tuple[int, int]] = []
    failures: list[str] = []
    for path in images:
        tensor, tr = detector_input(path, manifest, letterbox_mode)
        shapes.append((int(tensor.shape[2]), int(tensor.shape[3])))
        raw_t = np.asarray(torch_fn(tensor), dtype=np.float32)
        raw_o = np.asarray(sess.run(None, {name: tensor})[0], dtype=np.float32)
        if raw_t.shape != raw_o.shape:
            failures.append(f"{path.name}: output shape torch {raw_t.shape} vs onnx {raw_o.shape}")
            continue
        raw_diff = max(raw_diff, float(np.max(np.abs(raw_t - raw_o))) if raw_t.size else 0.0)
        kw = dict(conf_floor=conf_floor, nms_iou=manifest.nms_iou, input_hw=(tr.input_h, tr.input_w))
        ct, co = spec.decoder(raw_t, **kw), spec.decoder(raw_o, **kw)
        tb, ob = tb + len(ct), ob + len(co)
        m, u, b, i, d = _match(ct, co, conf_floor)
        matched, unmatched, borderline = matched + m, unmatched + u, borderline + b
        ious += i
        dconf += d
        if u:
            failures.append(f"{path.name}: {u} boxes without a partner (IoU >= {IOU_MIN}, |dconf| < {CONF_TOL})")
    passed = not failures and len(shapes) == len(images) and len(images) > 0
    return ParityReport(
        kind="detection", images=len(images), passed=passed, iou_min_required=IOU_MIN, conf_tol=CONF_TOL,
        torch_boxes=tb, onnx_boxes=ob, matched=matched, unmatched=unmatched, borderline=borderline,
        min_iou=min(ious) if ious else None, max_conf_diff=max(dconf) if dconf else None,
        max_raw_abs_diff=raw_diff, input_shapes=tuple(shapes), conf_floor=conf_floor, failures=tuple(failures),
    )


def _crop_boxes() -> list[BBox]:
    return [BBox(0.0, 0.0, 1.0, 1.0), BBox(0.25, 0.25, 0.5, 0.5), BBox(0.05, 0.4, 0.3, 0.2)]


def classifier_parity(torch_fn: TorchFn, onnx_path: Path, manifest: ModelManifest,
                      images: Sequence[Path]) -> ParityReport:
    """Compare torch and ONNX class probabilities on three crops of every image."""
    sess = _session(onnx_path)
    name = sess.get_inputs()[0].name
    out_name = sess.get_outputs()[0].name
    max_p = raw_diff = 0.0
    agree = crops = 0
    failures: list[str] = []
    for path in images:
        batch = classifier_input(path, manifest)
        lt = np.asarray(torch_fn(batch), dtype=np.float32)
        lo = np.asarray(sess.run([out_name], {name: batch})[0], dtype=np.float32)
        raw_diff = max(raw_diff, float(np.max(np.abs(lt - lo))))
        pt, po = logits_to_probs(lt), logits_to_probs(lo)
        diff = float(np.max(np.abs(pt - po)))
        max_p = max(max_p, diff)
        same = int(np.sum(pt.argmax(1) == po.argmax(1)))
        agree += same
        crops += len(batch)
        if diff >= PROB_TOL or same != len(batch):
            failures.append(f"{path.name}: max |dp| {diff:.2e}, top-1 agrees on {same}/{len(batch)} crops")
    return ParityReport(
        kind="classification", images=len(images), passed=not failures and crops > 0, iou_min_required=IOU_MIN,
        conf_tol=PROB_TOL, max_prob_diff=max_p, top1_agree=agree, crops=crops, max_raw_abs_diff=raw_diff,
        failures=tuple(failures),
    )
