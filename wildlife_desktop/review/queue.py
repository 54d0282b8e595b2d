"""The review queue: which detections need a person, most uncertain first.

The paper's human-in-the-loop rule: accept what the model is sure about and send the rest to
a person (Amazon deployment: a 0.98 threshold left 10 % of detections for validation). A
detection at or above ``thresholds.ignore`` is queued when

* its *certainty* is below ``thresholds.accept`` (certainty = the detector confidence, or the
  smaller of detector and top-label confidence when a classifier ran): ``LOW_CONFIDENCE``;
* the detector and classifier disagree (an animal box labelled blank/empty/human/vehicle, or a
  person/vehicle box labelled as a species): ``DISAGREEMENT``;
* its sequence disagrees with itself: the confident labels of one sequence differ, and this
  box's label is not the sequence's majority: ``SEQUENCE``.

Order: smallest *margin* first, where margin = min(detector margin, classifier margin); the
detector margin is ``|2 * conf - 1|`` (animal vs. not, a two-class view) and the classifier
margin is ``top1 - top2``, with ``top2 = 1 - top1`` when only the top label was stored (the
most pessimistic reading). Ties break on file, then box index, so the order is stable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ..core.records import Detection, Prediction
from ..formats.bundle import SequenceInfo, detection_id
from ..formats.decisions import BLANK_LABELS as _BLANK_LABELS
from ..formats.decisions import PERSON_LABELS as _PERSON_LABELS
from ..formats.decisions import VEHICLE_LABELS as _VEHICLE_LABELS
from ..formats.decisions import ReviewDecision


class QueueReason(str, Enum):
    LOW_CONFIDENCE = "low_confidence"
    DISAGREEMENT = "disagreement"
    SEQUENCE = "sequence"


@dataclass(frozen=True)
class QueueThresholds:
    """``accept``: at/above, the model is trusted; ``ignore``: below, boxes are noise, never shown."""

    accept: float = 0.98
    ignore: float = 0.2


DEFAULT_THRESHOLDS: Final = QueueThresholds()


@dataclass(frozen=True)
class QueueItem:
    """One detection waiting for (or having had) a person's decision."""

    file: str
    index: int  # position in ``Prediction.detections``
    detection_id: str
    detection: Detection
    model_label: str  # top classification label, else the detector category name
    certainty: float
    margin: float
    reasons: tuple[QueueReason, ...]
    location: str = ""
    seq_id: str = ""
    datetime: str | None = None

    @property
    def folder(self) -> str:
        return self.file.rsplit("/", 1)[0] if "/" in self.file else ""


@dataclass(frozen=True)
class QueueFilter:
    """Restricts the queue; ``None``/empty fields do not filter. Dates compare as text prefixes."""

    labels: frozenset[str] = frozenset()  # model labels to keep (case-insensitive)
    folder: str = ""  # relative folder; keeps files in it and below
    location: str = ""  # camera / location id (SequenceInfo.location)
    date_from: str = ""  # "YYYY-MM-DD" (inclusive)
    date_to: str = ""  # "YYYY-MM-DD" (inclusive)
    states: frozenset[str] = frozenset()  # review states to keep (see review_states); empty: all
    min_certainty: float = 0.0  # confidence band (the certainty the accept threshold applies to)
    max_certainty: float = 1.0

    def matches(self, item: QueueItem, decision: ReviewDecision | None = None, reviewer: str = "") -> bool:
        """Whether ``item`` passes; ``decision`` (its effective one) makes labels mean verified-or-top
        and enables ``states``; ``reviewer`` is who "mine" means."""
        if not self.min_certainty <= item.certainty <= self.max_certainty:
            return False
        if self.states and not self.states & review_states(item, decision, reviewer):
            return False
        label = item.model_label
        if decision is not None and decision.decision in ("accept", "relabel", "unknown") and decision.label:
            label = decision.label
        if self.labels and label.lower() not in {x.lower() for x in self.labels}:
            return False
        if self.folder:
            root = self.folder.strip("/")
            if item.folder != root and not item.folder.startswith(root + "/"):
                return False
        if self.location and item.location != self.location:
            return False
        day = (item.datetime or "")[:10]
        if (self.date_from or self.date_to) and not day:
            return False
        if self.date_from and day < self.date_from:
            return False
        return not (self.date_to and day > self.date_to)


#: Review states a filter can keep: not reviewed, verified (accepted, relabelled or unknown), verified
#: by me, relabelled, rejected, and disagreements (the person overruled the model, or the model's
#: detector and classifier disagree).
REVIEW_STATES: Final[tuple[str, ...]] = ("not_reviewed", "verified", "mine", "relabelled", "rejected",
                                         "disagreement")


