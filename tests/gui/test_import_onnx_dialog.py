"""File ▸ Import model pack… on a bare .onnx asks family, labels and input size, with defaults from the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from tests.fixtures.tiny_onnx import tiny_classifier
from tests.gui.conftest import TWIN_DETECTOR
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.dialogs.import_onnx_dialog import ImportOnnxDialog, guess_import
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.runtime.session import inspect_onnx
from wildlife_desktop.runtime.store import ModelStore


def test_defaults_are_read_from_the_file() -> None:
    g = guess_import(inspect_onnx(TWIN_DETECTOR), TWIN_DETECTOR)
    assert (g.family, g.labels, g.input_size) == ("yolov10", ("animal", "person", "vehicle"), 640)
    assert g.random_weights and g.licence.startswith("AGPL-3.0") and g.model_id == "twin-yolov10n-640-random"
    assert "[1, 300, 6]" in g.summary


def test_dialog_imports_with_the_answers(qtbot: QtBot, tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "colours.onnx")
    paths = AppPaths.default()
    dialog = ImportOnnxDialog(onnx, paths)
    qtbot.addWidget(dialog)
    assert dialog.family_name() == "classifier"  # a 2-D output
    assert not dialog.ok_button.isEnabled()  # no labels in the file: they must be given
    dialog.labels.setText("red, green, blue")
    assert dialog.ok_button.isEnabled()
    with qtbot.waitSignal(dialog.sig_imported, timeout=10_000) as blocker:
        dialog.ok_button.click()
    assert blocker.args == ["colours"]
    m, _ = ModelStore(paths).get("colours")
    assert (m.family, m.labels, m.random_weights) == ("classifier", ("red", "green", "blue"), False)


def test_a_refused_answer_is_shown_and_the_dialog_stays(qtbot: QtBot, tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "colours.onnx")
    dialog = ImportOnnxDialog(onnx, AppPaths.default())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.labels.setText("red, green")  # the model outputs three classes
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisibleTo(dialog), timeout=10_000)
    assert "3 classes" in dialog.error.text() and dialog.isVisible() and dialog.ok_button.isEnabled()
    assert ModelStore(AppPaths.default()).list() == []


def test_file_menu_opens_the_dialog_for_a_bare_onnx(qtbot: QtBot, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    onnx = shutil.copy2(TWIN_DETECTOR, tmp_path / "twin.onnx")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(onnx), ""))
    win = MainWindow(AppPaths.default())
    qtbot.addWidget(win)
    win._on_menu_import_model()
    dialog = win.import_onnx_dialog
    assert isinstance(dialog, ImportOnnxDialog) and dialog.isVisible()
    assert dialog.random_weights.isChecked()
    with qtbot.waitSignal(dialog.sig_imported, timeout=10_000):
        dialog.ok_button.click()
    qtbot.waitUntil(lambda: "twin" in win.statusBar().currentMessage())
    assert [m.id for m in ModelStore(AppPaths.default()).list()] == ["twin"]
