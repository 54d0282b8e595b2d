"""ReviewSession: the headless keyboard review the GUI's review pane drives (no Qt here).

Threading contract: a session is a plain object owned by one thread (the GUI thread); every
method is quick (one appended line in ``decisions.jsonl`` per decision, under the folder's write
lock, whatever the history's size; no image I/O).

Flow: the queue (``review.queue``) is walked with a cursor. A decision (accept, reject, unknown,
relabel, quick label, empty image) is written at once through ``formats.decisions`` (the
session never holds unsaved work) and the cursor moves to the next undecided crop. ``skip``
moves on without deciding; ``back`` steps to the previous crop, decided or not, so a decision
can be changed. Undo/redo are multi-level stacks of *steps* (one key press = one step, also
"apply to sequence"); undo appends the restored previous decision (or a ``clear`` tombstone) to
the history, so the file stays an audit trail. The stacks live for the session; decisions
themselves survive restarts. Decisions made on another model's boxes re-attach by IoU (see
``formats.decisions.match_file``), so a re-run keeps the review's progress.

Other writers: the session only ever appends its own records, so a second window, a second
laptop or a ``decisions import`` made meanwhile is never erased. Their records come into the
session with each decision it saves, and with :meth:`ReviewSession.reload`.

Pace: the median interval between the reviewer's last 50 decisions (pauses over 5 minutes are
ignored) times the remaining count gives the ETA.
"""

from __future__ import annotations

import datetime as _dt
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from ..core.records import Prediction
from ..formats.bundle import SequenceInfo, detection_id
from ..formats.decisions import (
    SOURCE_SMOOTHING,
    UNKNOWN_LABEL,
    DecisionKey,
    DecisionLog,
    LogUpdate,
    ReviewDecision,
    match_file,
)
from .actions import ReviewAction
from .labels import default_quick_labels, label_list, search_labels
from .queue import DEFAULT_THRESHOLDS, QueueFilter, QueueItem, QueueThresholds, build_queue
from .smoothing import SmoothingOptions, Suggestion, smoothing_suggestions

STATE_DIRNAME: Final = ".wildlife"  # pipeline.journal.STATE_DIRNAME (review may not import pipeline)
QUICK_SLOTS: Final = 9
_PACE_WINDOW: Final = 50
_PAUSE_S: Final = 300.0


@dataclass(frozen=True)
class ReviewProgress:
    done: int
    remaining: int
    total: int
    pace_s: float | None  # seconds per decision at this reviewer's pace; None until known
    eta_s: float | None


