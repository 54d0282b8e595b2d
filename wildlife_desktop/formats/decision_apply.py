"""Matching decisions to detections, and merging them into an export bundle (:func:`apply_decisions`).

The merge rules are listed in :mod:`.decisions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ..core.records import DETECTION_CATEGORIES, Classification, Detection, Prediction
from .bundle import ExportBundle, ExportItem, detection_id
from .decision_merge import latest_decisions
from .decision_record import (
    BLANK_LABELS,
    MATCH_IOU,
    PERSON_LABELS,
    POSITIVE_KINDS,
    SOURCE_SMOOTHING,
    UNKNOWN_LABEL,
    VEHICLE_LABELS,
    ReviewDecision,
)


def category_for_label(label: str) -> str | None:
    """The detector category a verified label implies ("1" animal, "2" person, "3" vehicle).

    None for "unknown", blank-like labels and "" (the box keeps the detector's category).
    """
    text = label.strip().lower()
    if not text or text == UNKNOWN_LABEL or text in BLANK_LABELS:
        return None
    if text in PERSON_LABELS:
        return "2"
    if text in VEHICLE_LABELS:
        return "3"
    return "1"


def _model_certainty(det: Detection) -> float:
    top = det.top_label_confidence
    return det.confidence if top is None else min(det.confidence, top)


def attach_boxes(decisions: Iterable[ReviewDecision], predictions: Mapping[str, Prediction]) -> tuple[
        tuple[ReviewDecision, ...], int]:
    """Give box-less decisions (a bare CSV row) the box, frame and model label of their detection.

    ``predictions``: a layer's predictions by relative path (the layer the decision was made
    on). Returns the decisions and how many got a box. Decisions that already have a box, and
    file-level ones, are returned unchanged.
    """
    out, n = [], 0
    ids: dict[str, dict[str, Detection]] = {}
    for d in decisions:
        pred = predictions.get(d.file) if d.bbox is None and d.detection_id else None
        if pred is not None:
            by_id = ids.get(d.file)
            if by_id is None:
                by_id = ids[d.file] = {detection_id(d.file, det): det for det in pred.detections}
            det = by_id.get(d.detection_id)
            if det is not None:
                d = _with_box(d, det)
                n += 1
        out.append(d)
    return tuple(out), n


def _with_box(d: ReviewDecision, det: Detection) -> ReviewDecision:
    """``d`` with the box and frame of ``det``, and the model's label and certainty when it has none."""
    return replace(d, bbox=det.bbox, frame=det.frame, model_label=d.model_label or det.top_label
                   or det.category_name, confidence=d.confidence if d.confidence is not None
                   else round(_model_certainty(det), 4))


def match_file(
    pred: Prediction, det_ids: Sequence[str], decisions: Iterable[ReviewDecision]
) -> tuple[dict[int, ReviewDecision], bool]:
    """Effective decision per detection index of one file, and whether the file is verified empty.

    ``decisions`` are the file's effective decisions (see :func:`latest_decisions`), oldest
    first. A decision attaches by ``detection_id``; failing that (another model re-ran) to the
    best unclaimed box of the same frame with IoU >= 0.5 against the stored box.
    """
    by_id = {did: i for i, did in enumerate(det_ids)}
    found: dict[int, tuple[int, ReviewDecision]] = {}
    empty_at = -1
    positive_at = -1
    pending: list[tuple[int, ReviewDecision]] = []
    for order, d in enumerate(decisions):
        if not d.detection_id:
            if d.decision == "empty":
                empty_at = order
            continue
        if d.detection_id in by_id:
            found[by_id[d.detection_id]] = (order, d)
        else:
            pending.append((order, d))
    for order, d in pending:
        if d.bbox is None:
            continue
        best, best_iou = -1, MATCH_IOU
        for i, det in enumerate(pred.detections):
            if det.frame != d.frame or (i in found and found[i][0] > order):
                continue
            iou = det.bbox.iou(d.bbox)
            if iou >= best_iou:
                best, best_iou = i, iou
        if best >= 0:
            found[best] = (order, d)
    for order, d in found.values():
        if d.decision in POSITIVE_KINDS:
            positive_at = max(positive_at, order)
    return {i: d for i, (_, d) in found.items()}, empty_at > positive_at


