"""Portable mode: the window's settings live under WILDLIFE_DESKTOP_HOME, never in ~/.config."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui import review_settings
from wildlife_desktop.gui.app_settings import DESKTOP_FILE_NAME, apply_identity
from wildlife_desktop.gui.main_window import MainWindow


def test_reviewer_labels_and_geometry_go_under_the_app_home(qtbot: QtBot, app_home: Path) -> None:
    win = MainWindow(AppPaths.default())
    qtbot.addWidget(win)
    review_settings.set_reviewer("A. Ranger")
    review_settings.remember_labels(["zebra", "giraffe"])
    win.resize(1000, 700)
    win.show()
    win.close()
    files = sorted((app_home / "config").rglob("*.ini"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert "A. Ranger" in text and "giraffe" in text and "geometry" in text
    home = Path(os.environ["HOME"])
    assert not [p for p in home.rglob("*") if "wildlife" in p.name.lower()]  # nothing in ~/.config

    again = MainWindow(AppPaths.default())  # a new window reads them back from there
    qtbot.addWidget(again)
    assert review_settings.stored_reviewer() == "A. Ranger"
    assert "giraffe" in review_settings.saved_labels()


def test_window_icon_and_desktop_file_name(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_identity(app)
    assert QGuiApplication.desktopFileName() == DESKTOP_FILE_NAME
    assert not app.windowIcon().isNull()
