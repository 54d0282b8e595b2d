"""Issue 12 ("the first hour of a field ecologist"): state that must not reset, feedback that must be there.

Asserted on widget and file state, offscreen: the results' source and the banner about what is
shown, thresholds kept per folder and model, the Verify queue following the Detection slider,
Enter in "Ask me below", badge colours, box labels at the top edge, run pause/summary, sidecars
rewritten after review, and bad folders said in the window.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPixmap
from pytestqt.qtbot import QtBot

from tests.gui.helpers import copy_cct, install_twin, open_folder, show_window
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox
from wildlife_desktop.gui.main_window import RANDOM_BANNER, MainWindow
from wildlife_desktop.gui.style import CATEGORY_COLORS
from wildlife_desktop.gui.view_state import FileStatus
from wildlife_desktop.gui.widgets.image_canvas import BoxOverlay, ImageCanvasWidget
from wildlife_desktop.gui.widgets.thumbnail_delegate import chip_specs
from wildlife_desktop.pipeline.view_settings import FILE_NAME, ViewSettingsStore, ViewThresholds
from wildlife_desktop.review.actions import ReviewAction

REF = "md_v5a_reference_output.json"


def _run(qtbot: QtBot, win: MainWindow) -> None:
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000):
        assert win.start_run()
    qtbot.waitUntil(lambda: not win.engine.running and win._results_loaded
                    and win.results is not None and win.results.layer.source == "run", timeout=15_000)


# ---- 2. where the results came from; the banner is about what is shown -----------------------
def test_imported_results_name_their_source_and_a_selected_twin_does_not_raise_the_red_banner(
        qtbot: QtBot, lila: Path, tmp_path: Path) -> None:
    install_twin()
    win = show_window(qtbot)
    assert RANDOM_BANNER in win.banner.text()  # nothing shown yet: the selected twin is worth a note
    open_folder(qtbot, win, lila, import_json=lila / REF)
    source = win.source.source_text()
    assert f"imported from {REF}" in source and win.results.layer.detector in source
    assert not win.banner.isVisibleTo(win)  # real boxes on screen: no "meaningless boxes" banner
    n_dets = sum(len(p.detections) for p in win.results.predictions.values())
    notice = win.notice.text()
    assert f"Imported {len(win.results.predictions)} file(s) with {n_dets} detection(s) from {REF}" in notice

    cct = copy_cct(tmp_path / "cct", 3)
    open_folder(qtbot, win, cct)
    assert "No results for this folder yet" in win.source.source_text()
    _run(qtbot, win)
    assert "run here" in win.source.source_text() and "random weights" in win.source.source_text()
    assert "results shown come from a model with" in win.banner.text() and win.banner.isVisibleTo(win)


# ---- 3. thresholds: the user's, per folder and per model ------------------------------------
def test_thresholds_survive_run_end_cancel_and_import_and_are_per_folder(
        qtbot: QtBot, tmp_path: Path, lila: Path) -> None:
    install_twin()
    win = show_window(qtbot)
    twin = win.run_panel.manifest(win.run_panel.detector_id())
    a, b = copy_cct(tmp_path / "a", 6), copy_cct(tmp_path / "b", 2)
    open_folder(qtbot, win, a)
    assert win.review.thresholds.detection == pytest.approx(twin.typical_threshold)
    win.review.det_slider.setValue(7)  # what a drag does
    _run(qtbot, win)
    assert win.review.det_slider.value() == 7 and win.model.thresholds.detection == pytest.approx(0.07)

    win.engine.sig_predictions.connect(lambda _p: win.engine.cancel())
    (a / "later.jpg").write_bytes((a / next(iter(sorted(p.name for p in a.glob("*.jpg"))))).read_bytes())
    open_folder(qtbot, win, a)
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000):
        assert win.start_run()
    qtbot.waitUntil(lambda: not win.engine.running and win._results_loaded, timeout=15_000)
    assert win.review.det_slider.value() == 7  # kept after Cancel
    win.engine.sig_predictions.disconnect()
    win.engine.sig_predictions.connect(win._on_engine_predictions)

    open_folder(qtbot, win, b)  # another folder: its own (the model's default)
    assert win.review.det_slider.value() == round(twin.typical_threshold * 100)
    open_folder(qtbot, win, a)
    assert win.review.det_slider.value() == 7

    open_folder(qtbot, win, lila, import_json=lila / REF)
    typical = win.results.layer.typical_threshold
    assert win.review.thresholds.detection == pytest.approx(typical)
    win.review.det_slider.setValue(33)
    win.load_results(lila / REF)  # File ▸ Import results… again
    qtbot.waitUntil(lambda: win.notice.text().startswith("Imported"), timeout=15_000)
    assert win.review.det_slider.value() == 33

    # persisted (atomic JSON in the app config), so a new window starts where the user left
    qtbot.waitUntil(lambda: (AppPaths.default().config / FILE_NAME).exists(), timeout=5_000)
    win._flush_pending_writes(wait=True)
    stored = ViewSettingsStore(AppPaths.default().config)
    assert stored.get(a, twin.id) == ViewThresholds(0.07, pytest.approx(0.5))
    assert stored.get(lila, f"import:{win.results.layer.detector}").detection == pytest.approx(0.33)
    assert stored.get(b, twin.id) is None  # never changed by the user: nothing stored


def test_view_settings_store_ignores_damage_and_keeps_the_newest(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json", encoding="utf-8")
    store = ViewSettingsStore(tmp_path)
    assert store.get(tmp_path, "m") is None
    store.save(store.put(tmp_path, "m", ViewThresholds(0.12, 0.6)))
    store.save(store.put(tmp_path, "m", ViewThresholds(1.7, 0.4)))
    again = ViewSettingsStore(tmp_path)
    assert again.get(tmp_path, "m") == ViewThresholds(1.0, 0.4)  # clamped to 0..1
    assert json.loads((tmp_path / FILE_NAME).read_text())["schema_version"] == 1


# ---- 4. Verify follows the Detection slider; Enter in "Ask me below" ------------------------
def _open_verify(qtbot: QtBot, lila: Path) -> MainWindow:
    QSettings().setValue("review/reviewer", "tester")
    win = show_window(qtbot)
    open_folder(qtbot, win, lila, import_json=lila / REF)
    win.show_verify()
    qtbot.waitUntil(lambda: win.verify.session is not None, timeout=5_000)
    return win


def test_verify_queue_follows_a_lowered_detection_threshold_and_keeps_undo(qtbot: QtBot, lila: Path) -> None:
    win = _open_verify(qtbot, lila)
    s = win.verify.session
    assert win.verify.run_action(ReviewAction.ACCEPT)
    before = s.progress()
    assert before.done == 1
    win.review.det_slider.setValue(3)
    qtbot.waitUntil(lambda: s.thresholds.ignore == pytest.approx(0.03), timeout=2_000)
    after = s.progress()
    assert after.total > before.total and after.done == 1
    assert f"{after.done} done / {after.remaining} remaining" == win.verify.progress_label.text()
    assert s.handle(ReviewAction.UNDO) and s.progress().done == 0  # the undo history survived the rebuild


def test_enter_in_ask_me_below_sets_the_threshold_without_accepting_the_crop(qtbot: QtBot, lila: Path) -> None:
    win = _open_verify(qtbot, lila)
    s = win.verify.session
    spin = win.verify.filter_bar.accept_spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "90")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert s.thresholds.accept == pytest.approx(0.9)
    assert s.progress().done == 0 and not s.history()
    date = win.verify.filter_bar.date_from
    date.setFocus()
    qtbot.keyClick(date, Qt.Key.Key_Enter)
    assert s.progress().done == 0


# ---- 5. badges and box labels -----------------------------------------------------------------
def test_badge_colour_follows_its_label_and_a_person_is_not_hidden() -> None:
    (text, color), (second, second_color) = chip_specs(FileStatus.PERSON, ("animal", 0.08))
    assert text == "animal 8%" and color == QColor(CATEGORY_COLORS["animal"])
    assert second == "person" and second_color == QColor(CATEGORY_COLORS["person"])
    [(text, color)] = chip_specs(FileStatus.PERSON, ("person", 0.9))
    assert color == QColor(CATEGORY_COLORS["person"])
    [(text, color)] = chip_specs(FileStatus.VEHICLE, ("vehicle", 0.4))
    assert color == QColor(CATEGORY_COLORS["vehicle"])


def test_box_labels_stay_inside_the_image_at_its_top_edge(qtbot: QtBot) -> None:
    canvas = ImageCanvasWidget()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    pix = QPixmap(800, 600)
    pix.fill(QColor("gray"))
    canvas.set_pixmap(pix)
    red = QColor("red")
    canvas.set_boxes([BoxOverlay(BBox(0.1, 0.0, 0.2, 0.2), "deer 90%", red),
                      BoxOverlay(BBox(0.5, 0.5, 0.2, 0.2), "fox 80%", red)])
    assert canvas.labels_inside() == 1  # the one at the top edge; the other sits above its box
    canvas.zoom(8.0)  # zoomed in, the middle box has room above it
    assert canvas.labels_inside() == 1


# ---- 6. runs: paused label, live count, summary -----------------------------------------------
def test_pause_says_paused_counts_live_and_the_run_ends_with_a_summary(qtbot: QtBot, tmp_path: Path) -> None:
    install_twin()
    win = show_window(qtbot)
    folder = copy_cct(tmp_path / "many", 12)
    open_folder(qtbot, win, folder)
    panel = win.run_panel
    win.engine.sig_predictions.connect(lambda _p: panel.pause_button.setChecked(True))
    assert win.start_run()
    qtbot.waitUntil(lambda: win.engine.paused and win.model.done_count() > 0, timeout=60_000)
    win.engine.sig_predictions.disconnect()
    win.engine.sig_predictions.connect(win._on_engine_predictions)
    qtbot.waitUntil(lambda: f"{win.model.done_count()} processed" in win.grid.count_label.text(), timeout=5_000)
    assert panel.rate_label.text().startswith("Paused") and "images/s" not in panel.rate_label.text()
    time.sleep(0.3)  # a real pause, which the rate after resuming must not count
    with qtbot.waitSignal(win.engine.sig_finished, timeout=60_000) as done:
        panel.pause_button.setChecked(False)
    assert win.runs._paused_s >= 0.3
    summary = done.args[0]
    qtbot.waitUntil(lambda: win.notice.text() != "", timeout=5_000)
    text = win.notice.text()
    assert text.startswith("Finished") and f"{summary.processed} file(s) processed" in text
    for n, word in ((summary.animals, "with animals"), (summary.persons, "with people"),
                    (summary.vehicles, "with vehicles"), (summary.empty, "empty"), (summary.failed, "failed")):
        assert f"{n} {word}" in text


# ---- 7. sidecars follow the review; next steps when all is verified -------------------------
def test_sidecars_are_rewritten_after_review_and_the_end_screen_offers_next_steps(
        qtbot: QtBot, lila: Path) -> None:
    win = _open_verify(qtbot, lila)
    win._sidecar_timer.setInterval(50)  # the mechanism, without waiting the real 2 s
    md = lila / "recognitions.json"
    assert not any(d.get("verified") for im in json.loads(md.read_text())["images"] for d in im["detections"] or ())
    assert win.verify.run_action(ReviewAction.ACCEPT)
    assert "saving" in win.source.sidecar_label.text()
    qtbot.waitUntil(lambda: "up to date" in win.source.sidecar_label.text(), timeout=10_000)
    verified = [d for im in json.loads(md.read_text())["images"] for d in im["detections"] or () if d.get("verified")]
    assert len(verified) == 1

    page, s = win.verify, win.verify.session
    assert not page.next_steps.isVisibleTo(page)
    while s.current is not None:
        assert page.run_action(ReviewAction.ACCEPT)
    assert page.label_title.text() == "All crops verified" and page.next_steps.isVisibleTo(page)
    with qtbot.waitSignal(win.controller.sig_exported, timeout=10_000):
        page.next_buttons["export"].click()


# ---- 9. bad folders are said in the window ------------------------------------------------------
def test_empty_missing_and_file_paths_are_said_in_the_grid(qtbot: QtBot, tmp_path: Path) -> None:
    win = show_window(qtbot)
    empty = tmp_path / "empty"
    empty.mkdir()
    open_folder(qtbot, win, empty)
    assert "No images or videos in this folder" in win.grid.message()
    for bad in (tmp_path / "not there", tmp_path / "a file.jpg"):
        if bad.suffix:
            bad.write_bytes(b"x")
        win.open_folder(bad)
        qtbot.waitUntil(lambda: win.grid.message().startswith("Cannot open this folder"), timeout=5_000)
        assert str(bad) in win.grid.message() and win.first_screen_ready()
    open_folder(qtbot, win, empty)  # a good folder afterwards shows its grid again, not the old message
    assert "Cannot open" not in win.grid.message()


def test_read_only_folder_says_where_the_results_went(qtbot: QtBot, lila: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import wildlife_desktop.core.atomic as atomic
    import wildlife_desktop.pipeline.journal as journal

    monkeypatch.setattr(atomic, "is_writable_dir", lambda _p: False)  # root ignores chmod: a locked card
    monkeypatch.setattr(journal, "is_writable_dir", lambda _p: False)
    win = show_window(qtbot)
    open_folder(qtbot, win, lila)
    fallback = AppPaths.default().fallback_output_dir(lila)
    assert f"Read-only folder: results are kept in {fallback}" in win.source.source_text()
    open_folder(qtbot, win, lila, import_json=lila / REF)
    assert win.results.output_dir == fallback and str(fallback) in win.source.source_text()


def test_screenshot_of_a_missing_folder_does_not_wait_for_its_timeout(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "import sys; from wildlife_desktop.gui.app import main; "
                           "sys.exit(main(sys.argv[1:]))", str(tmp_path / "missing"), "--screenshot", str(out)],
                          capture_output=True, text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and time.monotonic() - t0 < 30


def test_a_failed_import_is_said_in_the_window(qtbot: QtBot, lila: Path) -> None:
    win = show_window(qtbot)
    open_folder(qtbot, win, lila)
    bad = lila / "broken.json"
    bad.write_text("[1, 2", encoding="utf-8")
    win.load_results(bad)
    qtbot.waitUntil(lambda: "broken.json" in win.notice.text(), timeout=10_000)
    assert "Traceback" not in win.notice.text() and win.results is None
