"""The latest-wins view of a decision history, and merging another reviewer's decisions into it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .decision_record import DecisionKey, ReviewDecision


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


def latest_decisions(decisions: Iterable[ReviewDecision]) -> dict[DecisionKey, ReviewDecision]:
    """The effective decision per ``(file, detection_id)``: the last record, minus tombstones."""
    out: dict[DecisionKey, ReviewDecision] = {}
    for d in decisions:
        out.pop(d.key, None)  # re-insert so dict order follows the history
        if d.decision != "clear":
            out[d.key] = d
    return out


def _disagree(a: ReviewDecision, b: ReviewDecision) -> bool:
    return a.decision != b.decision or (a.label or "") != (b.label or "") or a.count != b.count


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
