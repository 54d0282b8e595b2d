"""Detector output decoding, NMS and conversion to :class:`~wildlife_desktop.core.records.Detection`.

Every decoder takes the raw output of a model (batch of 1; a sequence of outputs for a family
whose head writes several, ordered as its :class:`~.families.GridOutputs` says) and returns
:class:`Candidates`: boxes as x1, y1, x2, y2 in *input-tensor* pixels, scores and class indices,
already filtered by the confidence floor, de-duplicated (NMS) where the family needs it, sorted by
score and capped at ``max_det``. :func:`to_detections` then maps them to the original image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from ..core.records import BBox, Detection
from .preprocess import LetterboxTransform

CONF_DIGITS: Final[int] = 3
COORD_DIGITS: Final[int] = 4
MAX_DETECTIONS: Final[int] = 300
MAX_NMS_CANDIDATES: Final[int] = 30000


@dataclass(frozen=True)
class Candidates:
    """Decoded boxes before mapping back to the image (all arrays have length K)."""

    boxes: np.ndarray  # (K, 4) float64 x1, y1, x2, y2 in input pixels
    scores: np.ndarray  # (K,) float64
    classes: np.ndarray  # (K,) int64, 0-based

    def __len__(self) -> int:
        return int(self.scores.shape[0])


class Decoder(Protocol):
    """Signature shared by all decoders."""

    def __call__(
        self,
        output: Any,
        /,
        *,
        conf_floor: float,
        nms_iou: float,
        input_hw: tuple[int, int],
        max_det: int = MAX_DETECTIONS,
    ) -> Candidates: ...


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """Centre/size boxes ``[K, 4]`` to corner boxes (float64, new array)."""
    xywh = np.asarray(xywh, dtype=np.float64)
    out = np.empty_like(xywh)
    half_w, half_h = xywh[:, 2] / 2, xywh[:, 3] / 2
    out[:, 0] = xywh[:, 0] - half_w
    out[:, 1] = xywh[:, 1] - half_h
    out[:, 2] = xywh[:, 0] + half_w
    out[:, 3] = xywh[:, 1] + half_h
    return out


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int | None = None
) -> np.ndarray:
    """Greedy non-maximum suppression (class-agnostic), vectorised per kept box.

    A box is suppressed when its IoU with a higher-scoring kept box is above ``iou_threshold``
    (torchvision semantics).

    Args:
        boxes: ``[K, 4]`` x1, y1, x2, y2.
        scores: ``[K]``.
        iou_threshold: IoU above which the lower-scoring box is dropped.
        max_keep: stop after this many boxes.

    Returns:
        Indices of kept boxes, highest score first.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if max_keep is not None and len(keep) >= max_keep:
            break
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    iou_threshold: float,
    max_keep: int | None = None,
) -> np.ndarray:
    """Per-class NMS in one pass: boxes of different classes are shifted apart so they never overlap."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    span = 2.0 * float(np.abs(boxes).max()) + 1.0
    shifted = boxes + (np.asarray(classes, dtype=np.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold, max_keep)


def _empty() -> Candidates:
    return Candidates(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))


def _squeeze_batch(output: npt.ArrayLike, family: str, cols: str) -> np.ndarray:
    out = np.asarray(output)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"{family} output must be [1, {cols}], got shape {tuple(np.shape(output))}")
    return out


def _nms_path(boxes_xywh: np.ndarray, cls_scores: np.ndarray, conf_floor: float, nms_iou: float,
              max_det: int) -> Candidates:
    """Best class per row, confidence floor, top-``MAX_NMS_CANDIDATES``, per-class NMS."""
    if cls_scores.shape[0] == 0 or cls_scores.shape[1] == 0:
        return _empty()
    classes = np.argmax(cls_scores, axis=1)
    scores = np.take_along_axis(cls_scores, classes[:, None], axis=1)[:, 0].astype(np.float64)
    keep = np.flatnonzero(scores >= conf_floor)
    if keep.size > MAX_NMS_CANDIDATES:
        keep = keep[np.argsort(-scores[keep], kind="stable")[:MAX_NMS_CANDIDATES]]
    boxes = xywh_to_xyxy(boxes_xywh[keep])
    scores, classes = scores[keep], classes[keep].astype(np.int64)
    idx = batched_nms(boxes, scores, classes, nms_iou, max_keep=max_det)
    return Candidates(boxes[idx], scores[idx], classes[idx])


def decode_yolov5(output: np.ndarray, *, conf_floor: float, nms_iou: float, input_hw: tuple[int, int],
                  max_det: int = MAX_DETECTIONS) -> Candidates:
    """YOLOv5 / MDv5: ``[1, N, 5+nc]`` = cx, cy, w, h (input px), objectness, class probs.

    Score is ``obj x class_prob`` for the best class of each row.
    """
    pred = _squeeze_batch(output, "yolov5", "N, 5+nc")
    if pred.shape[1] < 6:
        raise ValueError(f"yolov5 output needs at least 6 columns, got {pred.shape[1]}")
    obj = pred[:, 4]
    rows = np.flatnonzero(obj >= conf_floor)  # score <= obj, so this only drops hopeless rows
    pred = pred[rows]
    cls_scores = pred[:, 5:].astype(np.float64) * pred[:, 4:5].astype(np.float64)
    return _nms_path(pred[:, :4], cls_scores, conf_floor, nms_iou, max_det)


def decode_yolov8(output: np.ndarray, *, conf_floor: float, nms_iou: float, input_hw: tuple[int, int],
                  max_det: int = MAX_DETECTIONS) -> Candidates:
    """YOLOv8/v9 (and YOLOv10 one-to-many): ``[1, 4+nc, A]`` = cx, cy, w, h + class scores."""
    pred = _squeeze_batch(output, "yolov8", "4+nc, A")
    if pred.shape[0] < 5:
        raise ValueError(f"yolov8 output needs at least 5 rows, got {pred.shape[0]}")
    pred = pred.T
    return _nms_path(pred[:, :4], pred[:, 4:], conf_floor, nms_iou, max_det)


def _sorted_capped(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, conf_floor: float,
                   max_det: int) -> Candidates:
    keep = np.flatnonzero((scores >= conf_floor) & (classes >= 0))
    keep = keep[np.argsort(-scores[keep], kind="stable")][:max_det]
    return Candidates(boxes[keep].astype(np.float64), scores[keep].astype(np.float64),
                      classes[keep].astype(np.int64))


def decode_yolov10(output: np.ndarray, *, conf_floor: float, nms_iou: float, input_hw: tuple[int, int],
                   max_det: int = MAX_DETECTIONS) -> Candidates:
    """YOLOv10 end-to-end: ``[1, 300, 6]`` = x1, y1, x2, y2 (input px), score, class. No NMS."""
    pred = _squeeze_batch(output, "yolov10", "300, 6")
    if pred.shape[1] != 6:
        raise ValueError(f"yolov10 output must have 6 columns, got {pred.shape[1]}")
    classes = np.rint(pred[:, 5]).astype(np.int64)
    return _sorted_capped(pred[:, :4], pred[:, 4].astype(np.float64), classes, conf_floor, max_det)


def decode_rtdetr(output: np.ndarray, *, conf_floor: float, nms_iou: float, input_hw: tuple[int, int],
                  max_det: int = MAX_DETECTIONS) -> Candidates:
    """RT-DETR: ``[1, Q, 4+nc]`` = cx, cy, w, h normalised to the input, class scores. No NMS.

    Scores outside 0..1 are taken as logits and passed through a sigmoid.
    """
    pred = _squeeze_batch(output, "rtdetr", "Q, 4+nc")
    if pred.shape[1] < 5:
        raise ValueError(f"rtdetr output needs at least 5 columns, got {pred.shape[1]}")
    cls_scores = pred[:, 4:].astype(np.float64)
    if cls_scores.size and (cls_scores.min() < 0.0 or cls_scores.max() > 1.0):
        cls_scores = 1.0 / (1.0 + np.exp(-cls_scores))
    in_h, in_w = input_hw
    boxes = xywh_to_xyxy(pred[:, :4]) * np.array([in_w, in_h, in_w, in_h], dtype=np.float64)
    classes = np.argmax(cls_scores, axis=1) if cls_scores.shape[0] else np.zeros(0, dtype=np.int64)
    scores = cls_scores[np.arange(cls_scores.shape[0]), classes] if cls_scores.shape[0] else np.zeros(0)
    return _sorted_capped(boxes, scores, classes, conf_floor, max_det)


#: NanoDet (GFL head): one score and one box-distribution output per stride; 11 bins per side.
NANODET_STRIDES: Final[tuple[int, ...]] = (8, 16, 32)
NANODET_REG_MAX: Final[int] = 10


def decode_gfl(outputs: Sequence[np.ndarray], *, conf_floor: float, nms_iou: float, input_hw: tuple[int, int],
               max_det: int = MAX_DETECTIONS, strides: Sequence[int] = NANODET_STRIDES,
               reg_max: int = NANODET_REG_MAX) -> Candidates:
    """NanoDet / GFL head: per stride ``s`` a score output ``[1, n, nc]`` (sigmoid already) and a
    box output ``[1, n, 4 * (reg_max + 1)]``, ``n = ceil(H/s) * ceil(W/s)`` cells in row-major order.

    Each side (left, top, right, bottom) is a distribution over ``reg_max + 1`` bins: softmax,
    expectation, times the stride = the distance from the cell centre ``((i % n_w) + 0.5) * s,
    ((i // n_w) + 0.5) * s`` to that edge, in input pixels. Best class per cell, per-class NMS.

    Args:
        outputs: ``[scores_s0, boxes_s0, scores_s1, boxes_s1, ...]`` in the order of ``strides``.
    """
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if len(outs) != 2 * len(strides):
        raise ValueError(f"a GFL head needs {2 * len(strides)} outputs (scores and boxes for strides "
                         f"{list(strides)}), got {len(outs)}")
    in_h, in_w = input_hw
    bins = reg_max + 1
    proj = np.arange(bins, dtype=np.float64)
    all_boxes: list[np.ndarray] = []
    all_scores: list[np.ndarray] = []
    for k, stride in enumerate(strides):
        scores = _squeeze_batch(outs[2 * k], "nanodet", "cells, classes")
        dist = _squeeze_batch(outs[2 * k + 1], "nanodet", f"cells, {4 * bins}")
        n_w, n_h = -(-in_w // stride), -(-in_h // stride)
        if scores.shape[0] != n_w * n_h or dist.shape != (n_w * n_h, 4 * bins):
            raise ValueError(f"stride {stride}: expected scores [{n_w * n_h}, nc] and boxes "
                             f"[{n_w * n_h}, {4 * bins}], got {list(scores.shape)} and {list(dist.shape)}")
        best = scores.max(axis=1) if scores.shape[1] else np.zeros(scores.shape[0])
        rows = np.flatnonzero(best >= conf_floor)
        if rows.size == 0:
            continue
        d = dist[rows].astype(np.float64).reshape(-1, 4, bins)
        d = np.exp(d - d.max(axis=2, keepdims=True))
        sides = (d @ proj) / d.sum(axis=2) * stride  # (R, 4): left, top, right, bottom
        cx = (rows % n_w + 0.5) * stride
        cy = (rows // n_w + 0.5) * stride
        all_boxes.append(np.stack([cx - sides[:, 0], cy - sides[:, 1], cx + sides[:, 2], cy + sides[:, 3]], axis=1))
        all_scores.append(scores[rows].astype(np.float64))
    if not all_boxes:
        return _empty()
    boxes, cls_scores = np.concatenate(all_boxes), np.concatenate(all_scores)
    xywh = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                            boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    return _nms_path(xywh, cls_scores, conf_floor, nms_iou, max_det)


def decode_nanodet(outputs: Sequence[np.ndarray], *, conf_floor: float, nms_iou: float, input_hw: tuple[int, int],
                   max_det: int = MAX_DETECTIONS) -> Candidates:
    """NanoDet COCO: :func:`decode_gfl` with strides 8/16/32 and 11 bins per side."""
    return decode_gfl(outputs, conf_floor=conf_floor, nms_iou=nms_iou, input_hw=input_hw, max_det=max_det)


def map_categories(cands: Candidates, class_to_category: np.ndarray, floors: np.ndarray, nms_iou: float
                   ) -> Candidates:
    """Model classes to detector categories (e.g. COCO "car" -> vehicle), as a pack's manifest maps them.

    Boxes of unmapped classes (``-1``) and boxes below their category's floor are dropped; boxes
    that now share a category (a "car" and a "truck" on one vehicle) go through NMS again.

    Args:
        class_to_category: ``[n_classes]`` 0-based category index per model class, ``-1`` = drop.
        floors: ``[n_categories]`` minimum confidence per category.
    """
    if len(cands) == 0:
        return cands
    cats = class_to_category[cands.classes]
    keep = np.flatnonzero(cats >= 0)
    keep = keep[cands.scores[keep] >= floors[cats[keep]]]
    boxes, scores, cats = cands.boxes[keep], cands.scores[keep], cats[keep].astype(np.int64)
    idx = batched_nms(boxes, scores, cats, nms_iou)
    return Candidates(boxes[idx], scores[idx], cats[idx])


def to_detections(cands: Candidates, transform: LetterboxTransform, *, round_pixels: bool = True
                  ) -> list[Detection]:
    """Map decoded boxes back to the original image as normalised MegaDetector-style detections.

    Undo the letterbox, clip to the image, optionally round to whole pixels (as MegaDetector's
    ``scale_coords(...).round()``), normalise to ``[x_min, y_min, w, h]``, round the confidence to
    ``CONF_DIGITS`` and coordinates to ``COORD_DIGITS``, drop boxes of zero area.

    Args:
        cands: decoder output.
        transform: the letterbox used to make the input tensor.
        round_pixels: round corners to whole original-image pixels before normalising.

    Returns:
        Detections, category ``str(class_index + 1)``, sorted by confidence descending.
    """
    if len(cands) == 0:
        return []
    w, h = transform.image_w, transform.image_h
    boxes = transform.to_image(cands.boxes)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
    if round_pixels:
        boxes = np.round(boxes)
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(cands.scores)
    order = np.argsort(-cands.scores, kind="stable")
    result: list[Detection] = []
    for i in order:
        if not finite[i]:
            continue
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        bw = round((x2 - x1) / w, COORD_DIGITS)
        bh = round((y2 - y1) / h, COORD_DIGITS)
        if bw <= 0 or bh <= 0:
            continue
        bbox = BBox(round(x1 / w, COORD_DIGITS), round(y1 / h, COORD_DIGITS), bw, bh)
        conf = round(float(cands.scores[i]), CONF_DIGITS)
        result.append(Detection(category=str(int(cands.classes[i]) + 1), confidence=conf, bbox=bbox))
    return result
