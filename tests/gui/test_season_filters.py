"""Season filters in the window (issue 14): the Verify filter bar and the grid by label (verified or
top), review state, camera, dates and confidence band; the event sort; the smoothing suggestion
on the Verify page (key G); the pool path of big folders/queues."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaFile, MediaMeta, Prediction
from wildlife_desktop.gui.item_models.thumbnail_model import SortKey, ThumbnailModel
from wildlife_desktop.gui.view_state import GridFilter, PredictionDigest, Thresholds, file_reviews
from wildlife_desktop.gui.widgets import verify_page as verify_page_mod
from wildlife_desktop.gui.widgets.thumbnail_grid import ThumbnailGridWidget
from wildlife_desktop.gui.widgets.verify_page import VerifyPageWidget
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.queue import QueueThresholds
from wildlife_desktop.review.session import ReviewSession


def _preds() -> dict[str, Prediction]:
    """Camera a: one event of 6 frames, 5 zebras and a wildebeest at 0.3 (frame 3), on June 1;
    camera b: two impala frames on June 2."""
    out = {}
    for i in range(6):
        label, conf = ("wildebeest", 0.3) if i == 3 else ("zebra", 0.9)
        det = Detection("1", 0.6, BBox(0.1 + 0.05 * i, 0.2, 0.2, 0.2), (Classification(label, conf),))
        rel = f"a/{i}.jpg"
        out[rel] = Prediction(rel, "image", MediaMeta(datetime=f"2024-06-01 06:00:{5 * i:02d}"), (det,))
    for i in range(2):
        det = Detection("1", 0.7, BBox(0.3, 0.3, 0.2, 0.2), (Classification("impala", 0.7),))
        rel = f"b/{i}.jpg"
        out[rel] = Prediction(rel, "image", MediaMeta(datetime=f"2024-06-02 09:00:{5 * i:02d}"), (det,))
    return out


def _session(tmp_path: Path) -> tuple[ReviewSession, dict]:
    p = _preds()
    seqs = assign_sequences((r, x.meta.datetime) for r, x in p.items())
    s = ReviewSession(p, tmp_path / ".wildlife", reviewer="ana", sequences=seqs,
                      thresholds=QueueThresholds(accept=0.99, ignore=0.1))
    return s, seqs


def _page(qtbot: QtBot, tmp_path: Path) -> tuple[VerifyPageWidget, ReviewSession]:
    page = VerifyPageWidget()
    qtbot.addWidget(page)
    page.resize(1366, 700)
    page.show()
    s, seqs = _session(tmp_path)
    page.set_session(s, tmp_path, seqs)
    return page, s


def _files(page: VerifyPageWidget) -> list[str]:
    assert page.session is not None
    return sorted(it.file for it in page.session.items)


def _choose(combo, data) -> None:  # noqa: ANN001
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)


def test_verify_filter_bar_each_kind_changes_the_queue(qtbot: QtBot, tmp_path: Path) -> None:
    page, s = _page(qtbot, tmp_path)
    bar = page.filter_bar
    assert len(_files(page)) == 8
    _choose(bar.class_combo, "zebra")
    assert _files(page) == ["a/0.jpg", "a/1.jpg", "a/2.jpg", "a/4.jpg", "a/5.jpg"]
    s.goto(next(i for i, it in enumerate(s.items) if it.file == "a/0.jpg"))
    assert s.relabel("impala")  # a verified label wins over the model's
    _choose(bar.class_combo, "impala")
    assert _files(page) == ["a/0.jpg", "b/0.jpg", "b/1.jpg"]
    _choose(bar.class_combo, "")
    _choose(bar.state_combo, "relabelled")
    assert _files(page) == ["a/0.jpg"]
    _choose(bar.state_combo, "mine")
    assert _files(page) == ["a/0.jpg"]
    _choose(bar.state_combo, "not_reviewed")
    assert len(_files(page)) == 7 and "a/0.jpg" not in _files(page)
    _choose(bar.state_combo, "")
    _choose(bar.conf_combo, 0)  # below 50 %
    assert _files(page) == ["a/3.jpg"]
    _choose(bar.conf_combo, -1)
    bar.place_combo.setCurrentIndex(next(i for i in range(bar.place_combo.count())
                                         if tuple(bar.place_combo.itemData(i) or ()) == ("location", "b")))
    assert _files(page) == ["b/0.jpg", "b/1.jpg"]
    bar.place_combo.setCurrentIndex(0)
    bar.date_from.setText("2024-06-02")
    bar.date_from.editingFinished.emit()
    assert _files(page) == ["b/0.jpg", "b/1.jpg"]


def test_verify_filter_runs_on_the_pool_for_a_big_queue(qtbot: QtBot, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    page, _s = _page(qtbot, tmp_path)
    monkeypatch.setattr(verify_page_mod, "ASYNC_FILTER_MIN_ITEMS", 0)
    _choose(page.filter_bar.class_combo, "impala")
    assert page.filter_pending  # the GUI thread did not filter
    qtbot.waitUntil(lambda: not page.filter_pending, timeout=5000)
    assert _files(page) == ["b/0.jpg", "b/1.jpg"]
    assert page.session is not None and page.session.current is not None
    assert page.session.current.file.startswith("b/")


def test_suggestion_is_shown_and_taken_with_g(qtbot: QtBot, tmp_path: Path) -> None:
    page, s = _page(qtbot, tmp_path)
    assert any(keys == "G" for keys, _ in page.help_overlay.rows())
    assert "Take suggestion" in page.decision_bar.button(verify_page_mod.ReviewAction.ACCEPT_SUGGESTION).text()
    s.goto(next(i for i, it in enumerate(s.items) if it.file == "a/0.jpg"))
    page.queue_rebuilt()
    assert page.suggestion_label.text() == ""  # a zebra frame: nothing to suggest
    odd = next(it for it in s.items if it.file == "a/3.jpg")
    s.goto(s.items.index(odd))
    page.queue_rebuilt()
    assert page.suggestion_label.text() == "Suggestion: zebra – 5 of 6 frames in this event (G)"
    assert s.decision_for(odd) is None  # shown, never applied silently
    page.setFocus()
    qtbot.keyClick(page, Qt.Key.Key_G)
    d = s.decision_for(odd)
    assert d is not None and (d.decision, d.label, d.source) == ("relabel", "zebra", "smoothing")


# ---- grid ------------------------------------------------------------------------------------

def _grid(qtbot: QtBot, tmp_path: Path) -> tuple[ThumbnailGridWidget, ThumbnailModel, ReviewSession]:
    s, seqs = _session(tmp_path)
    p = _preds()
    m = ThumbnailModel()
    grid = ThumbnailGridWidget(m)
    qtbot.addWidget(grid)
    m.set_files(tmp_path, [MediaFile(r, 1, i, "image") for i, r in enumerate(sorted(p))])
    m.thresholds = Thresholds(detection=0.2, classification=0.5)
    m.replace_results(p, {r: PredictionDigest.of(x) for r, x in p.items()}, {"zebra", "impala"})
    m.set_sequences(seqs)
    grid.refresh_filters()
    return grid, m, s


def _rows(m: ThumbnailModel) -> list[str]:
    return sorted(m.media_at(r).rel_path for r in range(m.rowCount()))  # type: ignore[union-attr]


def test_grid_filters_each_kind_changes_the_rows(qtbot: QtBot, tmp_path: Path) -> None:
    grid, m, s = _grid(qtbot, tmp_path)
    assert m.rowCount() == 8
    _choose(grid.filter_combo, "label:zebra")  # top label below 0.5 for a/3: "animal"
    assert _rows(m) == ["a/0.jpg", "a/1.jpg", "a/2.jpg", "a/4.jpg", "a/5.jpg"]
    s.goto(next(i for i, it in enumerate(s.items) if it.file == "a/0.jpg"))
    s.relabel("impala")
    s.goto(next(i for i, it in enumerate(s.items) if it.file == "b/0.jpg"))
    s.reject()
    m.set_review_index(file_reviews(s.history(), "ana"))
    assert "a/0.jpg" not in _rows(m)  # verified impala now
    _choose(grid.filter_combo, "label:impala")
    assert _rows(m) == ["a/0.jpg", "b/0.jpg", "b/1.jpg"]  # b/0: no verified label, its top is impala
    _choose(grid.filter_combo, None)
    for state, want in (("relabelled", ["a/0.jpg"]), ("rejected", ["b/0.jpg"]), ("mine", ["a/0.jpg", "b/0.jpg"]),
                        ("verified", ["a/0.jpg"])):
        _choose(grid.state_combo, state)
        assert _rows(m) == want, state
    _choose(grid.state_combo, "not_reviewed")
    assert len(_rows(m)) == 6
    _choose(grid.state_combo, "")
    _choose(grid.place_combo, "b")
    assert _rows(m) == ["b/0.jpg", "b/1.jpg"]
    _choose(grid.place_combo, "")
    _choose(grid.conf_combo, 1)  # 50-80 %: the best boxes are at 0.6 and 0.7
    assert len(_rows(m)) == 8
    _choose(grid.conf_combo, 2)  # 80-98 %: none
    assert _rows(m) == []
    _choose(grid.conf_combo, -1)
    grid.date_to.setText("2024-06-01")
    grid.date_to.editingFinished.emit()
    assert _rows(m) == [f"a/{i}.jpg" for i in range(6)]
    assert grid.count_label.text().startswith("6 of 8")


def test_grid_sorts_by_event_and_filters_on_the_pool(qtbot: QtBot, tmp_path: Path) -> None:
    grid, m, _s = _grid(qtbot, tmp_path)
    _choose(grid.sort_combo, int(SortKey.EVENT))
    order = [m.media_at(r).rel_path for r in range(m.rowCount())]  # type: ignore[union-attr]
    assert order == [f"a/{i}.jpg" for i in range(6)] + ["b/0.jpg", "b/1.jpg"]
    m.async_min_files = 0  # as a 100k-file folder does
    m.set_grid_filter(GridFilter(location="a", label="animal"))
    assert m.relayout_pending() and m.rowCount() == 8  # the GUI thread did not filter
    qtbot.waitUntil(lambda: not m.relayout_pending(), timeout=5000)
    assert _rows(m) == ["a/3.jpg"]  # the wildebeest at 0.3 is below the 0.5 label threshold: "animal"
