"""The human-decision layer: what a person decided about a detection, stored beside the journal.

Decisions live in ``<state_dir>/decisions.json`` (``state_dir`` is the folder's ``.wildlife/``),
never inside a model's journal, so re-running the AI (a new result layer) keeps every one::

    {"schema_version": 1, "decisions": [{"file": ..., "detection_id": ..., "decision": ...}, ...]}

Design decisions:

* The list is an **append-only history** (rewritten atomically through ``core.atomic``); the
  latest record per ``(file, detection_id)`` wins, *latest* meaning later in the list. Undo
  appends the restored record, or a ``"clear"`` tombstone when there was none, so the file is
  also an audit trail.
* A file-level decision (``"empty"``) has ``detection_id == ""``. It applies only when it is
  newer than every positive decision on a box of the same file.
* A record keeps the box (``bbox``, ``frame``) and what the model said when the person decided
  (``model_label``, ``confidence``). The box lets a decision follow its animal when another
  model re-ran (same file/frame, IoU >= 0.5); the model fields feed calibration.
* Merging several reviewers (:func:`merge_decisions`) compares ``time`` (ISO 8601): a later
  decision on the same detection wins, and every disagreement is listed as a conflict.

Merge rules at export (:func:`apply_decisions`): accept → verified (with the decision's label
when it differs from the model's); relabel → classifications ``((label, 1.0),)`` + verified;
unknown → label ``"unknown"`` + verified; reject → the box is removed; empty → the file is
verified empty and *all* its boxes are removed, so every sidecar (MD JSON included) shows it
empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from ..core.atomic import atomic_write_json
from ..core.errors import DatasetError
from ..core.records import BBox, Classification, Prediction
from .bundle import ExportBundle, ExportItem, detection_id

DecisionKind = Literal["accept", "reject", "relabel", "unknown", "empty", "clear"]

DECISIONS_FILE: Final = "decisions.json"
DECISIONS_SCHEMA_VERSION: Final = 1
#: Kinds a person can make (``"clear"`` is the internal tombstone written by undo).
DECISION_KINDS: Final[tuple[str, ...]] = ("accept", "reject", "relabel", "unknown", "empty")
POSITIVE_KINDS: Final[frozenset[str]] = frozenset({"accept", "relabel", "unknown"})
UNKNOWN_LABEL: Final = "unknown"
MATCH_IOU: Final = 0.5

DecisionKey = tuple[str, str]


@dataclass(frozen=True)
class ReviewDecision:
    """One person's decision on one detection (or, with ``detection_id == ""``, on a file)."""

    file: str  # relative path, forward slashes
    detection_id: str  # formats.bundle.detection_id; "" for a file-level decision
    decision: DecisionKind
    label: str = ""  # the verified label (accept/relabel/unknown); "" when not applicable
    reviewer: str = ""
    time: str = ""  # ISO 8601, e.g. "2026-11-23T02:16:42.123+00:00"
    bbox: BBox | None = None  # the box decided on, to re-attach after another model ran
    frame: int | None = None
    model_label: str = ""  # the model's top label (or detector category) when decided
    confidence: float | None = None  # the model's certainty when decided (see review.queue)

    @property
    def key(self) -> DecisionKey:
        return (self.file, self.detection_id)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "detection_id": self.detection_id, "decision": self.decision,
                             "label": self.label, "reviewer": self.reviewer, "time": self.time}
        if self.bbox is not None:
            d["bbox"] = self.bbox.as_list()
        if self.frame is not None:
            d["frame"] = self.frame
        if self.model_label:
            d["model_label"] = self.model_label
        if self.confidence is not None:
            d["confidence"] = self.confidence
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReviewDecision:
        """Parse one record; raises ``DatasetError`` when it is malformed."""
        kind = str(d.get("decision", ""))
        if kind not in DECISION_KINDS and kind != "clear":
            raise DatasetError(f"Unknown decision {kind!r} for {d.get('file')!r}.")
        if not isinstance(d.get("file"), str) or not d["file"]:
            raise DatasetError("Decision without a file.")
        box = d.get("bbox")
        try:
            bbox = BBox(*(float(v) for v in box)) if box else None
            frame = int(d["frame"]) if d.get("frame") not in (None, "") else None
            conf = float(d["confidence"]) if d.get("confidence") not in (None, "") else None
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"Malformed decision for {d['file']!r}: {exc}") from exc
        return cls(file=d["file"], detection_id=str(d.get("detection_id") or ""), decision=kind,  # type: ignore[arg-type]
                   label=str(d.get("label") or ""), reviewer=str(d.get("reviewer") or ""),
                   time=str(d.get("time") or ""), bbox=bbox, frame=frame,
                   model_label=str(d.get("model_label") or ""), confidence=conf)


