"""Run AI starts with the default detector selected, and a refresh keeps the user's choice."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from tests.gui.conftest import TWIN_DETECTOR
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.runtime.defaults import save_defaults
from wildlife_desktop.runtime.store import ModelStore


def test_default_detector_is_selected_and_a_refresh_keeps_the_choice(qtbot: QtBot) -> None:
    store = ModelStore(AppPaths.default())
    for mid in ("a-twin", "b-twin", "c-twin"):
        store.import_onnx(TWIN_DETECTOR, family="yolov10", labels=("animal", "person", "vehicle"), model_id=mid)
    save_defaults(store.root, detector="b-twin")
    win = MainWindow(AppPaths.default())
    qtbot.addWidget(win)
    assert win.run_panel.detector_id() == "b-twin"  # not simply the first in the list
    combo = win.run_panel.detector_combo
    combo.setCurrentIndex(combo.findData("c-twin"))
    win.runs.refresh_models()  # e.g. after importing another pack
    assert win.run_panel.detector_id() == "c-twin"
