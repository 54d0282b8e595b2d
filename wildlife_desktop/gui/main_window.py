"""The main window: composes the panes and wires signals. No business logic lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import WildlifeError
from ..core.paths import AppPaths
from ..pipeline.thumbnails import ThumbnailCache
from .engine import InferenceEngine
from .folder_controller import FolderController
from .help_menu import HelpMenu
from .item_models.folder_model import FolderModel
from .item_models.thumbnail_model import ThumbnailModel
from .run_controller import RANDOM_BANNER, RunController
from .shortcuts import keymap_path, load_user_keymap
from .verify_controller import VerifyController
from .view_state import Thresholds
from .widgets.folder_browser import FolderBrowserWidget
from .widgets.review_pane import ReviewPaneWidget
from .widgets.run_panel import RunPanelWidget
from .widgets.thumbnail_grid import ThumbnailGridWidget
from .widgets.verify_page import VerifyPageWidget
from .widgets.warning_banner import WarningBannerWidget
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
        # Slider drags emit ~60 changes/s; the grid re-sorts at most once per interval, with
        # the latest value (the review pane itself follows every step: one file is cheap).
        self._thresholds_timer = QTimer(self)
        self._thresholds_timer.setSingleShot(True)
        self._thresholds_timer.setInterval(THRESHOLDS_THROTTLE_MS)
        self._thresholds_timer.timeout.connect(self._apply_thresholds)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.folders)
        split.addWidget(self.grid)
        split.addWidget(self.review)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 4)
        split.setSizes([230, 560, 640])
        self.splitter = split
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        for w in (self.run_panel, self.banner, self.models_banner):
            lay.addWidget(w)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(split)
        self.stack.addWidget(self.verify)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._build_menus()
        self._wire()
        self.refresh_models()
        self.statusBar().showMessage(self.tr("Open a folder of camera-trap images to begin."))
        geo = QSettings().value("main/geometry")
        if geo is not None:
            self.restoreGeometry(geo)

    def _build_menus(self) -> None:
        def action(text: str, slot: Any, key: Any = None, *, checkable: bool = False) -> QAction:
            act = QAction(text, self, checkable=checkable)
            if key is not None:
                act.setShortcut(QKeySequence(key))
            act.triggered.connect(slot)
            return act

        m = self.menuBar().addMenu(self.tr("&File"))
        self.export_action = action(self.tr("&Export sidecars and CSV"), self._on_menu_export, "Ctrl+E")
        m.addActions([action(self.tr("&Open folder…"), self._on_menu_open, QKeySequence.StandardKey.Open),
                      action(self.tr("&Import results…"), self._on_menu_import_results), self.export_action,
                      action(self.tr("Import &model pack…"), self._on_menu_import_model),
                      action(self.tr("&Quit"), self.close, QKeySequence.StandardKey.Quit)])
        export_menu = QMenu(self.tr("E&xport"), m)  # File > Export > Camtrap DP… (dialogs/camtrap_dialog.py)
        export_menu.addAction(action(self.tr("&Camtrap DP…"), self._on_menu_camtrap_dp))
        m.insertMenu(m.actions()[-1], export_menu)
        self.browse_action = action(self.tr("Browse (F3)"), self.show_browse, "F3", checkable=True)
        self.verify_action = action(self.tr("Verify (F2)"), self.show_verify, "F2", checkable=True)
        self.browse_action.setChecked(True)
        thresholds = action(self.tr("&Thresholds from review…"), self.verifier.show_threshold_dialog)
        self.finetune_action = action(self.tr("&Fine-tune classifier…"), self.show_finetune)
        v = self.menuBar().addMenu(self.tr("&View"))
        v.addActions([action(self.tr("&Fit image"), self.review.canvas.fit), self.browse_action, self.verify_action])
        self.menuBar().addMenu(self.tr("&Review")).addActions([
            self.verify_action, thresholds,
            action(self.tr("&Quick labels (keys 1–9)…"), self.verifier.edit_quick_labels),
            action(self.tr("Change &reviewer name…"), self.verifier.change_reviewer), self.finetune_action,
            action(self.tr("Model &versions…"), self.show_model_versions)])
        self.log_folder_action = action(self.tr("Open &log folder"), self.open_log_folder)
        self.help_menu = HelpMenu(self, self.menuBar().addMenu(self.tr("&Help")), self.log_folder_action)
        bar = self.addToolBar(self.tr("Mode"))
        bar.setObjectName("modeToolbar")
        bar.addActions([self.browse_action, self.verify_action, thresholds])

    def _wire(self) -> None:
        self.controller.sig_scanned.connect(self._on_controller_scanned)
        self.controller.sig_results_loaded.connect(self._on_controller_results_loaded)
        self.controller.sig_exported.connect(lambda out: self.statusBar().showMessage(
            self.tr("Exported: {0}").format(", ".join(str(p) for p in out))))
        self.controller.sig_failed.connect(self.statusBar().showMessage)
        self.controller.sig_preview_image.connect(self._on_controller_preview_image)
        self.controller.sig_preview_meta.connect(lambda rel, meta: self.review.set_meta(meta, rel))
        self.verifier.sig_reviewed_changed.connect(self.model.set_reviewed)
        self.verifier.sig_status.connect(self.statusBar().showMessage)
        self.model.sig_thumbnail_wanted.connect(self._on_model_thumbnail_wanted)
        self.thumbs.sig_loaded.connect(self.model.set_thumbnail)
        self.thumbs.sig_dropped.connect(self.model.forget_requests)
        self.folders.sig_folder_selected.connect(self.open_folder)
        self.grid.sig_current_changed.connect(self._on_grid_current_changed)
        self.review.sig_step.connect(self.grid.step)
        self.review.sig_thresholds_changed.connect(self._on_review_thresholds_changed)
        self.run_panel.sig_import_model_requested.connect(self._on_menu_import_model)
        self.runs.sig_status.connect(self.statusBar().showMessage)
        self.runs.sig_idle.connect(self._on_runs_idle)

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
        self.thumbs.reset(folder)
        self.model.clear()
        self.review.show_file(None, None)
        self.verify.set_session(None, folder)
        self.folders.model.hold(folder)  # its badge comes with the results, not from a 2nd rescan
        self.folders.reveal(folder)
        self.setWindowTitle(self.tr("{0} — Wildlife Desktop").format(folder.name))
        self.statusBar().showMessage(self.tr("Scanning {0}…").format(folder))
        self.controller.open(folder, import_json)

    def load_results(self, import_json: Path | None = None) -> None:
        self.controller.load_results(import_json)

    @Slot(object, object)
    def _on_controller_scanned(self, files: list[Any], index_of: dict[str, int]) -> None:
        folder = self.controller.folder
        self.model.set_files(folder, files, index_of)
        self.grid.refresh_filters()
        self.grid.select_row(0)
        self.statusBar().showMessage(self.tr("%n file(s) in {0}", "", len(files)).format(folder))

    @Slot(bool)
    def _on_controller_results_loaded(self, imported: bool) -> None:
        c = self.controller
        if c.results is not None:
            typical = c.typical_threshold()
            if typical is not None:  # start the display at the detector's usual threshold
                self.review.set_thresholds(Thresholds(typical, self.review.thresholds.classification))
            self._thresholds_timer.stop()
            self.model.thresholds = self.review.thresholds
            self.model.replace_results(c.results.predictions, c.digests, c.labels)
            self.model.set_reviewed(c.reviewed_files())
            self.grid.refresh_filters()
            if imported:  # demo/import: land on the first detection
                self.grid.select_row(self.model.first_row_with_detection())
            self._on_grid_current_changed(self.grid.current_rel_path() or "")
        self.verifier.close_session()
        if self.stack.currentWidget() is self.verify:
            self.show_verify()
        if c.folder is not None:
            self.folders.model.set_summary(c.folder, c.summary)
        self.runs.update_banner()
        if not self.engine.running:
            self.runs.show_idle_progress()

    @Slot(str)
    def _on_model_thumbnail_wanted(self, rel_path: str) -> None:
        row = self.model.row_of(rel_path)
        media = self.model.media_at(row) if row is not None else None
        if media is not None:
            self.thumbs.request(rel_path, media.size, media.mtime_ns)

    @Slot(str)
    def _on_grid_current_changed(self, rel_path: str) -> None:
        if not rel_path or self.folder is None:
            return
        row = self.model.row_of(rel_path)
        media = self.model.media_at(row) if row is not None else None
        pos = self.tr("{0} / {1}").format((row or 0) + 1, self.model.rowCount())
        pred = self.model.prediction(rel_path)
        self.review.show_file(rel_path, pred, pos)
        self.review.set_verified(*self.controller.verified_for(rel_path, pred))
        seq = self.controller.sequences.get(rel_path)
        seq_text = ""
        if seq is not None:
            seq_text = self.tr("{0} of {1}  ({2})").format(seq.frame_num + 1, seq.seq_num_frames, seq.seq_id)
        self.review.set_sequence_text(seq_text)
        self.controller.load_preview(rel_path, media.kind if media else "image",
                                     with_meta=pred is None or not pred.meta.datetime)

    @Slot(str, object, str)
    def _on_controller_preview_image(self, rel_path: str, image: Any, error: str) -> None:
        pix = QPixmap.fromImage(image) if image is not None else None
        self.review.set_image(rel_path, pix, self.tr("Cannot show this file: {0}").format(error) if error else "")

    @Slot(object)
    def _on_review_thresholds_changed(self, _thresholds: Thresholds) -> None:
        if not self._thresholds_timer.isActive():
            self._thresholds_timer.start()

    @Slot()
    def _apply_thresholds(self) -> None:
        if self.review.thresholds != self.model.thresholds:
            self.model.set_thresholds(self.review.thresholds)
            self.grid.refresh_filters()

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
        """Show the log folder in the system's file manager (to send the log with a bug report)."""
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.paths.logs))):
            QMessageBox.information(self, self.tr("Log folder"), str(self.paths.logs))

    @Slot()
    def _on_menu_open(self) -> None:
        d = QFileDialog.getExistingDirectory(self, self.tr("Open folder"), str(self.folder or Path.home()))
        if d:
            self.open_folder(Path(d))

    @Slot()
    def _on_menu_import_results(self) -> None:
        if self.folder is None:
            return
        f, _ = QFileDialog.getOpenFileName(self, self.tr("Import results"), str(self.folder),
                                           self.tr("MegaDetector results (*.json)"))
        if f:
            self.load_results(Path(f))

    @Slot()
    def _on_menu_export(self) -> None:
        self.controller.export(self.review.thresholds)

    @Slot()
    def _on_menu_camtrap_dp(self) -> None:
        from .dialogs.camtrap_dialog import CamtrapDialog

        try:
            dialog = CamtrapDialog(self.folder, self) if self.folder is not None else None
        except WildlifeError as exc:  # e.g. no results yet
            QMessageBox.warning(self, self.tr("Camtrap DP"), str(exc))
            return
        if dialog is not None:
            dialog.exec()

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
    def _on_menu_import_model(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, self.tr("Import model pack"), str(Path.home()),
                                           self.tr("Model packs or ONNX files (*.zip manifest.json *.onnx)"))
        if f and Path(f).suffix.lower() == ".onnx":  # a bare model: ask what it is, as the CLI's flags do
            from .dialogs.import_onnx_dialog import ask_import_onnx

            self.import_onnx_dialog = ask_import_onnx(Path(f), self.paths, self)
            if self.import_onnx_dialog is not None:
                self.import_onnx_dialog.sig_imported.connect(self._on_onnx_imported)
        elif f:
            self.runs.import_model_pack(Path(f))

    @Slot(str)
    def _on_onnx_imported(self, model_id: str) -> None:
        self.runs.refresh_models()
        self.statusBar().showMessage(self.tr("Installed model {0}").format(model_id))

    @Slot()
    def show_finetune(self) -> None:
        """Review ▸ Fine-tune classifier…: the wizard, on the open folder; a new model refreshes the list."""
        from .dialogs.finetune_wizard import FinetuneWizard

        if self.finetune_wizard is not None:
            self.finetune_wizard.shutdown()
            self.finetune_wizard.deleteLater()
        self.finetune_wizard = FinetuneWizard(self.paths, [self.folder] if self.folder else [], self)
        self.finetune_wizard.sig_model_registered.connect(lambda _id: self.runs.refresh_models())
        self.finetune_wizard.open()

    @Slot()
    def show_model_versions(self) -> None:
        """Review ▸ Model versions…: stages of the fine-tuned versions, promote, roll back."""
        from .dialogs.model_versions_dialog import ModelVersionsDialog

        dialog = ModelVersionsDialog(self.paths, self)
        dialog.sig_changed.connect(self.runs.refresh_models)
        dialog.open()

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
        if self.finetune_wizard is not None:
            self.finetune_wizard.shutdown()
        self.thumbs.reset(None)
        self.engine.shutdown()
        self.thumbs.wait_idle(3000)
        QThreadPool.globalInstance().waitForDone(3000)
        super().closeEvent(event)

    def first_screen_ready(self) -> bool:
        """True once the visible thumbnails and the review image are painted (screenshot mode)."""
        if self.folder is None:
            return True
        if not self._results_loaded:
            return False
        if self.model.rowCount() == 0:
            return True
        return self.grid.visible_thumbnails_ready() and self.review.image_settled()