@dataclass(frozen=True)
class DecisionConflict:
    """Two decisions on the same detection that disagree; ``kept`` is the later one."""

    kept: ReviewDecision
    overruled: ReviewDecision


@dataclass(frozen=True)
class MergeResult:
    decisions: tuple[ReviewDecision, ...]  # the merged history (existing + accepted incoming)
    added: int
    conflicts: tuple[DecisionConflict, ...]


# ----------------------------------------------------------------------------------------------
# file I/O


def decisions_path(state_dir: Path) -> Path:
    """``<state_dir>/decisions.json``."""
    return Path(state_dir) / DECISIONS_FILE


def load_decisions(state_dir: Path) -> tuple[ReviewDecision, ...]:
    """The full decision history of a folder (oldest first); ``()`` when there is none.

    Raises:
        DatasetError: the file exists but is unreadable, malformed or from a newer version.
    """
    path = decisions_path(state_dir)
    if not path.exists():
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"Unreadable decisions file {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("decisions"), list):
        raise DatasetError(f"Malformed decisions file {path}.")
    if int(data.get("schema_version", 0)) > DECISIONS_SCHEMA_VERSION:
        raise DatasetError(f"{path} was written by a newer version of Wildlife Desktop.")
    return tuple(ReviewDecision.from_dict(d) for d in data["decisions"])


def save_decisions(state_dir: Path, decisions: Iterable[ReviewDecision]) -> Path:
    """Write the whole history atomically (creating ``state_dir`` if needed)."""
    path = decisions_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"schema_version": DECISIONS_SCHEMA_VERSION,
                             "decisions": [d.to_dict() for d in decisions]})
    return path


def append_decisions(state_dir: Path, new: Sequence[ReviewDecision]) -> tuple[ReviewDecision, ...]:
    """Append ``new`` to the stored history; return the whole history."""
    history = load_decisions(state_dir) + tuple(new)
    save_decisions(state_dir, history)
    return history


# ----------------------------------------------------------------------------------------------
# latest-wins view and merging


def latest_decisions(decisions: Iterable[ReviewDecision]) -> dict[DecisionKey, ReviewDecision]:
    """The effective decision per ``(file, detection_id)``: the last record, minus tombstones."""
    out: dict[DecisionKey, ReviewDecision] = {}
    for d in decisions:
        out.pop(d.key, None)  # re-insert so dict order follows the history
        if d.decision != "clear":
            out[d.key] = d
    return out


def _disagree(a: ReviewDecision, b: ReviewDecision) -> bool:
    return a.decision != b.decision or (a.label or "") != (b.label or "")


def merge_decisions(existing: Sequence[ReviewDecision], incoming: Iterable[ReviewDecision]) -> MergeResult:
    """Merge another reviewer's decisions into a history: a later ``time`` wins per detection.

    An incoming record that is older than the effective one is not applied; when the two
    disagree (kind or label) the pair is listed as a conflict either way. Identical records
    are ignored, so importing the same CSV twice changes nothing. A row without a box (a
    bare CSV) inherits the box stored for the same detection, so it still follows its animal
    to another model's output.
    """
    history = list(existing)
    current = latest_decisions(history)
    boxes = {d.key: d for d in history if d.bbox is not None}
    conflicts: list[DecisionConflict] = []
    added = 0
    for new in sorted(incoming, key=lambda d: d.time):
        known = boxes.get(new.key)
        if new.bbox is None and known is not None:  # a bare CSV row: keep the box so IoU matching still works
            new = replace(new, bbox=known.bbox, frame=known.frame, model_label=new.model_label or known.model_label,
                          confidence=known.confidence if new.confidence is None else new.confidence)
        old = current.get(new.key)
        if old is not None and not _disagree(old, new) and old.reviewer == new.reviewer:
            continue
        newer = old is None or new.time > old.time
        if old is not None and _disagree(old, new):
            conflicts.append(DecisionConflict(kept=new if newer else old, overruled=old if newer else new))
        if newer:
            history.append(new)
            current[new.key] = new
            added += 1
    return MergeResult(tuple(history), added, tuple(conflicts))


# ----------------------------------------------------------------------------------------------
# matching decisions to detections, and the export merge


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
    dets, out_ids, verified = [], [], []
    for i, det in enumerate(pred.detections):
        d = matched.get(i)
        if d is not None and d.decision == "reject":
            continue
        if d is not None:
            label = UNKNOWN_LABEL if d.decision == "unknown" else d.label
            if label and (d.decision != "accept" or label != det.top_label):
                det = replace(det, classifications=(Classification(label, 1.0),))
        dets.append(det)
        out_ids.append(ids[i])
        verified.append(d is not None or item.is_verified(i))
    return replace(item, prediction=replace(pred, detections=tuple(dets)), detection_ids=tuple(out_ids),
                   verified=tuple(verified))
