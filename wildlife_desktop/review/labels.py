"""Label lists for relabelling: the full list, the number-key labels and the type-ahead search."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ..core.records import Detection, Prediction
from ..formats.decisions import UNKNOWN_LABEL, ReviewDecision


def label_list(
    labels: Sequence[str], predictions: Iterable[Prediction], decisions: Iterable[ReviewDecision]
) -> tuple[str, ...]:
    """Every choosable label: ``labels`` (classifier order), then labels seen in the data and decisions,
    then the detector's categories (animal, person, vehicle), so the list is never empty with results."""
    seen: dict[str, None] = dict.fromkeys(x for x in labels if x)
    categories: dict[str, None] = {}
    for pred in predictions:
        for det in pred.detections:
            for c in det.classifications:
                seen.setdefault(c.label, None)
            if det.category_name:
                categories.setdefault(det.category_name, None)
    for d in decisions:
        if d.label:
            seen.setdefault(d.label, None)
    for name in categories:
        seen.setdefault(name, None)
    return tuple(seen)


def default_quick_labels(decisions: Iterable[ReviewDecision], queued: Iterable[Detection],
                         labels: Sequence[str] = ()) -> tuple[str, ...]:
    """Number-key labels out of the box: the reviewer's most used labels, then the queue's most frequent
    model labels (species, else the detector's category), then the rest of ``labels`` in order."""
    counts: Counter[str] = Counter(d.label for d in decisions if d.label and d.label != UNKNOWN_LABEL)
    model: Counter[str] = Counter(det.top_label or det.category_name for det in queued
                                  if det.top_label or det.category_name)
    ranked = [x for x, _ in counts.most_common()] + [x for x, _ in model.most_common() if x not in counts]
    return tuple(dict.fromkeys([*ranked, *(x for x in labels if x and x != UNKNOWN_LABEL)]))


def search_labels(labels: Sequence[str], text: str, *, limit: int = 20, first: Sequence[str] = ()) -> tuple[str, ...]:
    """Type-ahead: prefix matches, then word-prefix, then substring (case-insensitive), in list order.

    An empty query lists ``first`` (the number-key labels) and then the rest.
    """
    q = text.strip().lower()
    if not q:
        return (tuple(first) + tuple(x for x in labels if x not in first))[:limit]
    ranked: list[list[str]] = [[], [], []]
    for label in labels:
        low = label.lower()
        if low.startswith(q):
            ranked[0].append(label)
        elif any(w.startswith(q) for w in low.replace("_", " ").replace("-", " ").split()):
            ranked[1].append(label)
        elif q in low:
            ranked[2].append(label)
    return tuple(ranked[0] + ranked[1] + ranked[2])[:limit]
