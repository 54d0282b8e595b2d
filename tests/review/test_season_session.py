"""The session at season scale: filters by review state, label and confidence band; the smoothing
suggestion taken with one key (undoable); bulk decisions as one undo step."""

from __future__ import annotations

from pathlib import Path

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.decisions import SOURCE_SMOOTHING, load_decisions
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.actions import ReviewAction
from wildlife_desktop.review.keymap import DEFAULT_KEYMAP
from wildlife_desktop.review.queue import QueueFilter, QueueThresholds
from wildlife_desktop.review.session import ReviewSession


def _preds() -> dict[str, Prediction]:
    """One event of 6 frames: 5 zebras (0.9 label, 0.6 box) and a wildebeest at 0.3 (frame 3)."""
    out = {}
    for i in range(6):
        label, conf = ("wildebeest", 0.3) if i == 3 else ("zebra", 0.9)
        det = Detection("1", 0.6, BBox(0.1 + 0.05 * i, 0.2, 0.2, 0.2), (Classification(label, conf),))
        rel = f"cam/{i}.jpg"
        out[rel] = Prediction(rel, "image", MediaMeta(datetime=f"2024-06-01 06:00:{5 * i:02d}"), (det,))
    return out


def _session(tmp_path: Path, reviewer: str = "ana") -> ReviewSession:
    p = _preds()
    seqs = assign_sequences((r, x.meta.datetime) for r, x in p.items())
    return ReviewSession(p, tmp_path / ".wildlife", reviewer=reviewer, sequences=seqs,
                         thresholds=QueueThresholds(accept=0.99, ignore=0.1))


def test_one_key_takes_the_suggestion_and_undo_takes_it_back(tmp_path: Path) -> None:
    s = _session(tmp_path)
    odd = next(it for it in s.items if it.file == "cam/3.jpg")
    assert [s.suggestion_for(it) is not None for it in s.items].count(True) == 1
    sugg = s.suggestion_for(odd)
    assert sugg is not None and (sugg.current, sugg.suggested, sugg.support) == ("wildebeest", "zebra", 5)
    s.goto(s.items.index(odd))
    assert DEFAULT_KEYMAP["G"] is ReviewAction.ACCEPT_SUGGESTION
    assert s.handle(ReviewAction.ACCEPT_SUGGESTION)
    rec = load_decisions(tmp_path / ".wildlife")[-1]
    assert (rec.file, rec.decision, rec.label, rec.source) == ("cam/3.jpg", "relabel", "zebra", SOURCE_SMOOTHING)
    assert s.suggestion_for(odd) is None  # decided now
    assert s.undo() and s.decision_for(odd) is None and s.suggestion_for(odd) is not None
    s.goto(s.items.index(next(it for it in s.items if it.file == "cam/0.jpg")))
    assert not s.accept_suggestion()  # nothing suggested for a zebra frame


def test_filters_by_state_label_and_band(tmp_path: Path) -> None:
    s = _session(tmp_path)
    assert len(s.items) == 6
    s.set_filter(QueueFilter(min_certainty=0.0, max_certainty=0.5))
    assert [it.file for it in s.items] == ["cam/3.jpg"]
    s.set_filter(QueueFilter())
    by_file = {it.file: it for it in s.items}
    s.goto(s.items.index(by_file["cam/0.jpg"]))
    s.relabel("impala")
    s.goto(s.items.index(by_file["cam/1.jpg"]))
    s.reject()
    s.goto(s.items.index(by_file["cam/2.jpg"]))
    s.accept()

    def files(**kw: object) -> list[str]:
        s.set_filter(QueueFilter(**kw))  # type: ignore[arg-type]
        return sorted(it.file for it in s.items)

    assert files(states=frozenset({"not_reviewed"})) == ["cam/3.jpg", "cam/4.jpg", "cam/5.jpg"]
    assert files(states=frozenset({"verified"})) == ["cam/0.jpg", "cam/2.jpg"]
    assert files(states=frozenset({"relabelled"})) == ["cam/0.jpg"]
    assert files(states=frozenset({"rejected"})) == ["cam/1.jpg"]
    assert files(states=frozenset({"disagreement"})) == ["cam/0.jpg", "cam/1.jpg"]
    assert files(states=frozenset({"mine"})) == ["cam/0.jpg", "cam/1.jpg", "cam/2.jpg"]
    # a label filter means the verified label where there is one, else the model's top label
    assert files(labels=frozenset({"impala"})) == ["cam/0.jpg"]
    assert files(labels=frozenset({"zebra"})) == ["cam/1.jpg", "cam/2.jpg", "cam/4.jpg", "cam/5.jpg"]  # 1: rejected
    # another reviewer's session: nothing is "mine"
    other = _session(tmp_path, reviewer="bob")
    other.set_filter(QueueFilter(states=frozenset({"mine"})))
    assert other.items == ()


def test_bulk_decisions_are_one_undo_step(tmp_path: Path) -> None:
    s = _session(tmp_path)
    picked = [it for it in s.items if it.file in ("cam/0.jpg", "cam/1.jpg", "cam/2.jpg")]
    assert s.decide_many(picked, "relabel", "quagga") == 3
    assert {s.decision_for(it).label for it in picked} == {"quagga"}
    assert "quagga" in s.labels
    assert s.decide_many(picked, "relabel", "  ") == 0 and s.decide_many(picked, "explode") == 0
    assert s.undo()
    assert all(s.decision_for(it) is None for it in picked)
    assert s.redo() and all(s.decision_for(it).label == "quagga" for it in picked)
    assert s.decide_many([it for it in s.items if it.file == "cam/4.jpg"], "accept") == 1
    assert s.decision_for(next(it for it in s.items if it.file == "cam/4.jpg")).label == "zebra"
