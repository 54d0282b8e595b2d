"""The decision record (:class:`ReviewDecision`) and the constants of the decision layer.

The layer as a whole is described in :mod:`.decisions`, which re-exports everything here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..core.errors import DatasetError
from ..core.records import BBox

DecisionKind = Literal["accept", "reject", "relabel", "unknown", "empty", "count", "missed", "clear"]

DECISIONS_FILE: Final = "decisions.jsonl"
DECISIONS_SCHEMA_VERSION: Final = 2
LEGACY_DECISIONS_FILE: Final = "decisions.json"  # version 1: one JSON document, rewritten per decision
HISTORY_FILE: Final = "decisions-history.jsonl"  # superseded records moved out by a compaction
COMPACT_MIN_RECORDS: Final = 10_000
COMPACT_RATIO: Final = 2.0
LEGACY_SCHEMA_VERSION: Final = 1
#: Kinds a person can make (``"clear"`` is the internal tombstone written by undo).
DECISION_KINDS: Final[tuple[str, ...]] = ("accept", "reject", "relabel", "unknown", "empty", "count", "missed")
#: ``count``: a person's count of one label in one image (``detection_id`` is :func:`count_key`);
#: ``missed``: a file-level "there is an animal the detector missed" (the empty-image audit).
COUNT_PREFIX: Final = "count:"
#: ``source`` of a decision accepted from a smoothing suggestion (``review.smoothing``).
SOURCE_SMOOTHING: Final = "smoothing"
#: ``reason`` of a reject that suppresses a repeat detection (``review.rde``); ``group`` = the cluster id.
REASON_REPEAT: Final = "repeat-detection"
POSITIVE_KINDS: Final[frozenset[str]] = frozenset({"accept", "relabel", "unknown"})
UNKNOWN_LABEL: Final = "unknown"
MATCH_IOU: Final = 0.5
#: Labels that are not a species (review.queue uses them to spot detector/classifier disagreement).
BLANK_LABELS: Final = frozenset({"blank", "empty", "none", "background", "nothing"})
PERSON_LABELS: Final = frozenset({"human", "person", "people", "homo sapiens", "homo_sapiens"})
VEHICLE_LABELS: Final = frozenset({"vehicle", "car", "truck", "motorcycle"})

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
    source: str = ""  # how the decision was made: "" a key press, "smoothing" an accepted suggestion, "audit"
    reason: str = ""  # why, for bulk decisions: "repeat-detection" (a suppressed cluster)
    group: str = ""  # the bulk decision's group, e.g. the repeat-detection cluster id
    count: int | None = None  # kind "count": the number of individuals of ``label`` in the image

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
        for name in ("source", "reason", "group"):
            if getattr(self, name):
                d[name] = getattr(self, name)
        if self.count is not None:
            d["count"] = self.count
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
            count = int(d["count"]) if d.get("count") not in (None, "") else None
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"Malformed decision for {d['file']!r}: {exc}") from exc
        return cls(file=d["file"], detection_id=str(d.get("detection_id") or ""), decision=kind,  # type: ignore[arg-type]
                   label=str(d.get("label") or ""), reviewer=str(d.get("reviewer") or ""),
                   time=str(d.get("time") or ""), bbox=bbox, frame=frame,
                   model_label=str(d.get("model_label") or ""), confidence=conf,
                   source=str(d.get("source") or ""), reason=str(d.get("reason") or ""),
                   group=str(d.get("group") or ""), count=count)


def count_key(label: str) -> str:
    """The ``detection_id`` of a ``count`` decision on ``label`` (one per label and image)."""
    return COUNT_PREFIX + label
