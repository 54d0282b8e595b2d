"""The Help menu: Keyboard shortcuts (F1), User guide, Open log folder, About.

F1 on the Verify page shows that page's key overlay over the crop (where the eyes are); on
the other pages it opens the shortcuts dialog. Dialogs are made on first use and replaced,
never piled up on the window.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMenu, QMessageBox


class HelpMenu(QObject):
    """Fills ``menu``; ``window`` is the main window (its ``verify`` page, ``stack`` and ``paths``)."""

    def __init__(self, window: QMainWindow, menu: QMenu, log_folder_action: QAction | None = None) -> None:
        super().__init__(window)
        self.window: Any = window
        self.dialog: QDialog | None = None
        self.shortcuts_action = QAction(self.tr("&Keyboard shortcuts"), window)
        self.shortcuts_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))  # F1
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.guide_action = QAction(self.tr("&User guide"), window)
        self.guide_action.triggered.connect(self.show_user_guide)
        self.about_action = QAction(self.tr("&About Wildlife Desktop"), window)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        menu.addActions([self.shortcuts_action, self.guide_action])
        if log_folder_action is not None:
            menu.addAction(log_folder_action)
        menu.addSeparator()
        menu.addAction(self.about_action)

    def _show(self, dialog: QDialog) -> QDialog:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()
        return dialog

    def window_shortcuts(self) -> list[tuple[str, str]]:
        """``(keys, action text)`` of every window action with a shortcut, menu order, no duplicates."""
        rows: dict[str, str] = {}
        for menu_action in self.window.menuBar().actions():
            sub = menu_action.menu()
            for act in (sub.actions() if sub is not None else []):
                keys = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys and keys not in rows:
                    rows[keys] = act.text().replace("&", "").rstrip("…. ")
        return list(rows.items())

    @Slot()
    def show_shortcuts(self) -> None:
        from .dialogs.help_dialogs import ShortcutsDialog

        verify = self.window.verify
        if self.window.stack.currentWidget() is verify:
            verify.help_overlay.open()
            return
        self._show(ShortcutsDialog(self.window_shortcuts(), verify.help_overlay.rows(), self.window))

    @Slot()
    def show_user_guide(self) -> None:
        from .dialogs.help_dialogs import UserGuideDialog, find_user_guide

        self._show(UserGuideDialog(find_user_guide(), self.window))

    @Slot()
    def show_about(self) -> None:
        from .dialogs.about_dialog import AboutDialog

        self._show(AboutDialog(self.window.paths, self.window))


def reveal_log_folder(window: Any) -> None:
    """Help ▸ Open log folder: the system's file manager on the log folder (to send the log with a bug report)."""
    window.paths.logs.mkdir(parents=True, exist_ok=True)
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(window.paths.logs))):
        QMessageBox.information(window, window.tr("Log folder"), str(window.paths.logs))
