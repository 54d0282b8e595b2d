"""The main window: composes the panes and wires signals. No business logic lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QThreadPool, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QMessageBox,
)

from ..core.paths import AppPaths
from ..pipeline.thumbnails import ThumbnailCache
from . import file_actions, folder_view, review_tools
from .counts_controller import CountsController
from .engine import InferenceEngine
from .folder_controller import FolderController
from .folder_thresholds import FolderThresholds
from .help_menu import reveal_log_folder
from .item_models.folder_model import FolderModel
from .item_models.thumbnail_model import ThumbnailModel
from .menus import build_menus
from .privacy import PrivacyGuard
from .run_controller import RANDOM_BANNER, RunController
from .shortcuts import keymap_path, load_user_keymap
from .source_status import SourceStatus
from .verify_controller import VerifyController
from .view_state import Thresholds
from .widgets.folder_browser import FolderBrowserWidget
from .widgets.notice_bar import NoticeBarWidget
from .widgets.results_source import ResultsSourceWidget
from .widgets.review_pane import ReviewPaneWidget
from .widgets.run_panel import RunPanelWidget
from .widgets.thumbnail_grid import ThumbnailGridWidget
from .widgets.verify_page import VerifyPageWidget
from .widgets.warning_banner import WarningBannerWidget
from .window_layout import build_central
from .workers import ThumbnailLoader

__all__ = ["RANDOM_BANNER", "MainWindow"]

THRESHOLDS_THROTTLE_MS = 60


class MainWindow(QMainWindow):
    """Folder browser | thumbnail grid | review pane, with the run strip on top."""

    def __init__(self, paths: AppPaths | None = None) -> None:
        super().__init__()
        self.paths = (paths or AppPaths.default()).ensure()
        self.controller = FolderController(self.paths, self)
        self._close_when_idle = False
        self.finetune_wizard: Any = None  # dialogs.finetune_wizard.FinetuneWizard, made on first use
        self.setWindowTitle(self.tr("Wildlife Desktop"))

        self.engine = InferenceEngine(self.paths, self)
        self.thumbs = ThumbnailLoader(ThumbnailCache.for_paths(self.paths), self)
        self.model = ThumbnailModel(self)
        self.folders = FolderBrowserWidget(FolderModel(self.paths, self), self)
        self.grid = ThumbnailGridWidget(self.model, self)
        self.review = ReviewPaneWidget(self)
        self.run_panel = RunPanelWidget(self)
        self.banner = WarningBannerWidget(self)
        self.models_banner = WarningBannerWidget(self)
        self.verify = VerifyPageWidget(self)
        self.verify.set_keymap(load_user_keymap(self.paths.config))
        self.verify.help_overlay.set_footer(self.tr("Rebind keys in {0}").format(keymap_path(self.paths.config)))
        self.runs = RunController(self.paths, self.engine, self.controller, self.model, self.run_panel,
                                  self.review, self.banner, self)
        self.verifier = VerifyController(self.verify, self.controller, lambda: self.review.thresholds.detection, self)
        self.counts = CountsController(self.controller, self.review.counts, lambda: self.review.thresholds,
                                       self._ask_reviewer, self)  # the review pane's editable counts
        # Privacy by default (gui/privacy.py): people blurred on screen until unlocked for this session.
        self.privacy = PrivacyGuard(self.model.prediction, lambda: self.controller.decisions,
                                    lambda: getattr(self.controller.results, "layer", None), self)
        self.thumbs.blur_boxes = self.privacy.thumbnail_boxes
        self.verify.loader.blur_boxes = self.privacy.boxes_for
        self.controller.blur_boxes = self.privacy.boxes_for
        self.review.time_of = self.controller.corrected_time  # capture times with the camera's offset
        self.source = ResultsSourceWidget(self)
        self.notice = NoticeBarWidget(self)
        # Thresholds are the user's, per folder and model (pipeline/view_settings.py).
        self.folder_thresholds = FolderThresholds(self.paths.config, self.controller, self.run_panel, self.review,
                                                  self)
        self.view_settings = self.folder_thresholds.store
        self.runs.thresholds_for = self.thresholds_for_detector
        # Review decisions reach the sidecars SIDECARS_DEBOUNCE_MS after the last one (on the pool).
        self.source_status = SourceStatus(self.paths, self.controller, self.engine, self.source, self.run_panel,
                                          self.review, self)
        self._sidecar_timer = self.source_status.timer
        # Slider drags emit ~60 changes/s; the grid re-sorts at most once per interval, with
        # the latest value (the review pane itself follows every step: one file is cheap).
        self._thresholds_timer = QTimer(self)
        self._thresholds_timer.setSingleShot(True)
        self._thresholds_timer.setInterval(THRESHOLDS_THROTTLE_MS)
        self._thresholds_timer.timeout.connect(lambda: folder_view.apply_thresholds(self))
        # The grid's review-state and verified-label filters: per-file index made on the pool.
        self._review_index_timer = QTimer(self)
        self._review_index_timer.setSingleShot(True)
        self._review_index_timer.setInterval(300)
        self._review_index_timer.timeout.connect(self._refresh_review_index)

        build_central(self)  # gui/window_layout.py: sets self.splitter (Browse) and self.stack
        build_menus(self)
        self._wire()
        self.refresh_models()
        self.statusBar().showMessage(self.tr("Open a folder of camera-trap images to begin."))
        geo = QSettings().value("main/geometry")
        if geo is not None:
            self.restoreGeometry(geo)

    def _wire(self) -> None:
        self.controller.sig_scanned.connect(lambda files, index: folder_view.on_scanned(self, files, index))
        self.controller.sig_results_loaded.connect(lambda imported: folder_view.on_results_loaded(self, imported))
        self.controller.sig_exported.connect(lambda out: self.statusBar().showMessage(
            self.tr("Exported: {0}").format(", ".join(str(p) for p in out))))
        self.controller.sig_exported.connect(lambda out: out and self.notice.set_message(self.tr(  # where the eye is
            "Exported {0} into {1}").format(", ".join(Path(p).name for p in out), Path(out[0]).parent)))
        self.controller.sig_exported.connect(self.source_status.sidecars_written)
        self.controller.sig_failed.connect(self.statusBar().showMessage)
        self.controller.sig_failed.connect(self.notice.set_message)  # a failed import or export: in the window
        self.controller.sig_folder_problem.connect(lambda message: folder_view.on_folder_problem(self, message))
        self.controller.sig_sidecars_written.connect(self.source_status.sidecars_written)
        self.controller.sig_preview_image.connect(
            lambda rel, image, error: folder_view.show_preview_image(self, rel, image, error))
        self.controller.sig_preview_meta.connect(lambda rel, meta: self.review.set_meta(meta, rel))
        self.verifier.sig_reviewed_changed.connect(self.model.set_reviewed)
        self.verifier.sig_reviewed_changed.connect(lambda _f: self._review_index_timer.start())
        self.verifier.sig_reviewed_changed.connect(self.source_status.review_changed)
        self.verify.sig_next_step.connect(self._on_verify_next_step)
        self.verifier.sig_status.connect(self.statusBar().showMessage)
        self.model.sig_thumbnail_wanted.connect(lambda rel: folder_view.request_thumbnail(self, rel))
        self.thumbs.sig_loaded.connect(self.model.set_thumbnail)
        self.thumbs.sig_dropped.connect(self.model.forget_requests)
        self.folders.sig_folder_selected.connect(self.open_folder)
        self.grid.sig_current_changed.connect(self._on_grid_current_changed)
        self.review.sig_step.connect(self.grid.step)
        self.review.sig_thresholds_changed.connect(lambda _th: folder_view.throttle_thresholds(self))
        self.review.sig_thresholds_edited.connect(self.folder_thresholds.edited)
        self.folder_thresholds.sig_status.connect(self.statusBar().showMessage)
        self.run_panel.sig_detector_changed.connect(self._on_run_panel_detector_changed)
        self.run_panel.sig_import_model_requested.connect(self._on_menu_import_model)
        self.runs.sig_status.connect(self.statusBar().showMessage)
        self.runs.sig_idle.connect(self._on_runs_idle)
        self.runs.sig_summary.connect(self.notice.set_message)
        self.engine.sig_progress.connect(lambda _p: self.grid.update_count())  # "N processed", live
        # Blurred pixels follow the switch, new results and decisions (after the model has them).
        self.privacy.sig_changed.connect(self._refresh_privacy)
        self.controller.sig_results_loaded.connect(self._refresh_privacy)
        self.verifier.sig_reviewed_changed.connect(self._refresh_privacy)
        self.engine.sig_predictions.connect(self._refresh_privacy)
        self.thumbs.sig_loaded.connect(lambda rel, _image: folder_view.recheck_thumbnail(self, rel))
        self.counts.sig_status.connect(self.statusBar().showMessage)
        self.counts.sig_decisions_changed.connect(lambda: self.source_status.review_changed(set()))
        self.review.sig_thresholds_changed.connect(self.counts.refresh)
        self.verifier.sig_reviewed_changed.connect(self.counts.refresh)

    # ---- folder ------------------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        return self.controller.folder

    @property
    def results(self) -> Any:
        return self.controller.results

    @property
    def _results_loaded(self) -> bool:
        return self.controller.results_loaded

    @Slot(Path)
    def open_folder(self, folder: Path, import_json: Path | None = None) -> None:
        """Scan ``folder`` off the GUI thread, then show it; optionally import results first."""
        if self.engine.running:
            self.statusBar().showMessage(self.tr("A run is in progress; cancel it to open another folder."))
            return
        folder = Path(folder)
        self._flush_pending_writes()  # the previous folder's review reaches its sidecars
        self.thumbs.reset(folder)
        self.privacy.forget()
        self.model.clear()
        self.grid.set_message("")
        self.notice.set_message("")
        self.source.set_source(self.tr("Opening {0}…").format(folder))
        self.source.set_sidecars("")
        self.folder_thresholds.key = None
        self.review.show_file(None, None)
        self.verify.set_session(None, folder)
        self.folders.model.hold(folder)  # its badge comes with the results, not from a 2nd rescan
        self.folders.reveal(folder)
        self.setWindowTitle(self.tr("{0} — Wildlife Desktop").format(folder.name))
        self.statusBar().showMessage(self.tr("Scanning {0}…").format(folder))
        self.controller.open(folder, import_json)

    def load_results(self, import_json: Path | None = None) -> None:
        self.controller.load_results(import_json)

    @Slot()
    def _refresh_review_index(self) -> None:
        folder_view.refresh_review_index(self)

    @Slot(str)
    def _on_grid_current_changed(self, rel_path: str) -> None:
        folder_view.show_current(self, rel_path)

    # ---- thresholds: the user's, per folder and model (gui/folder_thresholds.py) ---------
    def thresholds_for_detector(self, detector_id: str) -> Thresholds:
        """The thresholds a run of ``detector_id`` on the open folder uses (what the user chose for it)."""
        return self.folder_thresholds.for_detector(detector_id)

    @Slot(str)
    def _on_run_panel_detector_changed(self, _detector_id: str) -> None:
        if self.controller.results is None and self.controller.results_loaded:
            self.folder_thresholds.restore()  # nothing shown: the sliders follow the detector a run would use
            self.runs.update_banner()

    def _flush_pending_writes(self, *, wait: bool = False) -> None:
        """Write what is waiting for a timer now (before another folder opens, or the window closes)."""
        self.source_status.flush()
        self.folder_thresholds.flush(wait=wait)

    @Slot(str)
    def _on_verify_next_step(self, step: str) -> None:
        if step == "export":
            self._on_menu_export()
        elif step == "thresholds":
            self.verifier.show_threshold_dialog()
        elif step == "finetune":
            self.show_finetune()

    # ---- runs --------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.runs.refresh_models()

    @Slot()
    def start_run(self) -> bool:
        return self.runs.start_run()

    def _on_engine_predictions(self, preds: list[Any]) -> None:
        self.runs._on_engine_predictions(preds)

    @Slot(str)
    def _on_runs_idle(self, error: str) -> None:
        if self._close_when_idle:
            QTimer.singleShot(0, self.close)
        elif error:
            QMessageBox.critical(self, self.tr("Run failed"), error)
        elif self.runs.run_layer_id is not None:
            # From the predictions the engine delivered; no journal reload (see apply_run).
            self.controller.apply_run(self.runs.run_layer_id, self.runs.run_already_done,
                                     self.runs.run_predictions)
            self.runs.run_predictions = []
        else:
            self.load_results()

    # ---- menu --------------------------------------------------------------------------
    @Slot()
    def open_log_folder(self) -> None:
        reveal_log_folder(self)

    @Slot()
    def _on_menu_export(self) -> None:
        file_actions.export(self)

    @Slot()
    def _on_menu_import_model(self) -> None:
        file_actions.ask_import_model(self)

    def _refresh_privacy(self, *_args: Any) -> None:
        folder_view.refresh_privacy(self)

    # ---- verify ------------------------------------------------------------------------
    @Slot()
    def show_browse(self) -> None:
        self.stack.setCurrentWidget(self.splitter)
        self.browse_action.setChecked(True)
        self.verify_action.setChecked(False)
        self._on_grid_current_changed(self.grid.current_rel_path() or "")

    @Slot()
    def show_verify(self) -> None:
        """Switch to the Verify page, opening a review session (asks the reviewer's name once)."""
        self.stack.setCurrentWidget(self.verify)
        self.browse_action.setChecked(False)
        self.verify_action.setChecked(True)
        self.verifier.ensure_session()
        self.verify.setFocus()

    @Slot()
    def show_finetune(self) -> None:
        review_tools.show_finetune(self)

    @Slot()
    def show_model_versions(self) -> None:
        review_tools.show_model_versions(self)

    @Slot()
    def show_repeat_detections(self) -> None:
        review_tools.show_repeat_detections(self)

    @Slot()
    def show_cameras_time(self) -> None:
        review_tools.show_cameras_time(self)

    @Slot()
    def show_audit(self) -> None:
        review_tools.show_audit(self)

    @Slot()
    def show_crop_grid(self) -> None:
        review_tools.show_crop_grid(self)

    @Slot(float)
    def adopt_detection_threshold(self, value: float) -> None:
        """Set the Detection threshold, kept for this folder and model (pipeline/view_settings.py)."""
        th = Thresholds(value, self.review.thresholds.classification)
        self.review.set_thresholds(th)
        self.folder_thresholds.edited(th)
        self.statusBar().showMessage(self.tr("Detection threshold set to {0:g} for this folder").format(value), 5000)

    def _ask_reviewer(self) -> str:
        from . import review_settings

        return review_settings.ask_reviewer(self)

    # ---- lifetime ----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.engine.running:
            # The core journals every file as it is done; cancelling makes it write the
            # sidecars and stop, and the next start resumes from the journal.
            self._close_when_idle = True
            self.engine.cancel()
            self.run_panel.set_status(self.tr("Finishing the current image, then closing…"))
            event.ignore()
            return
        QSettings().setValue("main/geometry", self.saveGeometry())
        self._flush_pending_writes(wait=True)
        if self.finetune_wizard is not None:
            self.finetune_wizard.shutdown()
        self.thumbs.reset(None)
        self.engine.shutdown()
        self.thumbs.wait_idle(3000)
        QThreadPool.globalInstance().waitForDone(3000)
        super().closeEvent(event)

    def first_screen_ready(self) -> bool:
        """True once the visible thumbnails and the review image are painted (screenshot mode)."""
        if self.folder is None or self.controller.problem:
            return True  # a folder that cannot be opened says so at once (no wait for a load)
        if not self._results_loaded:
            return False
        if self.model.rowCount() == 0:
            return True
        return self.grid.visible_thumbnails_ready() and self.review.image_settled()
