"""Conventions a new user expects: Return presses OK, a rename pre-fills, the window keeps its width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog
from pytestqt.qtbot import QtBot

from tests.gui.helpers import open_folder, show_window
from wildlife_desktop.gui import review_settings
from wildlife_desktop.gui.dialogs.quick_labels_dialog import QuickLabelsDialog


def test_return_in_quick_labels_presses_ok(qtbot: QtBot) -> None:
    dialog = QuickLabelsDialog(["zebra"], ["zebra", "impala"])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.edits[1].setFocus()
    qtbot.keyClicks(dialog.edits[1], "impala")
    with qtbot.waitSignal(dialog.sig_chosen) as blocker:
        qtbot.keyClick(dialog.edits[1], Qt.Key.Key_Return)
    assert blocker.args == [("zebra", "impala")] and not dialog.isVisible()


def test_change_reviewer_prefills_the_current_name(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    review_settings.set_reviewer("A. Ranger")
    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> tuple[str, bool]:
        seen.update(kwargs)
        return kwargs.get("text", ""), False  # the user cancels

    monkeypatch.setattr(QInputDialog, "getText", fake)
    assert review_settings.ask_reviewer(None, change=True) == ""
    assert seen["text"] == "A. Ranger" and review_settings.stored_reviewer() == "A. Ranger"  # cancel keeps it


def test_window_width_stays_put_after_a_folder_open(qtbot: QtBot, cct_folder: Path) -> None:
    win = show_window(qtbot, exposed=True)
    open_folder(qtbot, win, cct_folder)
    qtbot.waitUntil(win.first_screen_ready, timeout=10_000)
    assert win.width() == 1366
    assert win.minimumSizeHint().width() <= 1366
