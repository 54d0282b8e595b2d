"""Issue 12, items 10 and 14: text that fits at 1366 px, readable sequences and places, the camera
from EXIF, and thresholds that can be typed.

Asserted on widget state, offscreen: what a combo draws (``displayed_text``: elided to its
width), its tooltip, the window's minimum width, the review pane's wording, and the per-folder
view settings file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.gui.conftest import TWIN_DETECTOR
from tests.gui.helpers import open_folder, show_window
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import MediaMeta
from wildlife_desktop.formats.bundle import SequenceInfo
from wildlife_desktop.gui.widgets.elided import ElidedLabel, ElidingComboBox
from wildlife_desktop.gui.widgets.review_pane import ReviewPaneWidget, camera_text, describe_sequence
from wildlife_desktop.gui.widgets.run_panel import short_model_name
from wildlife_desktop.pipeline.view_settings import ViewSettingsStore
from wildlife_desktop.runtime.store import ModelStore

REF = "md_v5a_reference_output.json"
MISSOURI = "missouri_camera_traps_Set1_1.02-Agouti_SEQ89823_SEQ89823_IMG_0002.JPG"  # EXIF: Reconyx RC55


def _real_like_models() -> list:
    """Manifests named like the recommended real packs (the twin's file, other names)."""
    twin = ModelStore(AppPaths.default()).import_onnx(TWIN_DETECTOR, family="yolov10",
                                                      labels=("animal", "person", "vehicle"))
    plain = replace(twin, random_weights=False, licence="MIT")
    return [replace(plain, id="mdlite", name="MegadetectorLite (animal only)"),
            replace(plain, id="mdlite-nanodet", name="MegadetectorLite + NanoDet (animal, person, vehicle)"),
            replace(plain, id="mobilenetv2-imagenet", task="classification", family="classifier", licence="Apache-2.0",
                    name="MobileNetV2 ImageNet (feature extractor; not a wildlife classifier)"),
            twin]


# ---- 10. combo boxes: the short name whole at 1366 px, the full name in the tooltip and the list ----
def test_run_strip_shows_short_names_whole_at_1366_with_the_full_name_in_tooltip(qtbot: QtBot) -> None:
    win = show_window(qtbot, exposed=True)
    panel = win.run_panel
    panel.set_models(_real_like_models(), default_detector="mdlite-nanodet")
    det, cls = panel.detector_combo, panel.classifier_combo
    cls.setCurrentIndex(cls.findData("mobilenetv2-imagenet"))
    QApplication.processEvents()
    assert det.displayed_text() == "MegadetectorLite + NanoDet"  # not "MegadetectorLite + NanoDet (anin"
    assert det.currentText() == "MegadetectorLite + NanoDet (animal, person, vehicle)"  # the open list
    assert "MegadetectorLite + NanoDet (animal, person, vehicle)" in det.toolTip() and "MIT" in det.toolTip()
    assert cls.displayed_text() == "MobileNetV2 ImageNet"
    assert "not a wildlife classifier" in cls.toolTip()
    cls.setCurrentIndex(0)
    QApplication.processEvents()
    assert cls.displayed_text() == "None (detector only)"
    assert short_model_name(panel.manifest("mdlite")) == "MegadetectorLite"

    panel.set_running(True)
    panel.set_progress(109, 540, 16.5, 26.0)  # what a run shows: whole, next to the bar
    QApplication.processEvents()
    assert panel.rate_label.displayed_text() == panel.rate_label.text() == "16.5 images/s · ETA 26 s"
    panel.set_paused(True)
    QApplication.processEvents()
    assert panel.rate_label.displayed_text() == "Paused"
    panel.set_running(False)
    assert win.minimumSizeHint().width() <= 1366 and win.width() == 1366


def test_a_manifest_short_name_wins_and_a_long_name_is_elided_in_the_middle(qtbot: QtBot) -> None:
    twin = _real_like_models()[-1]
    assert short_model_name(replace(twin, name="Some long model (note)", extra={"short_name": "Short"})) == "Short"
    combo = ElidingComboBox(chars=10, min_chars=6)
    qtbot.addWidget(combo)
    combo.add_item("twin-yolov10n-640-random 1  (random weights)", "t")
    combo.setFixedWidth(150)
    combo.show()
    shown = combo.displayed_text()
    assert "…" in shown and shown.startswith("twin") and shown.endswith("weights)")  # both ends kept
    assert combo.toolTip() == "twin-yolov10n-640-random 1  (random weights)"
    label = ElidedLabel()
    qtbot.addWidget(label)
    label.setText("a very long status line that cannot fit in a narrow label at all")
    label.setFixedWidth(80)
    label.show()
    assert label.displayed_text().endswith("…") and label.toolTip() == label.text()


def test_filter_bars_and_long_file_names_fit_at_1366(qtbot: QtBot, lila: Path) -> None:
    QSettings().setValue("review/reviewer", "tester")
    win = show_window(qtbot, exposed=True)
    open_folder(qtbot, win, lila, import_json=lila / REF)
    assert win.grid.filter_combo.displayed_text() == "All files"
    win.grid.select_row(win.model.row_of(MISSOURI))  # the longest name of the sample
    QApplication.processEvents()
    assert win.review.title.text() == MISSOURI
    assert win.minimumSizeHint().width() <= 1366 and win.width() == 1366  # the name does not widen the window
    win.show_verify()
    qtbot.waitUntil(lambda: win.verify.session is not None, timeout=5_000)
    bar = win.verify.filter_bar
    QApplication.processEvents()
    assert bar.class_combo.displayed_text() == "All classes"  # not "All classe"
    assert bar.place_combo.displayed_text() == "All places"
    places = [bar.place_combo.itemText(i) for i in range(bar.place_combo.count())]
    assert "lila (top folder)" in places and not any("(root)" in p for p in places)
    assert win.minimumSizeHint().width() <= 1366 and win.width() == 1366


# ---- 14. sequences and places in words; the camera from EXIF ---------------------------------------
def test_sequence_wording_names_the_frame_the_place_and_the_times() -> None:
    seq = SequenceInfo(location="(root)", seq_id="(root)/seq_00024", frame_num=1, seq_num_frames=5)
    assert describe_sequence(seq, "2024-05-01 14:03:12", "2024-05-01 14:03:20") == \
        "frame 2 of 5 (this folder, 14:03:12–14:03:20)"
    cam = SequenceInfo(location="cam1", seq_id="cam1/seq_00003", frame_num=0, seq_num_frames=1)
    assert describe_sequence(cam, "2024-05-01 09:00:00", "2024-05-01 09:00:00") == \
        "single image (camera cam1, 09:00:00)"
    assert describe_sequence(cam) == "single image (camera cam1)"
    assert camera_text(MediaMeta(make="Reconyx", model="RC55 RAPIDFIRE")) == "Reconyx RC55 RAPIDFIRE"
    assert camera_text(MediaMeta(make="Canon", model="Canon EOS 5D")) == "Canon EOS 5D"


def test_review_pane_groups_a_sequence_and_never_shows_its_id(qtbot: QtBot) -> None:
    pane = ReviewPaneWidget()
    qtbot.addWidget(pane)
    times = {"a.jpg": "2024-05-01 14:03:12", "b.jpg": "2024-05-01 14:03:15", "c.jpg": "2024-05-01 14:03:20"}
    seqs = {r: SequenceInfo("(root)", "(root)/seq_00000", i, 3) for i, r in enumerate(times)}
    pane.show_file("b.jpg", None)
    pane.show_sequence("b.jpg", seqs, times.get)
    assert pane.sequence_label.text() == "frame 2 of 3 (this folder, 14:03:12–14:03:20)"


def test_camera_comes_from_exif_when_the_results_have_none(qtbot: QtBot, lila: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    win = show_window(qtbot, exposed=True)
    open_folder(qtbot, win, lila, import_json=lila / REF)
    # results with a time but no camera (a results file or journal entry made without EXIF make/model)
    known = win.model.prediction

    def without_camera(rel: str):  # noqa: ANN202
        p = known(rel)
        return p if p is None else replace(p, meta=MediaMeta(datetime=p.meta.datetime))

    monkeypatch.setattr(win.model, "prediction", without_camera)
    win.grid.select_row(win.model.row_of(MISSOURI))
    qtbot.waitUntil(lambda: win.review.camera_label.text() == "Reconyx RC55 RAPIDFIRE", timeout=5_000)
    assert win.review.date_label.text() == "2011-01-24 07:56:05"
    assert "(root)" not in win.review.sequence_label.text() and "seq_" not in win.review.sequence_label.text()
    assert "this folder" in win.review.sequence_label.text()


# ---- 14. a threshold can be typed; kept in step with the slider; saved per folder and model --------
def test_typed_threshold_moves_the_slider_and_is_saved_for_this_folder_and_model(
        qtbot: QtBot, lila: Path) -> None:
    win = show_window(qtbot, exposed=True)
    open_folder(qtbot, win, lila, import_json=lila / REF)
    key = f"import:{win.results.layer.detector}"
    review = win.review
    review.det_slider.setValue(30)  # the slider moves the field
    assert review.det_value.value() == 30
    win._flush_pending_writes(wait=True)
    spin = review.det_value
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "42")
    assert review.det_slider.value() == 30  # no change per keystroke ("4" then "42")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert review.det_slider.value() == 42 and review.thresholds.detection == pytest.approx(0.42)
    qtbot.waitUntil(lambda: win.model.thresholds.detection == pytest.approx(0.42), timeout=2_000)
    review.cls_value.setValue(65)
    assert review.cls_slider.value() == 65
    win._flush_pending_writes(wait=True)
    stored = ViewSettingsStore(AppPaths.default().config).get(lila, key)
    assert stored is not None and stored.detection == pytest.approx(0.42) and stored.classification == \
        pytest.approx(0.65)


def test_thresholds_shown_by_the_window_are_not_saved_as_the_users(qtbot: QtBot, lila: Path) -> None:
    win = show_window(qtbot, exposed=True)
    open_folder(qtbot, win, lila, import_json=lila / REF)
    key = f"import:{win.results.layer.detector}"
    typical = round(win.results.layer.typical_threshold * 100)
    assert win.review.det_value.value() == typical == win.review.det_slider.value()
    win._flush_pending_writes(wait=True)
    assert ViewSettingsStore(AppPaths.default().config).get(lila, key) is None
