"""Animal counts from verified boxes (multi-animal images: every box is reviewed on its own).

Per image: the number of verified boxes per label. Per sequence: per label, the *maximum* over
its frames (the usual camera-trap convention: the same animals appear in several frames, so
summing would over-count). Only verified boxes count (accept, relabel, unknown); rejected boxes
and files confirmed empty count zero. Verification follows ``formats.decisions.apply_decisions``
exactly, so counts and exports cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.records import Prediction
from ..formats.bundle import SequenceInfo, detection_id
from ..formats.decisions import UNKNOWN_LABEL, ReviewDecision, count_key, latest_decisions, match_file


@dataclass(frozen=True)
class VerifiedCounts:
    """``per_image[rel][label]`` and ``per_sequence[(location, seq_id)][label]``."""

    per_image: dict[str, dict[str, int]]
    per_sequence: dict[tuple[str, str], dict[str, int]]
    verified_empty: frozenset[str]


def verified_counts(
    predictions: Mapping[str, Prediction],
    decisions: Iterable[ReviewDecision],
    sequences: Mapping[str, SequenceInfo] | None = None,
) -> VerifiedCounts:
    """Count verified animals per image and per sequence.

    Args:
        predictions: model output per relative path.
        decisions: the decision history (latest per detection wins).
        sequences: sequence membership; files without one form their own sequence.
    """
    per_file: dict[str, list[ReviewDecision]] = {}
    for d in latest_decisions(decisions).values():
        per_file.setdefault(d.file, []).append(d)
    per_image: dict[str, dict[str, int]] = {}
    empties: set[str] = set()
    for rel, decs in per_file.items():
        pred = predictions.get(rel)
        if pred is None:
            continue
        matched, empty = match_file(pred, [detection_id(rel, d) for d in pred.detections], decs)
        if empty:
            empties.add(rel)
            per_image[rel] = {}
            continue
        counts: Counter[str] = Counter()
        for i, d in matched.items():
            if d.decision == "reject":
                continue
            det = pred.detections[i]
            label = UNKNOWN_LABEL if d.decision == "unknown" else (d.label or det.top_label or det.category_name)
            counts[label] += 1
        per_image[rel] = dict(counts)
    per_sequence: dict[tuple[str, str], dict[str, int]] = {}
    for rel, image in per_image.items():
        seq = (sequences or {}).get(rel)
        key = (seq.location, seq.seq_id) if seq is not None else ("", rel)
        agg = per_sequence.setdefault(key, {})
        for label, n in image.items():
            agg[label] = max(agg.get(label, 0), n)
    return VerifiedCounts(per_image, per_sequence, frozenset(empties))


@dataclass(frozen=True)
class EventCount:
    """Individuals of one label in one event: the most in any one frame (``count``)."""

    location: str
    seq_id: str
    label: str
    count: int
    start: str | None  # first capture time of the event's frames ("YYYY-MM-DD HH:MM:SS")
    end: str | None
    verified: bool  # every frame's figure comes from a person (verified boxes or an edited count)
    edited: bool  # a person's edited count is among the frames' figures


def image_counts(
    predictions: Mapping[str, Prediction],
    decisions: Iterable[ReviewDecision] = (),
    *,
    detection_threshold: float = 0.2,
    classification_threshold: float = 0.5,
    verified_only: bool = False,
) -> dict[str, dict[str, tuple[int, bool, bool]]]:
    """Per image, per label: (count, verified, edited).

    A person's ``count`` decision on (image, label) wins; otherwise verified boxes count under
    their verified label, and (unless ``verified_only``) the model's other boxes at or above
    ``detection_threshold`` under their top label when it is at or above
    ``classification_threshold``, else their detector category. Rejected boxes and files
    confirmed empty count nothing.
    """
    latest = latest_decisions(decisions)
    per_file: dict[str, list[ReviewDecision]] = {}
    for dec in latest.values():
        per_file.setdefault(dec.file, []).append(dec)
    out: dict[str, dict[str, tuple[int, bool, bool]]] = {}
    for rel in sorted(predictions):
        pred = predictions[rel]
        if pred.failed:
            continue
        decs = per_file.get(rel, [])
        matched: Mapping[int, ReviewDecision] = {}
        empty = False
        if decs:
            matched, empty = match_file(pred, [detection_id(rel, d) for d in pred.detections], decs)
        counts: dict[str, tuple[int, bool, bool]] = {}
        if not empty:
            for i, det in enumerate(pred.detections):
                d = matched.get(i)
                if d is not None and d.decision == "reject":
                    continue
                label: str | None
                if d is not None and d.decision in ("accept", "relabel", "unknown"):
                    label = UNKNOWN_LABEL if d.decision == "unknown" else (d.label or det.top_label or "")
                    verified = True
                elif verified_only or det.confidence < detection_threshold:
                    continue
                else:
                    top = det.top_label_confidence
                    label = det.top_label if top is not None and top >= classification_threshold else det.category_name
                    verified = False
                n, v, _ = counts.get(label or det.category_name, (0, True, False))
                counts[label or det.category_name] = (n + 1, v and verified, False)
        for d in decs:
            if d.decision == "count" and d.count is not None and d.label:
                counts[d.label] = (max(0, d.count), True, True)
        counts = {k: v for k, v in counts.items() if v[0] > 0 or v[2]}
        if counts or empty:
            out[rel] = counts
    return out


def event_counts(
    predictions: Mapping[str, Prediction],
    sequences: Mapping[str, SequenceInfo],
    decisions: Iterable[ReviewDecision] = (),
    *,
    detection_threshold: float = 0.2,
    classification_threshold: float = 0.5,
    verified_only: bool = False,
) -> tuple[EventCount, ...]:
    """Per event and label, the maximum over its frames of :func:`image_counts` (for the analysis tables).

    ``sequences``: from ``pipeline.sequences.assign_sequences`` on the corrected times
    (``formats.corrections``); ``predictions`` should carry the corrected times too, so
    ``start``/``end`` are corrected.
    """
    per_image = image_counts(predictions, decisions, detection_threshold=detection_threshold,
                             classification_threshold=classification_threshold, verified_only=verified_only)
    agg: dict[tuple[str, str, str], list[Any]] = {}
    for rel, counts in per_image.items():
        seq = sequences.get(rel)
        location, seq_id = (seq.location, seq.seq_id) if seq is not None else ("", rel)
        when = predictions[rel].meta.datetime
        for label, (n, verified, edited) in counts.items():
            a = agg.setdefault((location, seq_id, label), [0, when, when, True, False])
            a[0] = max(a[0], n)
            if when:
                a[1] = when if a[1] is None else min(a[1], when)
                a[2] = when if a[2] is None else max(a[2], when)
            a[3] = a[3] and verified
            a[4] = a[4] or edited
    return tuple(EventCount(loc, seq, label, a[0], a[1], a[2], a[3], a[4])
                 for (loc, seq, label), a in sorted(agg.items()))


def count_record(file: str, label: str, count: int, *, reviewer: str, time: str) -> ReviewDecision:
    """A person's count of ``label`` in ``file`` (replaces the box count of that label in that image)."""
    if count < 0:
        raise ValueError("a count is 0 or more")
    return ReviewDecision(file, count_key(label), "count", label, reviewer, time, count=int(count))
