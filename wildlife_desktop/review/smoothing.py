"""Smoothing suggestions: where the frames of an event (or the boxes of an image) disagree.

A sequence that reads zebra, zebra, zebra, zebra, zebra, wildebeest (at 0.3) is five zebras and
one uncertain crop of a zebra. MegaDetector's classification smoothing rewrites such labels; here
they are only *proposed*: a :class:`Suggestion` per box, which the reviewer accepts with one key
(:func:`accept_records`: a ``relabel`` decision with ``source="smoothing"``, which every export
flags) or ignores. Nothing is applied silently, and a box a person decided on is never proposed.

Rules (own code, MegaDetector's ideas), per group (an image, then an event):

* a box takes part when it is an animal box at or above the detection threshold with a label: a
  person's label (a verified box), else the classifier's top label;
* a label is *counted* for a box that is verified or whose top label is at or above the
  classification threshold;
* the dominant label is the most counted one (not an "other" label such as ``unknown``), with at
  least ``min_dominant`` boxes and strictly more than any other label;
* proposed for an undecided box whose label differs from it: a low-confidence label (not
  counted), a label counted at most ``max_minority`` times, or an "other" label (then
  ``min_dominant_other`` dominant boxes suffice).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.records import BBox, Detection, Prediction
from ..formats.bundle import SequenceInfo, detection_id
from ..formats.decisions import POSITIVE_KINDS, SOURCE_SMOOTHING, UNKNOWN_LABEL, ReviewDecision, latest_decisions

OTHER_LABELS = frozenset({"other", "unknown", "animal", "mammal", "bird", "blank", "no cv result"})


@dataclass(frozen=True)
class SmoothingOptions:
    min_dominant: int = 3
    max_minority: int = 1
    min_dominant_other: int = 2
    detection_threshold: float = 0.2
    classification_threshold: float = 0.5
    other_labels: frozenset[str] = OTHER_LABELS


@dataclass(frozen=True)
class Suggestion:
    """``suggested`` instead of ``current`` for one box, because its ``group`` says so."""

    file: str
    detection_id: str
    bbox: BBox
    frame: int | None
    current: str
    confidence: float  # the current label's confidence
    suggested: str
    support: int  # boxes of the group counted for ``suggested``
    level: str  # "image" or "sequence"
    group: str  # the file, or the event's seq_id

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.detection_id)


@dataclass(frozen=True)
class _Box:
    file: str
    did: str
    det: Detection
    label: str
    confidence: float
    counted: bool
    decided: bool


def _boxes(rel: str, pred: Prediction, latest: Mapping[tuple[str, str], ReviewDecision],
           opts: SmoothingOptions) -> list[_Box]:
    out: list[_Box] = []
    if pred.failed:
        return out
    for det in pred.detections:
        did = detection_id(rel, det)
        d = latest.get((rel, did))
        if d is not None and d.decision not in POSITIVE_KINDS:
            continue  # rejected (or other kinds): not an animal of this group
        verified = d is not None
        if d is not None:
            label = UNKNOWN_LABEL if d.decision == "unknown" else (d.label or det.top_label or "")
            conf = 1.0
        else:
            if det.category != "1" or det.confidence < opts.detection_threshold or not det.classifications:
                continue
            label, conf = det.classifications[0].label, det.classifications[0].confidence
        if not label:
            continue
        out.append(_Box(rel, did, det, label, conf, verified or conf >= opts.classification_threshold, verified))
    return out


def _propose(boxes: list[_Box], level: str, group: str, opts: SmoothingOptions) -> list[Suggestion]:
    counts = Counter(b.label for b in boxes if b.counted)
    ranked = [(n, lab) for lab, n in counts.most_common() if lab.lower() not in opts.other_labels]
    if not ranked:
        return []
    n_dom, dominant = ranked[0]
    if any(n >= n_dom for lab, n in counts.items() if lab != dominant):
        return []  # a tie, or an "other" label as common: no majority
    out = []
    for b in boxes:
        if b.decided or b.label == dominant:
            continue
        other = b.label.lower() in opts.other_labels
        if other and n_dom >= opts.min_dominant_other or not other and n_dom >= opts.min_dominant and (
                not b.counted or counts[b.label] <= opts.max_minority):
            out.append(Suggestion(b.file, b.did, b.det.bbox, b.det.frame, b.label, round(b.confidence, 4),
                                  dominant, n_dom, level, group))
    return out


def smoothing_suggestions(
    predictions: Mapping[str, Prediction],
    sequences: Mapping[str, SequenceInfo],
    decisions: Iterable[ReviewDecision] = (),
    options: SmoothingOptions | None = None,
) -> tuple[Suggestion, ...]:
    """Image-level, then sequence-level suggestions (one per box at most), in file order."""
    opts = options or SmoothingOptions()
    latest = latest_decisions(decisions)
    per_file = {rel: _boxes(rel, predictions[rel], latest, opts) for rel in sorted(predictions)}
    found: dict[tuple[str, str], Suggestion] = {}
    for rel, boxes in per_file.items():
        for s in _propose(boxes, "image", rel, opts):
            found[s.key] = s
    events: dict[str, list[_Box]] = {}
    for rel, boxes in per_file.items():
        seq = sequences.get(rel)
        events.setdefault(seq.seq_id if seq is not None else rel, []).extend(boxes)
    for seq_id, boxes in events.items():
        for s in _propose(boxes, "sequence", seq_id, opts):
            found.setdefault(s.key, s)
    return tuple(sorted(found.values(), key=lambda s: (s.file, s.detection_id)))


def accept_records(suggestions: Iterable[Suggestion], *, reviewer: str, time: str,
                   model_labels: Mapping[tuple[str, str], str] | None = None) -> tuple[ReviewDecision, ...]:
    """The decisions that accept ``suggestions``: ``relabel`` to the suggested label, ``source="smoothing"``."""
    return tuple(ReviewDecision(s.file, s.detection_id, "relabel", s.suggested, reviewer, time, s.bbox, s.frame,
                                (model_labels or {}).get(s.key, s.current), s.confidence, source=SOURCE_SMOOTHING,
                                group=s.group)
                 for s in suggestions)
