"""Repeat-detection elimination (RDE): boxes that recur at the same place of one camera.

A rock, a branch or a shadow the detector takes for an animal comes back in the same place in
hundreds of images of one camera; an animal moves. MegaDetector's RDE idea, re-written here
vectorised: per camera location, boxes whose IoU with one another is at least ``iou`` (0.85)
in at least ``min_count`` images (and a fraction of the location's images, optional) of at
least ``min_events`` events (a deer bedded down for one event is not a rock) form a *cluster*.
Very large boxes (over ``max_box_area`` of the image) and boxes a person has already called an
animal are left out.

Clusters are found, never applied: the reviewer confirms "this is not an animal" once per
cluster and :func:`suppress_records` turns that into ordinary ``reject`` decisions (``reason``
``"repeat-detection"``, ``group`` the cluster id) appended through ``formats.decisions``, so
every export drops those boxes. :func:`restore_records` undoes it with ``clear`` records; both
stay in the history. A box a person decided on otherwise is never touched.

Cost: per location, pairs are only compared inside a 3 x 3 neighbourhood of grid cells on the
box centres, the cell being the largest centre offset two boxes with IoU >= ``iou`` can have,
so the search is exact and close to linear in the number of boxes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..core.records import BBox, Prediction
from ..formats.bundle import SequenceInfo, detection_id
from ..formats.decisions import POSITIVE_KINDS, REASON_REPEAT, ReviewDecision, latest_decisions

_ROW_CHUNK = 512  # rows of one IoU block (keeps a block of a 5,000-box cluster small)


@dataclass(frozen=True)
class RdeOptions:
    """What makes boxes a repeat-detection cluster (MegaDetector's defaults where it has them)."""

    iou: float = 0.85
    min_count: int = 5  # images the box recurs in
    min_fraction: float = 0.0  # ... and at least this fraction of the location's images
    min_events: int = 2  # ... across at least this many events (sequences)
    min_confidence: float = 0.1  # boxes below this are ignored
    merge_iou: float = 0.7  # clusters whose central boxes overlap this much are one object (a wobbling box)
    max_box_area: float = 0.2  # boxes larger than this fraction of the image are ignored
    examples: int = 4  # example crops per cluster


@dataclass(frozen=True)
class ClusterBox:
    """One box of a cluster: enough to crop it and to write a decision on it."""

    file: str
    detection_id: str
    bbox: BBox
    confidence: float
    model_label: str
    frame: int | None = None


@dataclass(frozen=True)
class RepeatCluster:
    """Boxes of one location that recur at the place of ``bbox`` (the cluster's most connected box)."""

    cluster_id: str
    location: str
    bbox: BBox
    boxes: tuple[ClusterBox, ...]
    images: int  # distinct files
    events: int  # distinct sequences
    location_images: int  # files of the location
    examples: tuple[ClusterBox, ...]
    suppressed: int = 0  # boxes whose effective decision is a repeat-detection reject
    decided: int = 0  # boxes a person decided on otherwise (never touched by suppress)

    @property
    def is_suppressed(self) -> bool:
        return self.suppressed > 0 and self.suppressed + self.decided >= len(self.boxes)


def cluster_id(location: str, box: BBox) -> str:
    """A readable, stable id: the location and the place of the box, rounded to 1 % of the image."""
    text = f"{location}|{box.x:.2f},{box.y:.2f},{box.w:.2f},{box.h:.2f}"
    return "rde-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def _iou_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every row box of ``a`` (n x 4, x1 y1 x2 y2) with every box of ``b`` (m x 4)."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class _Location:
    name: str
    boxes: list[ClusterBox]
    xyxy: np.ndarray  # n x 4
    files: np.ndarray  # n, file index
    events: np.ndarray  # n, event index
    images: int


def _neighbourhoods(xyxy: np.ndarray, iou: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Grid cell of every box and, per occupied cell, the boxes of its 3 x 3 neighbourhood.

    Two boxes with IoU >= t have width and height ratios >= t and corners within (1 - t) of the
    larger size, so their centres are at most 1.5 (1 - t) max(w, h) apart: with cells that
    wide, every such pair lies in neighbouring cells.
    """
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    cell = max(1.5 * (1.0 - iou) * float(max(w.max(), h.max())), 1e-3)
    n_cells = int(math.ceil(1.0 / cell)) + 3
    ix = np.clip(np.floor((xyxy[:, 0] + xyxy[:, 2]) / 2 / cell).astype(np.int64) + 1, 0, n_cells - 1)
    iy = np.clip(np.floor((xyxy[:, 1] + xyxy[:, 3]) / 2 / cell).astype(np.int64) + 1, 0, n_cells - 1)
    cells = ix * n_cells + iy
    order = np.argsort(cells, kind="stable")
    uniq, starts, counts = np.unique(cells[order], return_index=True, return_counts=True)
    members = {int(c): order[s:s + n] for c, s, n in zip(uniq, starts, counts, strict=True)}
    hood: dict[int, np.ndarray] = {}
    for c in members:
        cx, cy = divmod(c, n_cells)
        parts = [members[k] for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                 if (k := (cx + dx) * n_cells + cy + dy) in members]
        hood[c] = np.concatenate(parts)
    return cells, hood


def _clusters_of(loc: _Location, opts: RdeOptions) -> list[tuple[int, np.ndarray]]:
    """(leader, member indices) of the location's clusters."""
    n = len(loc.boxes)
    min_images = max(opts.min_count, math.ceil(opts.min_fraction * loc.images))
    if n < min_images:
        return []
    cells, hood = _neighbourhoods(loc.xyxy, opts.iou)
    degree = np.zeros(n, dtype=np.int64)
    for c, near in hood.items():
        rows = near[cells[near] == c]
        for s in range(0, len(rows), _ROW_CHUNK):
            r = rows[s:s + _ROW_CHUNK]
            hit = _iou_block(loc.xyxy[r], loc.xyxy[near]) >= opts.iou
            hit &= loc.files[r][:, None] != loc.files[near][None, :]  # the same image does not count
            degree[r] = hit.sum(axis=1)
    taken = np.zeros(n, dtype=bool)
    tried = np.zeros(n, dtype=bool)
    out: list[tuple[int, np.ndarray]] = []
    for leader in np.argsort(-degree, kind="stable"):
        if degree[leader] + 1 < min_images:
            break
        if taken[leader] or tried[leader]:
            continue
        near = hood[int(cells[leader])]
        near = near[~taken[near]]
        ious = _iou_block(loc.xyxy[leader:leader + 1], loc.xyxy[near])[0]
        members = near[ious >= opts.iou]
        if (len(np.unique(loc.files[members])) >= min_images
                and len(np.unique(loc.events[members])) >= opts.min_events):
            taken[members] = True
            out.append((int(leader), members))
        else:
            tried[members] = True  # a subset of a failed group would fail too
    return _merged(out, loc.xyxy, opts.merge_iou)


def _merged(clusters: list[tuple[int, np.ndarray]], xyxy: np.ndarray, merge_iou: float) -> list[tuple[int, np.ndarray]]:
    """Clusters whose leaders overlap by ``merge_iou`` or more joined to the larger one.

    A small box that wobbles by a few pixels has members further than ``iou`` from any one
    leader; it would otherwise come back as several cards of the same rock.
    """
    kept: list[tuple[int, list[np.ndarray]]] = []
    for leader, members in clusters:  # largest first (leaders by degree)
        for lead, parts in kept:
            if _iou_block(xyxy[leader:leader + 1], xyxy[lead:lead + 1])[0, 0] >= merge_iou:
                parts.append(members)
                break
        else:
            kept.append((leader, [members]))
    return [(lead, np.concatenate(parts)) for lead, parts in kept]


def _gather(predictions: Mapping[str, Prediction], sequences: Mapping[str, SequenceInfo],
            positives: set[tuple[str, str]], opts: RdeOptions) -> list[_Location]:
    """The candidate boxes of every location as arrays."""
    per: dict[str, tuple[list[ClusterBox], list[int], list[int]]] = {}
    images: dict[str, int] = {}
    event_ids: dict[str, int] = {}
    file_ids: dict[str, int] = {}
    for rel in sorted(predictions):
        pred = predictions[rel]
        seq = sequences.get(rel)
        location = seq.location if seq is not None else ""
        images[location] = images.get(location, 0) + 1
        if pred.failed or not pred.detections:
            continue
        event = event_ids.setdefault(seq.seq_id if seq is not None else rel, len(event_ids))
        fid = file_ids.setdefault(rel, len(file_ids))
        for det in pred.detections:
            b = det.bbox
            if det.confidence < opts.min_confidence or b.w * b.h > opts.max_box_area or b.w <= 0 or b.h <= 0:
                continue
            did = detection_id(rel, det)
            if (rel, did) in positives:
                continue
            boxes, files, events = per.setdefault(location, ([], [], []))
            boxes.append(ClusterBox(rel, did, b, det.confidence, det.top_label or det.category_name, det.frame))
            files.append(fid)
            events.append(event)
    out = []
    for location, (boxes, files, events) in per.items():
        xyxy = np.array([(b.bbox.x, b.bbox.y, b.bbox.x + b.bbox.w, b.bbox.y + b.bbox.h) for b in boxes],
                        dtype=np.float64)
        out.append(_Location(location, boxes, xyxy, np.asarray(files), np.asarray(events), images[location]))
    return out


def find_repeat_clusters(
    predictions: Mapping[str, Prediction],
    sequences: Mapping[str, SequenceInfo],
    decisions: Iterable[ReviewDecision] = (),
    options: RdeOptions | None = None,
) -> tuple[RepeatCluster, ...]:
    """The repeat-detection clusters of a folder, largest first.

    Args:
        predictions: the active layer's predictions by relative path.
        sequences: location and event of every file (``pipeline.sequences.assign_sequences``,
            with the folder's time corrections).
        decisions: the folder's decision history: boxes a person accepted, relabelled or marked
            unknown are never part of a cluster; the others' state is counted per cluster.
        options: thresholds (:class:`RdeOptions`).
    """
    opts = options or RdeOptions()
    latest = latest_decisions(decisions)
    positives = {k for k, d in latest.items() if d.decision in POSITIVE_KINDS}
    clusters: list[RepeatCluster] = []
    for loc in _gather(predictions, sequences, positives, opts):
        for leader, members in _clusters_of(loc, opts):
            boxes = tuple(sorted((loc.boxes[i] for i in members), key=lambda b: (b.file, b.detection_id)))
            pick = np.unique(np.linspace(0, len(boxes) - 1, num=min(opts.examples, len(boxes))).round().astype(int))
            state = [latest.get((b.file, b.detection_id)) for b in boxes]
            suppressed = sum(1 for d in state if d is not None and d.reason == REASON_REPEAT and d.decision == "reject")
            decided = sum(1 for d in state if d is not None and d.reason != REASON_REPEAT)
            lead = loc.boxes[leader].bbox
            clusters.append(RepeatCluster(
                cluster_id=cluster_id(loc.name, lead), location=loc.name, bbox=lead, boxes=boxes,
                images=len(np.unique(loc.files[members])), events=len(np.unique(loc.events[members])),
                location_images=loc.images, examples=tuple(boxes[i] for i in pick),
                suppressed=suppressed, decided=decided))
    clusters.sort(key=lambda c: (-c.images, c.location, c.cluster_id))
    return tuple(clusters)


def suppress_records(cluster: RepeatCluster, decisions: Iterable[ReviewDecision], *, reviewer: str,
                     time: str) -> tuple[ReviewDecision, ...]:
    """The ``reject`` records that suppress a cluster's boxes (none for boxes a person decided on).

    Append them with ``formats.decisions.update_decisions``/``DecisionLog.append``.
    """
    latest = latest_decisions(decisions)
    out = []
    for b in cluster.boxes:
        if (b.file, b.detection_id) in latest:  # a person's decision, or already suppressed
            continue
        out.append(ReviewDecision(b.file, b.detection_id, "reject", "", reviewer, time, b.bbox, b.frame,
                                  b.model_label, round(b.confidence, 4), reason=REASON_REPEAT,
                                  group=cluster.cluster_id))
    return tuple(out)


def restore_records(cluster: RepeatCluster, decisions: Iterable[ReviewDecision], *, reviewer: str,
                    time: str) -> tuple[ReviewDecision, ...]:
    """``clear`` records that undo a suppression: only boxes whose effective decision is one."""
    latest = latest_decisions(decisions)
    out = []
    for b in cluster.boxes:
        d = latest.get((b.file, b.detection_id))
        if d is not None and d.decision == "reject" and d.reason == REASON_REPEAT:
            out.append(ReviewDecision(b.file, b.detection_id, "clear", "", reviewer, time, b.bbox, b.frame,
                                      b.model_label, d.confidence, reason=REASON_REPEAT, group=cluster.cluster_id))
    return tuple(out)
