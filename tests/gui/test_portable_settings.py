"""Portable mode: the window's settings live under WILDLIFE_DESKTOP_HOME, never in ~/.config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.conftest import REPO
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui import review_settings
from wildlife_desktop.gui.app_settings import DESKTOP_FILE_NAME, apply_identity, use_settings_under


def test_the_app_keeps_its_settings_under_its_home(tmp_path: Path) -> None:
    """The real start-up (a subprocess): geometry and recent folders land in <home>/config, nothing in ~."""
    home, user = tmp_path / "portable", tmp_path / "user"
    folder = tmp_path / "card"
    folder.mkdir()
    env = {**os.environ, "WILDLIFE_DESKTOP_HOME": str(home), "HOME": str(user), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(user / ".config")}
    res = subprocess.run([sys.executable, "-m", "wildlife_desktop", "gui", str(folder), "--screenshot",
                          str(tmp_path / "shot.png"), "--size", "900x600"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    files = list((home / "config").rglob("*.ini"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert "geometry" in text and str(folder) in text  # window geometry, recent folders
    assert not [p for p in user.rglob("*") if "wildlife" in p.name.lower()]


def test_reviewer_and_labels_follow_the_settings_file(qtbot: QtBot, app_home: Path) -> None:
    ini = use_settings_under(AppPaths.default())
    review_settings.set_reviewer("A. Ranger")
    review_settings.remember_labels(["zebra", "giraffe"])
    QSettings().sync()
    assert ini.parent.is_relative_to(app_home / "config")
    text = ini.read_text(encoding="utf-8")
    assert "A. Ranger" in text and "giraffe" in text


def test_window_icon_and_desktop_file_name(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_identity(app)
    assert QGuiApplication.desktopFileName() == DESKTOP_FILE_NAME
    assert not app.windowIcon().isNull()