@dataclass(frozen=True)
class _Step:
    records: tuple[ReviewDecision, ...]
    previous: tuple[ReviewDecision | None, ...]
    cursor_before: DecisionKey | None
    cursor_after: DecisionKey | None


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class ReviewSession:
    """Keyboard review over one folder's predictions; see the module docstring."""

    def __init__(
        self,
        predictions: Mapping[str, Prediction],
        state_dir: Path,
        *,
        reviewer: str,
        sequences: Mapping[str, SequenceInfo] | None = None,
        thresholds: QueueThresholds = DEFAULT_THRESHOLDS,
        labels: Sequence[str] = (),
        quick_labels: Sequence[str] | None = None,
        now: Callable[[], str] = _utc_now,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.reviewer = reviewer
        self.thresholds = thresholds
        self._preds = dict(predictions)
        self._seqs = dict(sequences or {})
        self._now, self._clock = now, clock
        self._log = DecisionLog(self.state_dir)
        self._history = list(self._log.read_all())
        self._latest: dict[DecisionKey, ReviewDecision] = {}
        self._by_file: dict[str, dict[DecisionKey, ReviewDecision]] = {}
        self._suggestions: dict[str, dict[DecisionKey, Suggestion]] = {}  # per sequence, computed when asked
        self._seq_files: dict[str, tuple[str, ...]] | None = None
        self._index(self._history)
        self._status: dict[str, tuple[dict[int, ReviewDecision], ReviewDecision | None]] = {}
        self._all = build_queue(self._preds, sequences=self._seqs, thresholds=thresholds)
        self._refresh_all()
        self._filter = QueueFilter()
        self._items = self._all
        self._cursor = self._next_undecided(-1)
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._intervals: list[float] = []
        self._last_t: float | None = None
        self._labels = label_list(labels, self._preds.values(), self._latest.values())
        self._quick: tuple[str, ...] = ()
        self.set_quick_labels(quick_labels)

    @classmethod
    def from_results(
        cls, results: Any, *, reviewer: str, state_dir: Path | None = None, **kwargs: Any
    ) -> ReviewSession:
        """Open a session on a ``pipeline.results.FolderResults``-like object (duck-typed).

        Uses ``results.predictions``, ``results.output_dir`` (decisions go to its ``.wildlife/``
        unless ``state_dir`` is given) and, when present, ``results.layer.classifier_labels``.
        Pass ``sequences=assign_sequences(...)`` to enable sequence checks and "apply to sequence".
        """
        layer = getattr(results, "layer", None)
        kwargs.setdefault("labels", tuple(getattr(layer, "classifier_labels", ()) or ()))
        sd = state_dir if state_dir is not None else Path(results.output_dir) / STATE_DIRNAME
        return cls(results.predictions, sd, reviewer=reviewer, **kwargs)

    # ------------------------------------------------------------------------------------------
    # queue state

    @property
    def items(self) -> tuple[QueueItem, ...]:
        """The (filtered) queue, most uncertain first, decided items included."""
        return self._items

    @property
    def position(self) -> int:
        """Cursor index into :attr:`items`; ``len(items)`` when the queue is finished."""
        return self._cursor

    @property
    def current(self) -> QueueItem | None:
        return self._items[self._cursor] if self._cursor < len(self._items) else None

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the reviewer can choose (classifier order, then labels seen in data)."""
        return self._labels

    def quick_labels(self) -> tuple[str, ...]:
        """Labels of the number keys 1-9 (fixed for the session so muscle memory holds)."""
        return self._quick

    def set_quick_labels(self, labels: Sequence[str] | None) -> None:
        """Fix the number-key labels; ``None`` (or empty): the reviewer's most used labels, then the queue's."""
        if not labels:
            labels = default_quick_labels(self._latest.values(), (it.detection for it in self._all), self._labels)
        self._quick = tuple(labels)[:QUICK_SLOTS]

    def set_thresholds(self, thresholds: QueueThresholds) -> None:
        """New accept/ignore thresholds: the queue is rebuilt; decisions, undo and redo stay.

        The cursor stays on the current crop when it is still queued, else it moves to the
        first undecided one. Undo steps are keyed by detection, not by queue position.
        """
        current = self.current
        self.thresholds = thresholds
        self._all = build_queue(self._preds, sequences=self._seqs, thresholds=thresholds)
        self._refresh_all()
        self._items = tuple(it for it in self._all if self._matches(self._filter, it))
        self._goto_key((current.file, current.detection_id) if current is not None else None)

    def set_filter(self, flt: QueueFilter, items: Sequence[QueueItem] | None = None) -> None:
        """Restrict the queue (class, folder, camera, dates); the cursor goes to the first undecided.

        ``items``: the answer of :meth:`filter_items` for ``flt``, when it was computed elsewhere
        (the window computes it on a pool thread for a season's queue).
        """
        self._filter = flt
        self._items = tuple(items) if items is not None else self.filter_items(flt)
        self._cursor = self._next_undecided(-1)

    def filter_items(self, flt: QueueFilter) -> tuple[QueueItem, ...]:
        """The queue items ``flt`` keeps (pure reads: may run on another thread meanwhile)."""
        return tuple(it for it in self._all if self._matches(flt, it))

    @property
    def all_items(self) -> tuple[QueueItem, ...]:
        """The whole queue, before the filter."""
        return self._all

    def _matches(self, flt: QueueFilter, item: QueueItem) -> bool:
        return flt.matches(item, self.decision_for(item), self.reviewer)

    # ------------------------------------------------------------------------------------------
    # smoothing suggestions (computed per sequence when asked, never applied without a key)

    def suggestion_for(self, item: QueueItem) -> Suggestion | None:
        """The smoothing suggestion for an undecided ``item`` (``review.smoothing``), or None."""
        if self.decision_for(item) is not None:
            return None
        seq = self._seqs.get(item.file)
        group = seq.seq_id if seq is not None else item.file
        cache = self._suggestions
        if group not in cache:
            files = self._sequence_files().get(group, (item.file,))
            preds = {f: self._preds[f] for f in files if f in self._preds}
            history = [d for f in files for d in self._by_file.get(f, {}).values()]
            opts = SmoothingOptions(detection_threshold=self.thresholds.ignore)
            cache[group] = {s.key: s for s in smoothing_suggestions(preds, self._seqs, history, opts)}
        return cache[group].get((item.file, item.detection_id))

    def _sequence_files(self) -> dict[str, tuple[str, ...]]:
        if self._seq_files is None:
            grouped: dict[str, list[str]] = {}
            for rel, seq in self._seqs.items():
                grouped.setdefault(seq.seq_id, []).append(rel)
            self._seq_files = {k: tuple(v) for k, v in grouped.items()}
        return self._seq_files

    def accept_suggestion(self) -> bool:
        """Take the current crop's smoothing suggestion: a relabel marked ``source="smoothing"``."""
        item = self.current
        sugg = self.suggestion_for(item) if item is not None else None
        if item is None or sugg is None:
            return False
        return self._commit([replace(self._record(item, "relabel", sugg.suggested), source=SOURCE_SMOOTHING,
                                     group=sugg.group)])

    def decide_many(self, items: Sequence[QueueItem], kind: str, label: str = "") -> int:
        """One decision (accept, reject, unknown, relabel) on many crops: one undo step; returns how many.

        ``accept`` keeps each crop's own model label; ``relabel`` needs ``label``.
        """
        if kind not in ("accept", "reject", "unknown", "relabel") or (kind == "relabel" and not label.strip()):
            return 0
        records = []
        for it in items:
            lab = (it.detection.top_label or "" if kind == "accept" else UNKNOWN_LABEL if kind == "unknown"
                   else label.strip() if kind == "relabel" else "")
            records.append(self._record(it, kind, lab))
        if kind == "relabel" and label.strip() not in self._labels:
            self._labels = (*self._labels, label.strip())
        return len(records) if records and self._commit(records) else 0

    @property
    def filter(self) -> QueueFilter:
        return self._filter

    def decision_for(self, item: QueueItem) -> ReviewDecision | None:
        """The effective decision on ``item`` (a file-level "empty" counts), or None."""
        matched, empty = self._status.get(item.file, ({}, None))
        return empty if empty is not None else matched.get(item.index)

    def progress(self) -> ReviewProgress:
        done = sum(1 for it in self._items if self.decision_for(it) is not None)
        remaining = len(self._items) - done
        pace = statistics.median(self._intervals) if self._intervals else None
        return ReviewProgress(done, remaining, len(self._items), pace, None if pace is None else pace * remaining)

    def decisions(self) -> tuple[ReviewDecision, ...]:
        """The effective decisions of the folder (latest per detection)."""
        return tuple(self._latest.values())

    def history(self) -> tuple[ReviewDecision, ...]:
        return tuple(self._history)

    def reviewed_files(self) -> set[str]:
        """Files with an effective decision (a set built from the latest-per-detection view)."""
        return {key[0] for key in self._latest}

    @property
    def warnings(self) -> tuple[str, ...]:
        """Why some stored records were skipped (damaged lines), one sentence each."""
        return self._log.warnings

    def reload(self) -> int:
        """Take in the decisions other writers appended since the last save; return how many.

        The cursor stays on the current crop; undo/redo keep their steps.
        """
        return self._take(self._log.read_new())

    def search_labels(self, text: str, limit: int = 20) -> tuple[str, ...]:
        """Type-ahead over all labels (see :func:`review.labels.search_labels`)."""
        return search_labels(self._labels, text, limit=limit, first=self._quick)

    # ------------------------------------------------------------------------------------------
    # actions

    def handle(self, action: ReviewAction, label: str | None = None) -> bool:
        """Carry out a key's action; False when nothing changed (e.g. RELABEL without a label)."""
        slot = action.quick_label_index
        if slot is not None:
            return slot < len(self._quick) and self.relabel(self._quick[slot])
        simple: dict[ReviewAction, Callable[[], bool]] = {
            ReviewAction.ACCEPT: self.accept, ReviewAction.REJECT: self.reject, ReviewAction.UNKNOWN: self.unknown,
            ReviewAction.MARK_EMPTY: self.mark_empty, ReviewAction.SKIP: self.skip, ReviewAction.BACK: self.back,
            ReviewAction.UNDO: self.undo, ReviewAction.REDO: self.redo,
            ReviewAction.APPLY_TO_SEQUENCE: lambda: self.apply_to_sequence() > 0,
            ReviewAction.ACCEPT_SUGGESTION: self.accept_suggestion,
        }
        if action is ReviewAction.RELABEL:
            return label is not None and self.relabel(label)
        fn = simple.get(action)
        return fn() if fn is not None else False

    def accept(self) -> bool:
        """The model's label is right (for a detector-only box: it is an animal/person/vehicle)."""
        item = self.current
        return item is not None and self._commit([self._record(item, "accept", item.detection.top_label or "")])

    def reject(self) -> bool:
        """False detection: the box is dropped from every export."""
        item = self.current
        return item is not None and self._commit([self._record(item, "reject")])

    def unknown(self) -> bool:
        item = self.current
        return item is not None and self._commit([self._record(item, "unknown", UNKNOWN_LABEL)])

    def relabel(self, label: str) -> bool:
        item, label = self.current, label.strip()
        if item is None or not label:
            return False
        if label not in self._labels:
            self._labels = (*self._labels, label)
        return self._commit([self._record(item, "relabel", label)])

    def mark_empty(self) -> bool:
        """The whole image shows no animal: every box of the file is dropped, the file verified empty."""
        item = self.current
        if item is None:
            return False
        return self._commit([ReviewDecision(item.file, "", "empty", reviewer=self.reviewer, time=self._now())])

    def skip(self) -> bool:
        """Move to the next undecided crop without deciding (wraps around)."""
        nxt = self._next_undecided(self._cursor, exclude_current=True)
        if nxt >= len(self._items) or nxt == self._cursor:
            return False
        self._cursor = nxt
        return True

    def back(self) -> bool:
        if self._cursor == 0 or not self._items:
            return False
        self._cursor = min(self._cursor, len(self._items)) - 1
        return True

    def goto(self, index: int) -> None:
        """Put the cursor on ``items[index]`` (a click in the GUI's list)."""
        self._cursor = max(0, min(index, len(self._items)))

    def apply_to_sequence(self) -> int:
        """Repeat the last decision on every undecided crop of its sequence; return how many.

        The source is the newest undoable step (else the current crop's decision). An "empty"
        decision marks every queued file of the sequence empty. Already decided crops keep
        their decisions. One undo step.
        """
        src: ReviewDecision | None
        if self._undo:
            src = self._undo[-1].records[0]
        else:
            cur = self.current
            src = self.decision_for(cur) if cur is not None else None
        seq = self._seqs.get(src.file) if src is not None else None
        if src is None or seq is None:
            return 0
        same = [it for it in self._all if (s := self._seqs.get(it.file)) is not None
                and (s.location, s.seq_id) == (seq.location, seq.seq_id) and self.decision_for(it) is None]
        if src.decision == "empty":
            files = sorted({it.file for it in same})
            records = [ReviewDecision(f, "", "empty", reviewer=self.reviewer, time=self._now()) for f in files]
        else:
            records = [self._record(it, src.decision, src.label) for it in same]
        if not records:
            return 0
        self._commit(records)
        return len(records)

    def undo(self) -> bool:
        if not self._undo:
            return False
        step = self._undo.pop()
        restore = []
        for rec, prev in zip(step.records, step.previous, strict=True):
            restore.append(prev if prev is not None else replace(
                rec, decision="clear", label="", reviewer=self.reviewer, time=self._now()))
        self._write(restore)
        self._redo.append(step)
        self._goto_key(step.cursor_before)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        step = self._redo.pop()
        self._write(list(step.records))
        self._undo.append(step)
        self._goto_key(step.cursor_after)
        return True

    # ------------------------------------------------------------------------------------------
    # internals

    def _record(self, item: QueueItem, kind: str, label: str = "") -> ReviewDecision:
        det = item.detection
        return ReviewDecision(
            file=item.file, detection_id=item.detection_id, decision=kind, label=label,  # type: ignore[arg-type]
            reviewer=self.reviewer, time=self._now(), bbox=det.bbox, frame=det.frame,
            model_label=item.model_label, confidence=round(item.certainty, 4),
        )

    def _commit(self, records: list[ReviewDecision]) -> bool:
        previous = tuple(self._latest.get(r.key) for r in records)
        before = self._key_at(self._cursor)
        self._write(records)
        self._cursor = self._next_undecided(self._cursor)
        self._undo.append(_Step(tuple(records), previous, before, self._key_at(self._cursor)))
        self._redo.clear()
        t = self._clock()
        if self._last_t is not None and t - self._last_t <= _PAUSE_S:
            self._intervals = [*self._intervals, t - self._last_t][-_PACE_WINDOW:]
        self._last_t = t
        return True

    def _write(self, records: Sequence[ReviewDecision]) -> None:
        # Appended at once under the folder lock (nothing is ever held unsaved); what other
        # writers appended since the last save comes back and is taken in first.
        self._take(self._log.append(records), tuple(records))

    def _take(self, update: LogUpdate, mine: tuple[ReviewDecision, ...] = ()) -> int:
        """Add records from the file (others') and ``mine`` to the history and the latest view."""
        if update.reset:  # the file was replaced (compacted by another writer): start over from it
            self._history = [*update.records, *mine]
            self._latest, self._by_file = {}, {}
            self._index(self._history)
            self._refresh_all()
            return len(update.records)
        new = (*update.records, *mine)
        self._history.extend(new)
        self._index(new)
        for rel in {r.file for r in new}:
            self._refresh(rel)
        return len(update.records)

    def _index(self, records: Sequence[ReviewDecision]) -> None:
        """Latest-wins views (all, and per file), in history order, as ``latest_decisions`` makes them."""
        self._suggestions = {}  # decisions changed: suggestions are computed again
        for r in records:
            self._latest.pop(r.key, None)
            per = self._by_file.setdefault(r.file, {})
            per.pop(r.key, None)
            if r.decision != "clear":
                self._latest[r.key] = r
                per[r.key] = r

    def _refresh_all(self) -> None:
        for rel in {it.file for it in self._all}:
            self._refresh(rel)

    def _refresh(self, rel: str) -> None:
        pred = self._preds.get(rel)
        if pred is None:
            return
        mine = list(self._by_file.get(rel, {}).values())
        ids = [detection_id(rel, d) for d in pred.detections]
        matched, empty = match_file(pred, ids, mine)
        self._status[rel] = (matched, self._latest.get((rel, "")) if empty else None)

    def _key_at(self, index: int) -> DecisionKey | None:
        return (self._items[index].file, self._items[index].detection_id) if index < len(self._items) else None

    def _goto_key(self, key: DecisionKey | None) -> None:
        for i, it in enumerate(self._items):
            if (it.file, it.detection_id) == key:
                self._cursor = i
                return
        self._cursor = self._next_undecided(-1)

    def _next_undecided(self, start: int, *, exclude_current: bool = False) -> int:
        n = len(self._items)
        order = list(range(start + 1, n)) + list(range(0, max(start, 0) + (0 if exclude_current else 1)))
        for i in order:
            if 0 <= i < n and self.decision_for(self._items[i]) is None:
                return i
        return n
