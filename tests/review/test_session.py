"""The headless keyboard review: queue order, every action with undo/redo, persistence, keymap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.bundle import SequenceInfo
from wildlife_desktop.formats.decisions import latest_decisions, load_decisions
from wildlife_desktop.review.actions import ReviewAction
from wildlife_desktop.review.keymap import DEFAULT_KEYMAP, action_for, help_rows, load_keymap
from wildlife_desktop.review.queue import QueueFilter, QueueReason, QueueThresholds, build_queue
from wildlife_desktop.review.session import ReviewSession


def _det(conf: float, x: float, *labels: tuple[str, float], cat: str = "1") -> Detection:
    return Detection(cat, conf, BBox(x, 0.1, 0.1, 0.1), tuple(Classification(n, c) for n, c in labels))


PREDS = {
    "cam1/a.jpg": Prediction("cam1/a.jpg", "image", MediaMeta(datetime="2024-05-01 10:00:00"), (
        _det(0.99, 0.1, ("red_fox", 0.99)),             # sure: not queued
        _det(0.9, 0.5, ("red_fox", 0.50), ("badger", 0.45)),  # margin 0.05
        _det(0.1, 0.7, ("badger", 0.9)),                # below ignore: never shown
    )),
    "cam1/b.jpg": Prediction("cam1/b.jpg", "image", MediaMeta(datetime="2024-05-01 10:00:05"), (
        _det(0.8, 0.2, ("badger", 0.8)),                # margin min(0.6, 0.6) = 0.6
    )),
    "cam2/c.jpg": Prediction("cam2/c.jpg", "image", MediaMeta(datetime="2024-06-02 08:00:00"), (
        _det(0.55, 0.3, ("roe_deer", 0.7), ("red_fox", 0.2)),  # margin min(0.1, 0.5) = 0.1
        _det(0.99, 0.6, ("blank", 0.99)),               # detector/classifier disagree
    )),
}
SEQS = {"cam1/a.jpg": SequenceInfo("cam1", "cam1#1", 0, 2), "cam1/b.jpg": SequenceInfo("cam1", "cam1#1", 1, 2),
        "cam2/c.jpg": SequenceInfo("cam2", "cam2#1", 0, 1)}


def _session(state: Path, **kw: object) -> ReviewSession:
    clock = itertools.count(0.0, 4.0)  # one decision every 4 s
    stamps = (f"2026-01-01T10:{m:02d}:{s:02d}+00:00" for m in range(60) for s in range(60))
    return ReviewSession(PREDS, state, reviewer="ana", sequences=SEQS, labels=("red_fox", "badger", "roe_deer",
                         "red_deer"), clock=lambda: next(clock), now=lambda: next(stamps), **kw)  # type: ignore[arg-type]


def test_queue_order_reasons_and_filters() -> None:
    q = build_queue(PREDS, sequences=SEQS, thresholds=QueueThresholds(accept=0.98, ignore=0.2))
    # smallest margin first; the sure blank box is queued only for the disagreement, and last (margin 0.98)
    assert [(it.file, it.index) for it in q] == [("cam1/a.jpg", 1), ("cam2/c.jpg", 0), ("cam1/b.jpg", 0),
                                                 ("cam2/c.jpg", 1)]
    assert [round(it.margin, 2) for it in q] == [0.05, 0.1, 0.6, 0.98]
    assert q[3].reasons == (QueueReason.DISAGREEMENT,)
    # sequence cam1#1: red_fox twice (a, incl. the sure box), badger once (b) -> b is the outlier
    assert q[2].reasons == (QueueReason.LOW_CONFIDENCE, QueueReason.SEQUENCE)
    assert QueueReason.SEQUENCE not in q[0].reasons
    assert [it.file for it in q if QueueFilter(location="cam2").matches(it)] == ["cam2/c.jpg"] * 2
    assert [it.model_label for it in q if QueueFilter(labels=frozenset({"BADGER"})).matches(it)] == ["badger"]
    assert {it.file for it in q if QueueFilter(date_from="2024-05-01", date_to="2024-05-31").matches(it)} == {
        "cam1/a.jpg", "cam1/b.jpg"}
    assert {it.file for it in q if QueueFilter(folder="cam1").matches(it)} == {"cam1/a.jpg", "cam1/b.jpg"}


def test_every_action_with_undo_and_redo(tmp_path: Path) -> None:
    s = _session(tmp_path)
    keys = [(it.file, it.index) for it in s.items]
    expected = {
        ReviewAction.ACCEPT: ("accept", "red_fox"),
        ReviewAction.REJECT: ("reject", ""),
        ReviewAction.UNKNOWN: ("unknown", "unknown"),
        ReviewAction.QUICK_LABEL_2: ("relabel", s.quick_labels()[1]),
    }
    for action, (kind, label) in expected.items():
        first = s.current
        assert first is not None and s.handle(action)
        d = s.decision_for(first)
        assert d is not None and (d.decision, d.label, d.reviewer) == (kind, label, "ana")
        assert s.position == 1 and s.progress().done == 1
        assert s.handle(ReviewAction.UNDO)
        assert s.decision_for(first) is None and s.current == first and s.progress().done == 0
        assert s.handle(ReviewAction.REDO) and s.decision_for(first) == d
        assert s.undo()
    assert s.handle(ReviewAction.RELABEL) is False  # needs a label from the search popup
    assert s.handle(ReviewAction.RELABEL, label="red_deer") and s.decision_for(s.items[0]).label == "red_deer"
    assert s.undo() and s.redo() and s.undo()
    # mark empty: both boxes of cam2/c.jpg are done with one key; undo brings both back
    s.goto(1)
    assert s.handle(ReviewAction.MARK_EMPTY)
    assert [s.decision_for(it) is not None for it in s.items] == [False, True, False, True]
    assert s.decision_for(s.items[3]).decision == "empty"
    assert s.undo() and s.progress().done == 0 and s.position == 1  # undo returns to the crop
    # skip / back move without deciding
    s.goto(0)
    assert s.handle(ReviewAction.SKIP) and s.position == 1
    assert s.handle(ReviewAction.BACK) and s.position == 0
    assert not s.handle(ReviewAction.BACK)
    assert [(it.file, it.index) for it in s.items] == keys
    # multi-level: three decisions, three undos, three redos
    for _ in range(3):
        s.accept()
    assert s.progress().done == 3
    assert s.undo() and s.undo() and s.undo() and not s.undo()
    assert s.progress().done == 0
    assert s.redo() and s.redo() and s.redo() and not s.redo() and s.progress().done == 3
    # a new decision clears the redo stack
    s.undo()
    s.goto(3)
    s.reject()
    assert not s.redo()


def test_decisions_persist_across_restart_and_history_is_an_audit_trail(tmp_path: Path) -> None:
    s = _session(tmp_path)
    s.relabel("red_deer")  # cam1/a.jpg #1
    s.reject()             # cam2/c.jpg #0
    s.accept()             # cam1/b.jpg #0
    s.undo()
    stored = latest_decisions(load_decisions(tmp_path))
    assert {(d.file, d.decision, d.label) for d in stored.values()} == {
        ("cam1/a.jpg", "relabel", "red_deer"), ("cam2/c.jpg", "reject", "")}
    assert [d.decision for d in load_decisions(tmp_path)] == ["relabel", "reject", "accept", "clear"]
    again = _session(tmp_path)
    assert again.progress().done == 2 and again.current is not None
    assert (again.current.file, again.current.index) == ("cam1/b.jpg", 0)  # resumes at the first undecided
    assert "red_deer" in again.quick_labels()


def test_apply_to_sequence_and_pace(tmp_path: Path) -> None:
    s = _session(tmp_path)
    s.goto(0)  # cam1/a.jpg #1, sequence cam1#1 also holds cam1/b.jpg
    s.relabel("badger")
    assert s.handle(ReviewAction.APPLY_TO_SEQUENCE)
    b = next(it for it in s.items if it.file == "cam1/b.jpg")
    assert s.decision_for(b).decision == "relabel" and s.decision_for(b).label == "badger"
    assert s.undo() and s.decision_for(b) is None  # one undo step for the whole sequence
    p = s.progress()
    assert (p.done, p.remaining, p.total) == (1, 3, 4)
    assert p.pace_s == 4.0 and p.eta_s == 12.0


def test_type_ahead_search_and_quick_labels(tmp_path: Path) -> None:
    s = _session(tmp_path)
    assert s.search_labels("red") == ("red_fox", "red_deer")
    assert s.search_labels("deer") == ("roe_deer", "red_deer")  # word prefix, label-list order
    assert s.search_labels("adg") == ("badger",)
    assert len(s.quick_labels()) <= 9 and s.quick_labels()[0] in s.labels


def test_keymap_is_data_overridable_with_help_rows() -> None:
    assert DEFAULT_KEYMAP["Return"] is ReviewAction.ACCEPT and DEFAULT_KEYMAP["Ctrl+Z"] is ReviewAction.UNDO
    assert action_for(DEFAULT_KEYMAP, "ctrl+shift+z") is ReviewAction.REDO
    km = load_keymap({"Y": "accept", "X": None, "shift+ctrl+u": ReviewAction.UNKNOWN})
    assert km["Y"] is ReviewAction.ACCEPT and "X" not in km and km["Ctrl+Shift+U"] is ReviewAction.UNKNOWN
    with pytest.raises(ValueError, match="Unknown review action"):
        load_keymap({"K": "launch_rocket"})
    rows = dict((desc, keys) for keys, desc in help_rows(km, ("red_fox",)))
    assert rows["Label as red_fox"] == "1" and "Label as saved label 2" not in rows
    assert not any(d.startswith("Reject") for d in rows)  # X was its only key
    assert {a for a in ReviewAction} == set(DEFAULT_KEYMAP.values())  # every action has a default key


def test_new_thresholds_rebuild_the_queue_and_keep_undo(tmp_path: Path) -> None:
    s = _session(tmp_path, thresholds=QueueThresholds(accept=0.98, ignore=0.2))
    first = s.current
    assert first is not None and (first.file, first.index) == ("cam1/a.jpg", 1)
    s.accept()
    assert s.current is not None and (s.current.file, s.current.index) == ("cam2/c.jpg", 0)
    # accept 0.6: every queued box stays (certainties 0.5, 0.55; b.jpg and the blank box have other reasons)
    s.set_thresholds(QueueThresholds(accept=0.6, ignore=0.2))
    assert len(s.items) == 4
    assert s.current is not None and (s.current.file, s.current.index) == ("cam2/c.jpg", 0)  # cursor stays
    # accept 0.52: c.jpg's 0.55 box is now trusted and leaves the queue; the cursor moves to the next undecided
    s.set_thresholds(QueueThresholds(accept=0.52, ignore=0.2))
    assert ("cam2/c.jpg", 0) not in {(it.file, it.index) for it in s.items}
    assert ("cam1/a.jpg", 1) in {(it.file, it.index) for it in s.items}  # decided, still listed
    assert s.current is not None and (s.current.file, s.current.index) == ("cam1/b.jpg", 0)
    assert s.undo()  # the decision made before the change can still be undone
    assert not latest_decisions(load_decisions(tmp_path)) or all(
        d.decision == "clear" for d in latest_decisions(load_decisions(tmp_path)).values())
    assert s.redo() and s.decisions()[0].decision == "accept"
