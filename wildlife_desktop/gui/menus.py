"""The main window's menu bar and mode toolbar: File, View, Review, Help.

``build_menus(win)`` makes the actions, puts the ones tests and other code use on the window
(``export_action``, ``browse_action``, ``verify_action``, ``finetune_action``, ``crop_grid_action``,
``unblur_action``, ``log_folder_action``, ``help_menu``) and connects each to the window's slots or
to the File menu's handlers (gui/file_actions.py). Texts, shortcuts and order are the menus' spec.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from . import file_actions
from .help_menu import HelpMenu


def build_menus(win: Any) -> None:
    """Fill ``win``'s menu bar and add the Mode toolbar."""
    tr = win.tr

    def action(text: str, slot: Any, key: Any = None, *, checkable: bool = False) -> QAction:
        act = QAction(text, win, checkable=checkable)
        if key is not None:
            act.setShortcut(QKeySequence(key))
        act.triggered.connect(slot)
        return act

    m = win.menuBar().addMenu(tr("&File"))
    win.export_action = action(tr("&Export sidecars and CSV"), win._on_menu_export, "Ctrl+E")
    open_folder = action(tr("&Open folder…"), lambda: file_actions.ask_open_folder(win), QKeySequence.StandardKey.Open)
    m.addActions([open_folder,
                  action(tr("&Import results…"), lambda: file_actions.ask_import_results(win)), win.export_action,
                  action(tr("Import &model pack…"), win._on_menu_import_model),
                  action(tr("&Quit"), win.close, QKeySequence.StandardKey.Quit)])
    export_menu = QMenu(tr("E&xport"), m)  # File > Export > Camtrap DP… (dialogs/camtrap_dialog.py)
    for text, slot in ((tr("&Camtrap DP…"), lambda: file_actions.camtrap_dp(win)),
                       (tr("&Analysis tables…"), lambda: file_actions.publish(win, "tables")),
                       (tr("&Species folders…"), lambda: file_actions.publish(win, "species"))):
        export_menu.addAction(action(text, slot))
    m.insertMenu(m.actions()[-1], export_menu)

    win.browse_action = action(tr("Browse (F3)"), win.show_browse, "F3", checkable=True)
    win.verify_action = action(tr("Verify (F2)"), win.show_verify, "F2", checkable=True)
    win.browse_action.setChecked(True)
    thresholds = action(tr("&Thresholds from review…"), win.verifier.show_threshold_dialog)
    win.finetune_action = action(tr("&Fine-tune classifier…"), win.show_finetune)
    win.crop_grid_action = action(tr("&Crop grid…"), win.show_crop_grid, "Ctrl+G")
    win.crop_grid_action.setToolTip(tr("All crops of one species side by side, decided in bulk (Ctrl+G)"))
    v = win.menuBar().addMenu(tr("&View"))
    v.addActions([action(tr("&Fit image"), win.review.canvas.fit), win.browse_action, win.verify_action])
    win.unblur_action = action(tr("Show people &unblurred (this session)"), win.privacy.set_unblurred,
                               checkable=True)  # off at every start: never saved
    v.addAction(win.unblur_action)

    win.menuBar().addMenu(tr("&Review")).addActions([
        win.verify_action, thresholds,
        action(tr("&Quick labels (keys 1–9)…"), win.verifier.edit_quick_labels),
        action(tr("Change &reviewer name…"), win.verifier.change_reviewer), win.finetune_action,
        action(tr("Model &versions…"), win.show_model_versions),
        action(tr("Repeat &detections…"), win.show_repeat_detections), win.crop_grid_action,
        action(tr("Cameras and &time…"), win.show_cameras_time),
        action(tr("&Empty-image audit…"), win.show_audit)])
    win.log_folder_action = action(tr("Open &log folder"), win.open_log_folder)
    win.help_menu = HelpMenu(win, win.menuBar().addMenu(tr("&Help")), win.log_folder_action)
    bar = win.addToolBar(tr("Mode"))
    bar.setObjectName("modeToolbar")
    bar.addActions([win.browse_action, win.verify_action, win.crop_grid_action, thresholds])
