"""Review pane thresholds, thumbnail model filters and the Qt-free thumbnail cache."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from tests.gui.conftest import CCT_DIR
from wildlife_desktop.core.errors import ImageReadError
from wildlife_desktop.core.records import BBox, Classification, Detection, MediaFile, Prediction
from wildlife_desktop.gui.item_models.thumbnail_model import SortKey, ThumbnailModel, ThumbRole
from wildlife_desktop.gui.view_state import FileStatus, Thresholds
from wildlife_desktop.gui.widgets.review_pane import ReviewPaneWidget
from wildlife_desktop.pipeline.thumbnails import ThumbnailCache


def _pred(rel: str, *confs: float, cat: str = "1", label: str | None = None) -> Prediction:
    cls = (Classification(label, 0.9),) if label else ()
    dets = tuple(Detection(cat, c, BBox(0.1 * i, 0.1, 0.2, 0.2), cls) for i, c in enumerate(confs))
    return Prediction(rel, "image", detections=dets)


def test_thresholds_filter_what_the_review_pane_shows(qtbot: QtBot) -> None:
    pane = ReviewPaneWidget()
    qtbot.addWidget(pane)
    pane.resize(800, 600)
    pane.show()
    pred = _pred("a.jpg", 0.9, 0.5, 0.1, label="deer")
    pane.show_file("a.jpg", pred)
    pix = QPixmap(400, 300)
    pix.fill()
    pane.set_image("a.jpg", pix)
    assert pane.det_slider.value() == 20
    assert pane.visible_detection_count() == 2
    with qtbot.waitSignal(pane.sig_thresholds_changed) as blocker:
        pane.det_slider.setValue(60)
    assert blocker.args[0] == Thresholds(0.6, 0.5)
    assert pane.visible_detection_count() == 1
    pane.det_slider.setValue(5)
    assert pane.visible_detection_count() == 3
    assert pane.detections.count() == 3
    # Classification threshold above the label's confidence: fall back to the category name.
    assert "deer" in pane.detections.item(0).text()
    pane.cls_slider.setValue(95)
    assert pane.detections.item(0).text().split()[1] == "animal"
    # The stored prediction is untouched.
    assert len(pred.detections) == 3


def test_stale_image_load_is_ignored(qtbot: QtBot) -> None:
    pane = ReviewPaneWidget()
    qtbot.addWidget(pane)
    pane.show_file("b.jpg", None)
    pix = QPixmap(10, 10)
    pane.set_image("a.jpg", pix)  # arrives after the user moved on
    assert not pane.canvas.has_image() and not pane.image_settled()


def test_model_filter_sort_and_threshold_status(qtbot: QtBot) -> None:
    m = ThumbnailModel()
    files = [MediaFile(n, 1, i, "image") for i, n in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"])]
    m.set_files(Path("/x"), files)
    m.set_predictions([_pred("a.jpg", 0.3, label="fox"), _pred("b.jpg", 0.95, label="deer"),
                       _pred("c.jpg", 0.1), Prediction("d.jpg", "image", failure="truncated")])
    status = [m.data(m.index(r), ThumbRole.STATUS) for r in range(4)]
    assert status == [FileStatus.ANIMAL, FileStatus.ANIMAL, FileStatus.EMPTY, FileStatus.FAILED]
    assert m.data(m.index(1), ThumbRole.TOP) == ("deer", 0.95)
    m.set_filter(FileStatus.ANIMAL.value)
    assert [m.media_at(r).rel_path for r in range(m.rowCount())] == ["a.jpg", "b.jpg"]
    m.set_sort(SortKey.CONFIDENCE, descending=True)
    assert [m.media_at(r).rel_path for r in range(m.rowCount())] == ["b.jpg", "a.jpg"]
    m.set_thresholds(Thresholds(0.5, 0.5))  # a.jpg drops to empty
    assert [m.media_at(r).rel_path for r in range(m.rowCount())] == ["b.jpg"]
    m.set_filter("label:deer")
    assert m.rowCount() == 1
    m.set_filter(None)
    # The class filter lists every classifier label of a file's best box, at any threshold.
    assert m.rowCount() == 4 and m.labels() == ["deer", "fox"]


def _sample_and_cache(tmp_path: Path) -> tuple[Path, ThumbnailCache]:
    img = tmp_path / "img.jpg"
    shutil.copy2(sorted(CCT_DIR.glob("*.jpg"))[0], img)
    return img, ThumbnailCache(tmp_path / "cache", px=128)


def test_thumbnail_cache_hits_and_keys_on_mtime(tmp_path: Path) -> None:
    img, cache = _sample_and_cache(tmp_path)
    data = cache.get(img)
    assert data[:2] == b"\xff\xd8"
    st = img.stat()
    assert cache.cached(img, st.st_size, st.st_mtime_ns) == data
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == 1
    import os

    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    st2 = img.stat()
    assert cache.cached(img, st2.st_size, st2.st_mtime_ns) is None
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(ImageReadError):
        cache.get(tmp_path / "bad.jpg")


def test_thumbnail_cache_entry_cut_short_is_remade(tmp_path: Path) -> None:
    """Cache files are written without fsync; one cut short by a power loss is a miss, not a broken thumbnail."""
    img, cache = _sample_and_cache(tmp_path)
    good = cache.get(img)
    st = img.stat()
    entry = cache.cache_path(img, st.st_size, st.st_mtime_ns)
    for torn in (b"", good[: len(good) // 2]):
        entry.write_bytes(torn)
        assert cache.cached(img, st.st_size, st.st_mtime_ns) is None
        assert cache.get(img) == good and entry.read_bytes() == good


def _python_calls_from_qt(fn: Any) -> int:
    """How many times Qt called into Python (outermost Python frames) while ``fn`` ran."""
    import sys

    depth, entries = [0], [0]

    def prof(_frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            depth[0] += 1
            if depth[0] == 2:  # fn itself is depth 1; a call from C++ under it starts at 2
                entries[0] += 1
        elif event == "return":
            depth[0] -= 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return entries[0]


def test_grid_layout_never_enters_python_per_row(qtbot: QtBot) -> None:
    """Laying out 10k rows asks only C++ for the row count (see the model's docstring).

    Each entry into Python waits for the GIL while a pool thread loads results; a Python
    ``rowCount`` was called twice per row and froze the window for 100-500 ms.
    """
    from wildlife_desktop.gui.widgets.thumbnail_grid import ThumbnailGridWidget

    m = ThumbnailModel()
    grid = ThumbnailGridWidget(m)
    qtbot.addWidget(grid)
    grid.resize(600, 500)
    grid.show()
    n = 10_000
    m.set_files(Path("/x"), [MediaFile(f"IMG_{i:05d}.jpg", 1, i, "image") for i in range(n)])
    grid.view.setLayoutMode(grid.view.LayoutMode.SinglePass)  # the whole layout in one call

    def layout() -> None:
        grid.view.doItemsLayout()
        grid.view.viewport().repaint()

    calls = _python_calls_from_qt(layout)
    assert m.rowCount() == n and grid.view.visualRect(m.index(n - 1)).isValid()
    assert calls < 500, calls  # a screenful of cells (paint, data, flags), not 2 per row
    # Filters change the row count inside a layout change; C++ follows.
    m.set_predictions([_pred(f"IMG_{i:05d}.jpg", 0.9) for i in range(0, n, 2)])
    m.set_filter(FileStatus.ANIMAL.value)
    assert m.rowCount() == n // 2 and not m.index(n // 2).isValid()
    assert m.media_at(1).rel_path == "IMG_00002.jpg"
    m.set_filter(None)
    assert m.rowCount() == n and m.index(n - 1).isValid()


def test_replace_results_keeps_only_the_grids_files() -> None:
    m = ThumbnailModel()
    m.set_files(Path("/x"), [MediaFile("a.jpg", 1, 0, "image")])
    from wildlife_desktop.gui.view_state import PredictionDigest

    preds = {r: _pred(r, 0.9, label=lab) for r, lab in (("a.jpg", "deer"), ("gone.jpg", "fox"))}
    m.replace_results(preds, {r: PredictionDigest.of(p) for r, p in preds.items()}, ["deer"])
    assert m.done_count() == 1 and m.prediction("gone.jpg") is None
    assert m.data(m.index(0), ThumbRole.TOP) == ("deer", 0.9) and m.labels() == ["deer"]
    preds["a.jpg"] = _pred("a.jpg", 0.1)  # the caller's dict is not the model's
    assert m.prediction("a.jpg").detections[0].confidence == 0.9


def test_run_batches_move_sorted_rows_at_most_every_half_second(qtbot: QtBot) -> None:
    """A batch during a run repaints at once; the re-sort (a pass over every file) is throttled."""
    from wildlife_desktop.gui.item_models.thumbnail_model import RUN_RELAYOUT_MS

    m = ThumbnailModel()
    m.set_files(Path("/x"), [MediaFile(n, 1, i, "image") for i, n in enumerate(["a.jpg", "b.jpg", "c.jpg"])])
    m.set_sort(SortKey.CONFIDENCE, descending=True)
    order = lambda: [m.media_at(r).rel_path for r in range(m.rowCount())]  # noqa: E731
    m.set_predictions([_pred("c.jpg", 0.9)])
    assert order() == ["a.jpg", "b.jpg", "c.jpg"]  # not moved yet
    assert m.data(m.index(2), ThumbRole.TOP) == ("animal", 0.9)  # but the badge is there
    m.set_predictions([_pred("b.jpg", 0.5)])  # a second batch does not restart the wait
    qtbot.waitUntil(lambda: order() == ["c.jpg", "b.jpg", "a.jpg"], timeout=RUN_RELAYOUT_MS * 4)


def test_current_file_and_persistent_indexes_follow_a_resort_and_filter(qtbot: QtBot) -> None:
    """A relayout moves persistent indexes with their files (layoutChanged contract).

    Without it the grid's current row kept its number after a sort, so it pointed at another
    file than the review pane showed, and "next" stepped from the wrong place.
    """
    from PySide6.QtCore import QPersistentModelIndex

    from wildlife_desktop.gui.item_models.thumbnail_model import RUN_RELAYOUT_MS
    from wildlife_desktop.gui.widgets.thumbnail_grid import ThumbnailGridWidget

    m = ThumbnailModel()
    grid = ThumbnailGridWidget(m)
    qtbot.addWidget(grid)
    m.set_files(Path("/x"), [MediaFile(n, 1, i, "image") for i, n in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"])])
    m.set_predictions([_pred("a.jpg", 0.2), _pred("b.jpg", 0.5), _pred("c.jpg", 0.9), _pred("d.jpg", 0.7)])
    grid.select_row(1)
    held = QPersistentModelIndex(m.index(3))  # d.jpg
    m.set_sort(SortKey.CONFIDENCE, descending=True)  # c d b a
    assert grid.current_rel_path() == "b.jpg" and grid.view.currentIndex().row() == 2
    assert held.row() == 1
    grid.step(1)
    assert grid.current_rel_path() == "a.jpg"
    m.set_filter(FileStatus.ANIMAL.value, 0.6)  # c d: a.jpg is filtered out
    assert grid.current_rel_path() is None and held.row() == 1
    m.set_filter(None)  # c d b a: the grid grows back, d.jpg keeps its index
    assert held.row() == 1 and m.rowCount() == 4
    grid.select_row(3)  # a.jpg; a run batch makes it the most confident: it moves to the top
    m.set_predictions([_pred("a.jpg", 0.95)])
    qtbot.waitUntil(lambda: m.media_at(0).rel_path == "a.jpg", timeout=RUN_RELAYOUT_MS * 4)
    assert grid.current_rel_path() == "a.jpg" and grid.view.currentIndex().row() == 0
