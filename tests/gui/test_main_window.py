"""Main window behaviour, asserted on model state (offscreen)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.helpers import copy_cct, install_twin, open_folder, show_window
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.item_models.thumbnail_model import ThumbRole
from wildlife_desktop.gui.main_window import RANDOM_BANNER, MainWindow
from wildlife_desktop.gui.view_state import FileStatus


def test_no_models_says_so_and_cannot_start(qtbot: QtBot, cct_folder: Path) -> None:
    win = show_window(qtbot)
    assert win.run_panel.page() == 0  # the "no model installed" page
    assert "No detection model is installed" in win.run_panel.no_models_label.text()
    assert win.run_panel.import_button.isVisibleTo(win)
    open_folder(qtbot, win, cct_folder)
    assert win.start_run() is False
    assert not win.engine.running


def test_folder_load_populates_grid_and_thumbnails(qtbot: QtBot, cct_folder: Path) -> None:
    win = show_window(qtbot)
    open_folder(qtbot, win, cct_folder)
    names = sorted(p.name for p in cct_folder.glob("*.jpg"))
    assert win.model.rowCount() == len(names) == 4
    assert [win.model.data(win.model.index(r)) for r in range(4)] == names
    assert all(win.model.data(win.model.index(r), ThumbRole.STATUS) == FileStatus.PENDING for r in range(4))
    # The first row is selected and shown; thumbnails of visible cells get decoded off-thread.
    assert win.review.current_rel_path() == names[0]
    qtbot.waitUntil(win.grid.visible_thumbnails_ready, timeout=10_000)
    assert win.model.data(win.model.index(0), ThumbRole.THUMB_STATE) == "ready"
    qtbot.waitUntil(win.review.canvas.has_image, timeout=10_000)
    # The disk cache now holds them.
    assert list((AppPaths.default().thumbnails).rglob("*.jpg"))


def test_run_with_twin_fills_results_and_reaches_100_percent(qtbot: QtBot, cct_folder: Path) -> None:
    install_twin()
    win = show_window(qtbot)
    assert win.run_panel.page() == 1
    assert RANDOM_BANNER in win.banner.text() and win.banner.isVisibleTo(win)
    open_folder(qtbot, win, cct_folder)
    progress: list[Any] = []
    batches: list[int] = []
    win.engine.sig_progress.connect(progress.append)
    win.engine.sig_predictions.connect(lambda preds: batches.append(len(preds)))
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000) as blocker:
        assert win.start_run()
    summary = blocker.args[0]
    assert not summary.cancelled and summary.total == 4 and summary.random_weights
    assert sum(batches) == 4 and all(n <= 16 for n in batches)
    assert progress and progress[-1].done == progress[-1].total == 4
    assert win.run_panel.progress.value() == win.run_panel.progress.maximum() == 4
    assert win.model.done_count() == 4
    statuses = {win.model.data(win.model.index(r), ThumbRole.STATUS) for r in range(4)}
    assert FileStatus.PENDING not in statuses


def test_cancel_mid_run_then_restart_resumes(qtbot: QtBot, tmp_path: Path) -> None:
    folder = copy_cct(tmp_path / "many", 14)
    install_twin()
    win = show_window(qtbot)
    open_folder(qtbot, win, folder)
    win.engine.sig_predictions.connect(lambda _p: win.engine.cancel())
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000) as first:
        assert win.start_run()
    s1 = first.args[0]
    assert s1.cancelled and 0 < s1.processed < 14
    win.engine.sig_predictions.disconnect()
    win.engine.sig_predictions.connect(win._on_engine_predictions)
    started: list[Any] = []
    win.engine.sig_started.connect(started.append)
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000) as second:
        assert win.start_run()
    s2 = second.args[0]
    assert started[0].already_done == s1.processed  # the journal kept the cancelled run's work
    assert not s2.cancelled and s2.processed == 14 - s1.processed
    qtbot.waitUntil(lambda: win.model.done_count() == 14, timeout=10_000)


def test_corrupt_image_shows_as_failed(qtbot: QtBot, cct_folder: Path) -> None:
    (cct_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    install_twin()
    win = show_window(qtbot)
    open_folder(qtbot, win, cct_folder)
    row = win.model.row_of("broken.jpg")
    assert row is not None
    win.grid.select_row(row)
    qtbot.waitUntil(win.review.image_settled, timeout=10_000)
    assert not win.review.canvas.has_image()  # a message, not a crash
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000) as blocker:
        assert win.start_run()
    assert blocker.args[0].failed == 1
    idx = win.model.index(win.model.row_of("broken.jpg"))
    assert win.model.data(idx, ThumbRole.STATUS) == FileStatus.FAILED
    win.model.data(idx, 1)  # DecorationRole: ask for the thumbnail
    qtbot.waitUntil(lambda: win.model.data(idx, ThumbRole.THUMB_STATE) == "failed", timeout=10_000)


def test_close_during_run_cancels_and_keeps_work(qtbot: QtBot, tmp_path: Path) -> None:
    folder = copy_cct(tmp_path / "closing", 10)
    install_twin()
    win = show_window(qtbot)
    open_folder(qtbot, win, folder)
    with qtbot.waitSignal(win.engine.sig_predictions, timeout=60_000):
        win.start_run()
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000) as blocker:
        win.close()
    assert blocker.args[0].cancelled
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=10_000)
    from wildlife_desktop.pipeline.results import load_results

    res = load_results(folder, AppPaths.default())
    assert res is not None and len(res.predictions) == blocker.args[0].processed > 0


def _row_number(rel_path: str) -> int:
    return int(rel_path.rsplit("_", 1)[1][:6])


@pytest.mark.parametrize("n", [100_000])
def test_huge_folder_is_virtualised(qtbot: QtBot, n: int) -> None:
    """100k rows: only the painted cells ask for thumbnails, before and after a scroll.

    (Timing lives in benchmarks/gui_responsiveness.py, not in a unit test.)
    """
    from wildlife_desktop.core.records import MediaFile

    win = show_window(qtbot)
    wanted: list[str] = []
    win.model.sig_thumbnail_wanted.connect(wanted.append)
    files = [MediaFile(f"cam{i // 5000:02d}/IMG_{i:06d}.JPG", 1000, i, "image") for i in range(n)]
    win.thumbs.reset(Path("/nonexistent"))
    win.model.set_files(Path("/nonexistent"), files)
    win.grid.select_row(0)
    qtbot.wait(1)  # let the view lay out and paint once
    win.grid.view.repaint()
    assert win.model.rowCount() == n
    first_screen = set(wanted)
    assert 0 < len(first_screen) < 200  # one screenful, not 100k decodes
    assert all(_row_number(r) < 200 for r in first_screen), sorted(first_screen)[:5]
    view = win.grid.view
    target = win.model.index(n // 2)

    def scrolled() -> bool:
        view.scrollTo(target, view.ScrollHint.PositionAtCenter)
        view.viewport().repaint()
        return any(abs(_row_number(r) - n // 2) < 200 for r in wanted)

    qtbot.waitUntil(scrolled, timeout=10_000)  # the view lays rows out in batches meanwhile
    assert len(set(wanted)) < 2_000  # the painted cells on the way, never all 100k rows


def test_review_dialogs_do_not_pile_up_on_the_window(qtbot: QtBot) -> None:
    """Each open of Review ▸ Quick labels / Thresholds used to leave one more dialog on the window."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from wildlife_desktop.gui.dialogs.quick_labels_dialog import QuickLabelsDialog
    from wildlife_desktop.gui.dialogs.threshold_dialog import ThresholdDialog

    win = MainWindow()
    qtbot.addWidget(win)
    for _ in range(3):
        win.verifier.edit_quick_labels()
        win.verifier.quick_labels_dialog.reject()
        win.verifier.show_threshold_dialog()
        win.verifier.threshold_dialog.reject()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert len(win.findChildren(QuickLabelsDialog)) == 1
    assert len(win.findChildren(ThresholdDialog)) == 1


