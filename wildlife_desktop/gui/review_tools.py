"""Launchers of the Review menu's dialogs (made on use; the dialogs live in gui/dialogs/).

Each takes the main window: the dialog is parented to it, kept on it where tests and the
window look for it (``cameras_dialog``, ``audit_dialog``, ``crop_grid``, ``finetune_wizard``),
and wired to the window's reactions (models refreshed, sidecars rewritten, results reloaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def show_finetune(win: Any) -> None:
    """Review ▸ Fine-tune classifier…: the wizard, on the open folder; a new model refreshes the list."""
    from .dialogs.finetune_wizard import FinetuneWizard

    if win.finetune_wizard is not None:
        win.finetune_wizard.shutdown()
        win.finetune_wizard.deleteLater()
    win.finetune_wizard = FinetuneWizard(win.paths, [win.folder] if win.folder else [], win)
    win.finetune_wizard.sig_model_registered.connect(lambda _id: win.runs.refresh_models())
    win.finetune_wizard.open()


def show_model_versions(win: Any) -> None:
    """Review ▸ Model versions…: stages of the fine-tuned versions, promote, roll back."""
    from .dialogs.model_versions_dialog import ModelVersionsDialog

    dialog = ModelVersionsDialog(win.paths, win)
    dialog.sig_changed.connect(win.runs.refresh_models)
    dialog.open()


def show_repeat_detections(win: Any) -> None:
    """Review ▸ Repeat detections…: clusters of boxes that recur at one place; suppress / restore."""
    from . import review_settings
    from .dialogs.repeat_detections_dialog import RepeatDetectionsDialog

    res = win.controller.results
    reviewer = review_settings.ask_reviewer(win) if res is not None else ""
    if res is None or not reviewer:
        win.statusBar().showMessage(win.tr("Repeat detections need results and a reviewer name."), 5000)
        return
    dialog = RepeatDetectionsDialog(res.folder, res.predictions, win.controller.sequences,
                                    Path(res.output_dir) / ".wildlife", reviewer, parent=win)
    dialog.sig_decisions_changed.connect(win._sidecar_timer.start)
    dialog.open()


def show_cameras_time(win: Any) -> None:
    """Review ▸ Cameras and time…: serials (swapped cards), time offsets and deployments per location."""
    from .dialogs.cameras_time_dialog import CamerasTimeDialog

    res = win.controller.results
    reviewer = win._ask_reviewer() if res is not None else ""
    if res is None or not reviewer:
        win.statusBar().showMessage(win.tr("Cameras and time need results and a reviewer name."), 5000)
        return
    files = win.controller.files
    rels = [f.rel_path for f in files if f.kind == "image"] if files is not None else list(res.predictions)
    win.cameras_dialog = CamerasTimeDialog(res.folder, rels, Path(res.output_dir) / ".wildlife", reviewer,
                                           parent=win)
    win.cameras_dialog.sig_applied.connect(lambda _c: win.load_results())  # sequences and dates move
    win.cameras_dialog.sig_applied.connect(lambda _c: win.source_status.review_changed(set()))  # sidecars
    win.cameras_dialog.open()


def show_audit(win: Any) -> None:
    """Review ▸ Empty-image audit…: confirm sampled "empty" images; miss rate, suggested threshold."""
    from .dialogs.audit_dialog import AuditDialog

    res = win.controller.results
    reviewer = win._ask_reviewer() if res is not None else ""
    if res is None or not reviewer:
        win.statusBar().showMessage(win.tr("The audit needs results and a reviewer name."), 5000)
        return
    locations = {r: s.location for r, s in win.controller.sequences.items()}
    win.audit_dialog = AuditDialog(res.folder, res.predictions, locations, Path(res.output_dir) / ".wildlife",
                                   reviewer, win.review.thresholds.detection, parent=win)
    win.audit_dialog.sig_adopt_threshold.connect(win.adopt_detection_threshold)
    win.audit_dialog.sig_decisions_changed.connect(lambda: win.source_status.review_changed(set()))
    win.audit_dialog.open()


def show_crop_grid(win: Any) -> None:
    """Review ▸ Crop grid…: the Verify queue's crops side by side, bulk decisions in the same session."""
    from .dialogs.crop_grid_dialog import CropGridDialog

    win.verifier.ensure_session()
    session = win.verify.session
    if session is None:
        win.statusBar().showMessage(win.tr("The crop grid needs results and a reviewer name."), 5000)
        return
    if getattr(win, "crop_grid", None) is not None:  # one at a time, on the current session
        win.crop_grid.deleteLater()
    win.crop_grid = CropGridDialog(session, win.folder, win, blur_boxes=win.privacy.boxes_for)
    win.crop_grid.sig_decisions_changed.connect(win.verify.queue_rebuilt)
    win.crop_grid.sig_decisions_changed.connect(win.verify.sig_decisions_changed)
    win.crop_grid.show()