def review_states(item: QueueItem, decision: ReviewDecision | None, reviewer: str = "") -> frozenset[str]:
    """The :data:`REVIEW_STATES` ``item`` is in, given its effective decision."""
    out: set[str] = set()
    if QueueReason.DISAGREEMENT in item.reasons:
        out.add("disagreement")
    if decision is None:
        out.add("not_reviewed")
        return frozenset(out)
    if reviewer and decision.reviewer == reviewer:
        out.add("mine")
    if decision.decision in ("accept", "relabel", "unknown"):
        out.add("verified")
    if decision.decision == "reject":
        out |= {"rejected", "disagreement"}
    if decision.decision == "relabel" and decision.label.lower() != item.model_label.lower():
        out |= {"relabelled", "disagreement"}
    return frozenset(out)


def model_label(det: Detection) -> str:
    """What the model says this box is: its top label, else the detector category name."""
    return det.top_label or det.category_name


def certainty(det: Detection) -> float:
    """The score the accept threshold applies to (see the module docstring)."""
    top = det.top_label_confidence
    return det.confidence if top is None else min(det.confidence, top)


def margin(det: Detection) -> float:
    """Distance between the two most likely answers; small means uncertain."""
    det_margin = abs(2.0 * det.confidence - 1.0)
    if not det.classifications:
        return det_margin
    confs = sorted((c.confidence for c in det.classifications), reverse=True)
    second = confs[1] if len(confs) > 1 else max(0.0, 1.0 - confs[0])
    return min(det_margin, confs[0] - second)


def disagrees(det: Detection) -> bool:
    """True when the detector category and the classifier's top label contradict each other."""
    label = (det.top_label or "").strip().lower()
    if not label:
        return False
    if label in _BLANK_LABELS:
        return True
    is_person, is_vehicle = label in _PERSON_LABELS, label in _VEHICLE_LABELS
    if det.category == "1":
        return is_person or is_vehicle
    if det.category == "2":
        return not is_person
    if det.category == "3":
        return not is_vehicle
    return False


def _sequence_outliers(
    predictions: Mapping[str, Prediction], sequences: Mapping[str, SequenceInfo], thresholds: QueueThresholds
) -> set[tuple[str, int]]:
    """Boxes whose confident label differs from the majority label of their sequence."""
    groups: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    for rel, pred in predictions.items():
        seq = sequences.get(rel)
        if seq is None or seq.seq_num_frames < 2:
            continue
        for i, det in enumerate(pred.detections):
            if det.top_label and det.confidence >= thresholds.ignore:
                groups.setdefault((seq.location, seq.seq_id), []).append((rel, i, det.top_label))
    out: set[tuple[str, int]] = set()
    for members in groups.values():
        counts = Counter(label for _, _, label in members)
        if len(counts) < 2:
            continue
        ranked = counts.most_common()
        majority = ranked[0][0] if ranked[0][1] > ranked[1][1] else None  # a tie: every box is suspect
        out.update((rel, i) for rel, i, label in members if label != majority)
    return out


def build_queue(
    predictions: Mapping[str, Prediction],
    *,
    sequences: Mapping[str, SequenceInfo] | None = None,
    thresholds: QueueThresholds = DEFAULT_THRESHOLDS,
) -> tuple[QueueItem, ...]:
    """Every detection that needs a person, most uncertain first.

    Decisions do not remove items: the session shows decided ones as done, so progress and
    "go back" work. Failed files have no detections and never appear.

    Args:
        predictions: the active layer's predictions, keyed by relative path.
        sequences: sequence membership per file (``pipeline.sequences.assign_sequences``);
            without it there is no sequence check and no camera/location filter.
        thresholds: accept/ignore thresholds.
    """
    sequences = sequences or {}
    outliers = _sequence_outliers(predictions, sequences, thresholds)
    items = []
    for rel in sorted(predictions):
        pred = predictions[rel]
        seq = sequences.get(rel)
        for i, det in enumerate(pred.detections):
            if det.confidence < thresholds.ignore:
                continue
            reasons = []
            if certainty(det) < thresholds.accept:
                reasons.append(QueueReason.LOW_CONFIDENCE)
            if disagrees(det):
                reasons.append(QueueReason.DISAGREEMENT)
            if (rel, i) in outliers:
                reasons.append(QueueReason.SEQUENCE)
            if not reasons:
                continue
            items.append(QueueItem(
                file=rel, index=i, detection_id=detection_id(rel, det), detection=det,
                model_label=model_label(det), certainty=certainty(det), margin=margin(det),
                reasons=tuple(reasons), location=seq.location if seq else "", seq_id=seq.seq_id if seq else "",
                datetime=pred.meta.datetime,
            ))
    items.sort(key=lambda it: (it.margin, it.file, it.index))
    return tuple(items)
