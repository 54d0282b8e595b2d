"""Thresholds from the review: how precise the model was, per class, above each confidence.

Every decision records the model's label and certainty at the time (``model_label``,
``confidence``). A decision says the model was *right* when it is ``accept`` (or a relabel to
the same label) and *wrong* when it is ``reject`` or a relabel to another label; ``unknown``
and ``empty`` say nothing about the label and are left out. Precision above ``t`` is
right / (right + wrong) over decisions with ``confidence >= t``.

Caveat (shown to users): the queue sends mostly *uncertain* boxes to people, so the sample is
biased toward low confidences; the curve is most trustworthy near and below the threshold in
use, and the suggestion needs ``min_support`` decisions above it.

A decision whose stored confidence is not a finite number (NaN or infinite, from an old or
hand-edited decisions file) says nothing about a threshold and is left out, so no curve or
suggestion ever divides by zero or shows NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..formats.decisions import ReviewDecision, latest_decisions

DEFAULT_STEPS: tuple[float, ...] = tuple(round(i * 0.05, 2) for i in range(20))
#: The thresholds shown to people (the window's dialog and ``decisions thresholds``).
DISPLAY_STEPS: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class PrecisionPoint:
    threshold: float
    precision: float | None  # None when no decision lies at or above the threshold
    support: int  # decisions at or above the threshold


@dataclass(frozen=True)
class ThresholdSuggestion:
    label: str
    threshold: float | None  # lowest threshold meeting the target; None when none does
    precision: float | None
    support: int


def _outcomes(decisions: Iterable[ReviewDecision]) -> dict[str, list[tuple[float, bool]]]:
    out: dict[str, list[tuple[float, bool]]] = {}
    for d in latest_decisions(decisions).values():
        if (d.confidence is None or not math.isfinite(d.confidence) or not d.model_label
                or d.decision not in ("accept", "reject", "relabel")):
            continue
        right = d.decision == "accept" or (d.decision == "relabel" and d.label == d.model_label)
        out.setdefault(d.model_label, []).append((float(d.confidence), right))
    return out


def precision_by_class(
    decisions: Iterable[ReviewDecision], steps: Sequence[float] = DEFAULT_STEPS
) -> dict[str, tuple[PrecisionPoint, ...]]:
    """Per model label, the precision of the model at or above each threshold in ``steps``."""
    curves = {}
    for label, pairs in sorted(_outcomes(decisions).items()):
        pts = []
        for t in steps:
            above = [right for conf, right in pairs if conf >= t]
            pts.append(PrecisionPoint(t, sum(above) / len(above) if above else None, len(above)))
        curves[label] = tuple(pts)
    return curves


def suggest_thresholds(
    decisions: Iterable[ReviewDecision], target_precision: float = 0.95, *, min_support: int = 5
) -> dict[str, ThresholdSuggestion]:
    """Per model label, the lowest accept threshold whose precision meets ``target_precision``.

    Candidate thresholds are the decided confidences themselves, so the answer is exact for
    the user's data. A label with fewer than ``min_support`` decisions above every candidate
    that meets the target gets ``threshold=None``.
    """
    out = {}
    for label, pairs in sorted(_outcomes(decisions).items()):
        best = ThresholdSuggestion(label, None, None, 0)
        for t in sorted({conf for conf, _ in pairs}):
            above = [right for conf, right in pairs if conf >= t]
            prec = sum(above) / len(above)
            if len(above) >= min_support and prec >= target_precision:
                best = ThresholdSuggestion(label, t, prec, len(above))
                break
        out[label] = best
    return out


def strictest_threshold(suggestions: dict[str, ThresholdSuggestion]) -> float | None:
    """The accept threshold at which every class with a suggestion meets the target (the highest one)."""
    values = [s.threshold for s in suggestions.values() if s.threshold is not None]
    return max(values) if values else None
