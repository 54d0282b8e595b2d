"""The File menu's handlers: open a folder, import results or a model pack, export (sidecars and
CSV, Camtrap DP, analysis tables, species folders).

Each takes the main window; dialogs are parented to it and kept on it where tests look for them
(``publish_dialog``, ``import_onnx_dialog``). The work itself is the controllers' and the dialogs'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.errors import WildlifeError


def ask_open_folder(win: Any) -> None:
    """File ▸ Open folder…"""
    d = QFileDialog.getExistingDirectory(win, win.tr("Open folder"), str(win.folder or Path.home()))
    if d:
        win.open_folder(Path(d))


def ask_import_results(win: Any) -> None:
    """File ▸ Import results…: a MegaDetector JSON for the open folder."""
    if win.folder is None:
        return
    f, _ = QFileDialog.getOpenFileName(win, win.tr("Import results"), str(win.folder),
                                       win.tr("MegaDetector results (*.json)"))
    if f:
        win.load_results(Path(f))


def export(win: Any) -> None:
    """File ▸ Export sidecars and CSV (with the window's thresholds)."""
    win.controller.export(win.review.thresholds)


def publish(win: Any, kind: str) -> None:
    """File ▸ Export ▸ Analysis tables… / Species folders… (dialogs/publish_dialog.py)."""
    from .dialogs.publish_dialog import PublishDialog

    if win.folder is None or win.controller.results is None:
        QMessageBox.information(win, win.tr("Export"), win.tr("Open a folder with results first."))
        return
    win.publish_dialog = PublishDialog(kind, win.folder, win.paths, win.review.thresholds, win)
    win.publish_dialog.sig_finished.connect(win.statusBar().showMessage)
    win.publish_dialog.open()


def camtrap_dp(win: Any) -> None:
    """File ▸ Export ▸ Camtrap DP… (dialogs/camtrap_dialog.py)."""
    from .dialogs.camtrap_dialog import CamtrapDialog

    try:
        dialog = CamtrapDialog(win.folder, win) if win.folder is not None else None
    except WildlifeError as exc:  # e.g. no results yet
        QMessageBox.warning(win, win.tr("Camtrap DP"), str(exc))
        return
    if dialog is not None:
        dialog.exec()


def ask_import_model(win: Any) -> None:
    """File ▸ Import model pack…: a pack (zip / manifest) or a bare ONNX file (asks what it is)."""
    f, _ = QFileDialog.getOpenFileName(win, win.tr("Import model pack"), str(Path.home()),
                                       win.tr("Model packs or ONNX files (*.zip manifest.json *.onnx)"))
    if f and Path(f).suffix.lower() == ".onnx":  # a bare model: ask what it is, as the CLI's flags do
        from .dialogs.import_onnx_dialog import ask_import_onnx

        win.import_onnx_dialog = ask_import_onnx(Path(f), win.paths, win)
        if win.import_onnx_dialog is not None:
            win.import_onnx_dialog.sig_imported.connect(lambda model_id: _onnx_imported(win, model_id))
    elif f:
        win.runs.import_model_pack(Path(f))


def _onnx_imported(win: Any, model_id: str) -> None:
    win.runs.refresh_models()
    win.statusBar().showMessage(win.tr("Installed model {0}").format(model_id))