def test_an_older_results_load_never_overwrites_a_newer_one(qtbot: QtBot, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """File ▸ Import results while the folder's first load is still running: the import wins.

    Loads of the same folder used to be told apart by folder only, so the slower, older load
    landed last and replaced the imported results with none.
    """
    import threading

    from tests.gui.conftest import LILA_DIR
    from wildlife_desktop.gui.folder_controller import FolderController
    from wildlife_desktop.pipeline import results as results_mod

    folder = tmp_path / "lila"
    shutil.copytree(LILA_DIR, folder)
    folder.chmod(0o755)
    gate, calls = threading.Event(), []
    real_load = results_mod.load_results

    def slow_first_load(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            gate.wait(10)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(results_mod, "load_results", slow_first_load)
    c = FolderController(AppPaths.default().ensure())
    loaded: list[Any] = []
    c.sig_results_loaded.connect(lambda _imported: loaded.append(c.results))
    c.open(folder)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=10_000)  # the folder's own load, held up
    c.load_results(folder / "md_v5a_reference_output.json")
    qtbot.waitUntil(lambda: len(loaded) == 1, timeout=10_000)
    assert c.results is not None and c.results.predictions
    gate.set()
    qtbot.wait(500)  # the older load ends now; it is dropped
    assert len(loaded) == 1 and c.results is loaded[0]
