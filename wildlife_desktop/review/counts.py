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

from ..core.records import Prediction
from ..formats.bundle import SequenceInfo, detection_id
from ..formats.decisions import UNKNOWN_LABEL, ReviewDecision, latest_decisions, match_file


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
    for rel, counts in per_image.items():
        seq = (sequences or {}).get(rel)
        key = (seq.location, seq.seq_id) if seq is not None else ("", rel)
        agg = per_sequence.setdefault(key, {})
        for label, n in counts.items():
            agg[label] = max(agg.get(label, 0), n)
    return VerifiedCounts(per_image, per_sequence, frozenset(empties))
