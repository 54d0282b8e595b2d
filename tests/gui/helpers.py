"""Helpers of the GUI tests: the main window at 1366x768, folders opened in it, sample copies, key presses."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.gui.conftest import CCT_DIR, LILA_DIR, TWIN_DETECTOR
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.runtime.manifest import ModelManifest


def show_window(qtbot: QtBot, *, exposed: bool = False, active: bool = False) -> MainWindow:
    """A main window at 1366x768, shown; ``exposed``: wait until it is on screen; ``active``: activated too."""
    win = MainWindow(AppPaths.default())
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    if active:
        win.activateWindow()
    if exposed or active:
        qtbot.waitExposed(win)
    return win


def open_folder(qtbot: QtBot, win: MainWindow, folder: Path, import_json: Path | None = None) -> None:
    """Open ``folder`` in ``win`` (importing ``import_json`` first, when given) and wait for its results."""
    win.open_folder(folder, import_json=import_json)
    qtbot.waitUntil(lambda: win.folder == folder and win._results_loaded, timeout=15_000)


def install_twin() -> ModelManifest:
    """Install the random-weights YOLOv10 twin detector in the test's app home."""
    from wildlife_desktop.runtime.store import ModelStore

    return ModelStore(AppPaths.default()).import_onnx(TWIN_DETECTOR, family="yolov10",
                                                       labels=("animal", "person", "vehicle"))


def copy_cct(folder: Path, n: int) -> Path:
    """A writable ``folder`` holding the first ``n`` real Caltech camera-trap JPEGs."""
    folder.mkdir(parents=True)
    for src in sorted(CCT_DIR.glob("*.jpg"))[:n]:
        shutil.copy2(src, folder / src.name)
    return folder


def copy_lila(dst: Path) -> Path:
    """A writable copy of the LILA samples (with MegaDetector v5a's results file) at ``dst``."""
    shutil.copytree(LILA_DIR, dst)
    dst.chmod(0o755)  # the shared samples are read-only; copies keep that mode
    return dst


def press(qtbot: QtBot, win: QWidget, key: Qt.Key | str,
          mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where the keyboard focus is, like a person's."""
    qtbot.keyClick(QApplication.focusWidget() or win, key, mods)


def open_verify(qtbot: QtBot, folder: Path) -> MainWindow:
    """The window on ``folder``'s Verify page (F2), reviewer "tester", quick labels zebra, impala, bird."""
    QSettings().setValue("review/reviewer", "tester")
    QSettings().setValue("review/quick_labels", ["zebra", "impala", "bird"])
    win = show_window(qtbot, active=True)
    open_folder(qtbot, win, folder)
    press(qtbot, win, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: win.verify.session is not None and win.verify.isVisible(), timeout=5_000)
    qtbot.waitUntil(lambda: win.verify.crop_view.key == win.verify.current_key(), timeout=10_000)
    return win
