"""Help menu: keyboard shortcuts (F1), user guide, log folder, About with the models and their licences."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from tests.gui.conftest import TWIN_DETECTOR
from tests.gui.helpers import show_window
from wildlife_desktop import __version__
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.dialogs.about_dialog import AboutDialog
from wildlife_desktop.gui.dialogs.help_dialogs import ShortcutsDialog, UserGuideDialog
from wildlife_desktop.gui.main_window import MainWindow


def _help_texts(win: MainWindow) -> list[str]:
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Help")
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def test_help_menu_items(qtbot: QtBot) -> None:
    win = show_window(qtbot)
    assert _help_texts(win) == ["Keyboard shortcuts", "User guide", "Open log folder", "About Wildlife Desktop"]
    assert win.help_menu.shortcuts_action.shortcut().toString() == "F1"


def test_f1_opens_the_shortcuts_on_browse_and_the_overlay_on_verify(qtbot: QtBot) -> None:
    win = show_window(qtbot)
    win.help_menu.shortcuts_action.trigger()
    dialog = win.help_menu.dialog
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    rows = dict(dialog.rows())
    assert rows.get("F2", "").startswith("Verify") and "Ctrl+E" in rows  # the window's own shortcuts
    assert any("Accept" in text or "accept" in text for text in rows.values())  # the Verify keys
    dialog.close()
    win.show_verify()
    win.help_menu.shortcuts_action.trigger()
    assert win.verify.help_overlay.isVisible()


def test_user_guide_shows_the_readme(qtbot: QtBot) -> None:
    win = show_window(qtbot)
    win.help_menu.guide_action.trigger()
    dialog = win.help_menu.dialog
    assert isinstance(dialog, UserGuideDialog) and dialog.source is not None
    assert "Verify by keyboard" in dialog.text.toPlainText()
    win.help_menu.about_action.trigger()  # replaces the previous dialog
    assert not isinstance(win.help_menu.dialog, UserGuideDialog)


def test_about_names_version_models_and_licences(qtbot: QtBot) -> None:
    from wildlife_desktop.runtime.store import ModelStore

    paths = AppPaths.default()
    ModelStore(paths).import_onnx(TWIN_DETECTOR, family="yolov10", labels=("animal", "person", "vehicle"),
                                  licence="AGPL-3.0")
    about = AboutDialog(paths)
    qtbot.addWidget(about)
    text = about.text.toPlainText()
    assert f"Wildlife Desktop {__version__}" in text
    assert "twin-yolov10n-640-random" in text and "AGPL-3.0" in text
    assert "Random weights" in text  # never presented as a real detector
    assert str(paths.logs) in text