def apply_decisions(bundle: ExportBundle, decisions: Iterable[ReviewDecision]) -> ExportBundle:
    """Merge a folder's decisions into an export bundle (pure; see the module docstring).

    Args:
        bundle: the model-only bundle (``verified`` flags already there are kept).
        decisions: the decision history (or just the effective decisions).

    Returns:
        A new bundle: rejected boxes removed, verified boxes flagged and relabelled, files
        confirmed empty flagged ``verified_empty`` and without boxes.
    """
    per_file: dict[str, list[ReviewDecision]] = {}
    for d in latest_decisions(decisions).values():
        per_file.setdefault(d.file, []).append(d)
    if not per_file:
        return bundle
    items = tuple(_apply_item(it, per_file.get(it.prediction.rel_path, ())) for it in bundle.items)
    return replace(bundle, items=items)


def _verified_detection(det: Detection, d: ReviewDecision) -> Detection:
    """``det`` as the person verified it: their label, and the category that label implies."""
    label = UNKNOWN_LABEL if d.decision == "unknown" else d.label
    if label and (d.decision != "accept" or label != det.top_label):
        det = replace(det, classifications=(Classification(label, 1.0),))
    cat = category_for_label(label)
    if cat is not None and cat != det.category:
        det = replace(det, category=cat)
    if cat is not None and label.strip().lower() == DETECTION_CATEGORIES[cat]:
        det = replace(det, classifications=())  # "animal"/"person"/"vehicle": the category says it all
    return det


def _missed(pred: Prediction, matched: Mapping[int, ReviewDecision],
            decisions: Sequence[ReviewDecision]) -> list[ReviewDecision]:
    """Positive decisions whose animal the current model missed (no box of ``pred`` overlaps theirs).

    A decision whose box overlaps a current box (IoU >= 0.5, same frame) is not missed, even
    when a later decision on that box took precedence: the animal is there once. Of several
    old decisions on one animal (from several earlier models), the newest is kept.
    """
    taken = {id(d) for d in matched.values()}
    frames = set(pred.frames_processed)
    out: list[ReviewDecision] = []
    for d in reversed(decisions):  # newest first
        if (d.decision not in POSITIVE_KINDS or not d.detection_id or d.bbox is None or id(d) in taken
                or (d.frame is not None and frames and d.frame not in frames)):
            continue
        boxes = [det.bbox for det in pred.detections if det.frame == d.frame]
        boxes += [o.bbox for o in out if o.frame == d.frame and o.bbox is not None]
        if all(d.bbox.iou(b) < MATCH_IOU for b in boxes):
            out.append(d)
    return out[::-1]


def _apply_item(item: ExportItem, decisions: Sequence[ReviewDecision]) -> ExportItem:
    pred = item.prediction
    if not decisions or pred.failed:
        return item
    ids = tuple(item.detection_ids[i] if i < len(item.detection_ids) and item.detection_ids[i]
                else detection_id(pred.rel_path, d) for i, d in enumerate(pred.detections))
    matched, empty = match_file(pred, ids, decisions)
    if empty:
        return replace(item, prediction=replace(pred, detections=()), detection_ids=(), verified=(),
                       verified_empty=True)
    dets, out_ids, verified, smoothed = [], [], [], []
    for i, det in enumerate(pred.detections):
        d = matched.get(i)
        if d is not None and d.decision == "reject":
            continue
        if d is not None:
            det = _verified_detection(det, d)
        dets.append(det)
        out_ids.append(ids[i])
        verified.append(d is not None or item.is_verified(i))
        smoothed.append(d is not None and d.source == SOURCE_SMOOTHING)
    for d in _missed(pred, matched, decisions):
        assert d.bbox is not None
        base = Detection(category_for_label(d.model_label) or "1", 1.0, d.bbox, frame=d.frame)
        dets.append(_verified_detection(base, d))
        out_ids.append(d.detection_id)
        verified.append(True)
        smoothed.append(d.source == SOURCE_SMOOTHING)
    return replace(item, prediction=replace(pred, detections=tuple(dets)), detection_ids=tuple(out_ids),
                   verified=tuple(verified), smoothed=tuple(smoothed) if any(smoothed) else ())
