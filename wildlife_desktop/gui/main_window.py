"""The main window: composes the panes and wires signals. No business logic lives here."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from ..core.paths import AppPaths
from ..pipeline.thumbnails import ThumbnailCache
from . import review_settings
from .dialogs.threshold_dialog import ThresholdDialog
from .engine import InferenceEngine
from .folder_controller import FolderController
from .image_io import load_review_image, load_review_meta
from .item_models.folder_model import FolderModel
from .item_models.thumbnail_model import ThumbnailModel
from .shortcuts import load_user_keymap
from .view_state import Thresholds
from .widgets.folder_browser import FolderBrowserWidget
from .widgets.review_pane import ReviewPaneWidget
from .widgets.run_panel import RunPanelWidget
from .widgets.thumbnail_grid import ThumbnailGridWidget
from .widgets.verify_page import VerifyPageWidget
from .widgets.warning_banner import WarningBannerWidget
from .workers import ThumbnailLoader, run_in_pool

logger = logging.getLogger(__name__)
RANDOM_BANNER = "random weights — benchmark only, not a detector"


class MainWindow(QMainWindow):
    """Folder browser | thumbnail grid | review pane, with the run strip on top."""

    def __init__(self, paths: AppPaths | None = None) -> None:
        super().__init__()
        self.paths = (paths or AppPaths.default()).ensure()
        self.controller = FolderController(self.paths, self)
        self._close_when_idle = False
        self._run_base, self._run_total = 0, 0
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
        m = self.menuBar().addMenu(self.tr("&File"))
        for text, key, slot in ((self.tr("&Open folder…"), QKeySequence.StandardKey.Open, self._on_menu_open),
                                (self.tr("&Import results…"), None, self._on_menu_import_results),
                                (self.tr("&Export sidecars and CSV"), "Ctrl+E", self._on_menu_export),
                                (self.tr("Import &model pack…"), None, self._on_menu_import_model),
                                (self.tr("&Quit"), QKeySequence.StandardKey.Quit, self.close)):
            act = QAction(text, self)
            if key is not None:
                act.setShortcut(QKeySequence(key))
            act.triggered.connect(slot)
            m.addAction(act)
        self.export_action = m.actions()[2]
        v = self.menuBar().addMenu(self.tr("&View"))
        fit = QAction(self.tr("&Fit image"), self)
        fit.triggered.connect(self.review.canvas.fit)
        v.addAction(fit)
        bar = self.addToolBar(self.tr("Mode"))
        bar.setObjectName("modeToolbar")
        self.browse_action = QAction(self.tr("Browse (F3)"), self, shortcut=QKeySequence("F3"), checkable=True)
        self.verify_action = QAction(self.tr("Verify (F2)"), self, shortcut=QKeySequence("F2"), checkable=True)
        self.browse_action.setChecked(True)
        self.browse_action.triggered.connect(self.show_browse)
        self.verify_action.triggered.connect(self.show_verify)
        r = self.menuBar().addMenu(self.tr("&Review"))
        thresholds = QAction(self.tr("&Thresholds from review…"), self)
        thresholds.triggered.connect(self._on_menu_thresholds)
        reviewer = QAction(self.tr("Change &reviewer name…"), self)
        reviewer.triggered.connect(self._on_menu_reviewer)
        for act in (self.browse_action, self.verify_action):
            bar.addAction(act)
            v.addAction(act)
        for act in (self.verify_action, thresholds, reviewer):
            r.addAction(act)
        bar.addAction(thresholds)

    def _wire(self) -> None:
        self.controller.sig_scanned.connect(self._on_controller_scanned)
        self.controller.sig_results_loaded.connect(self._on_controller_results_loaded)
        self.controller.sig_exported.connect(lambda out: self.statusBar().showMessage(
            self.tr("Exported: {0}").format(", ".join(str(p) for p in out))))
        self.controller.sig_failed.connect(self.statusBar().showMessage)
        self.verify.sig_decisions_changed.connect(self._on_verify_decisions_changed)
        self.verify.sig_accept_threshold_changed.connect(self._on_verify_accept_threshold_changed)
        self.model.sig_thumbnail_wanted.connect(self._on_model_thumbnail_wanted)
        self.thumbs.sig_loaded.connect(self.model.set_thumbnail)
        self.thumbs.sig_dropped.connect(self.model.forget_requests)
        self.folders.sig_folder_selected.connect(self.open_folder)
        self.grid.sig_current_changed.connect(self._on_grid_current_changed)
        self.review.sig_step.connect(self.grid.step)
        self.review.sig_thresholds_changed.connect(self._on_review_thresholds_changed)
        self.run_panel.sig_start_requested.connect(self.start_run)
        self.run_panel.sig_pause_toggled.connect(lambda p: self.engine.pause() if p else self.engine.resume())
        self.run_panel.sig_cancel_requested.connect(self.engine.cancel)
        self.run_panel.sig_import_model_requested.connect(self._on_menu_import_model)
        self.run_panel.sig_detector_changed.connect(lambda _id: self._update_banner())
        self.engine.sig_running_changed.connect(self.run_panel.set_running)
        self.engine.sig_started.connect(self._on_engine_started)
        self.engine.sig_predictions.connect(self._on_engine_predictions)
        self.engine.sig_progress.connect(self._on_engine_progress)
        self.engine.sig_finished.connect(self._on_engine_finished)
        self.engine.sig_failed.connect(self._on_engine_failed)

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
        self.folders.reveal(folder)
        self.setWindowTitle(self.tr("{0} — Wildlife Desktop").format(folder.name))
        self.statusBar().showMessage(self.tr("Scanning {0}…").format(folder))
        self.controller.open(folder, import_json)

    def load_results(self, import_json: Path | None = None) -> None:
        self.controller.load_results(import_json)

    @Slot(list)
    def _on_controller_scanned(self, files: list[Any]) -> None:
        folder = self.controller.folder
        self.model.set_files(folder, files)
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
            self.model.set_predictions(c.results.predictions.values(), replace=True)
            self.model.set_reviewed(c.reviewed_files())
            self.grid.refresh_filters()
            if imported:  # demo/import: land on the first detection
                self.grid.select_row(self.model.first_row_with_detection())
            self._on_grid_current_changed(self.grid.current_rel_path() or "")
        self.verify.set_session(None, c.folder)
        if self.stack.currentWidget() is self.verify:
            self.show_verify()
        if c.folder is not None:
            self.folders.model.invalidate(c.folder)
        self._update_banner()
        if not self.engine.running:
            n = self.model.file_count()
            self.run_panel.set_progress(self.model.done_count(), n, None, None)
            self.run_panel.set_status(self.tr("{0} of {1} files processed").format(self.model.done_count(), n))

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
        path, kind = self.folder / rel_path, media.kind if media else "image"
        if pred is None or not pred.meta.datetime:
            run_in_pool(lambda: load_review_meta(path), lambda meta: self.review.set_meta(meta, rel_path),
                        None, self)
        fail = self.tr("Cannot show this file: {0}")
        run_in_pool(lambda: load_review_image(path, kind),
                    lambda img: self.review.set_image(rel_path, QPixmap.fromImage(img)),
                    lambda exc: self.review.set_image(rel_path, None, fail.format(exc)), self)

    @Slot(object)
    def _on_review_thresholds_changed(self, thresholds: Thresholds) -> None:
        self.model.set_thresholds(thresholds)
        self.grid.refresh_filters()

    # ---- models and runs ---------------------------------------------------------------
    def refresh_models(self) -> None:
        try:
            from ..runtime.store import ModelStore

            models = ModelStore(self.paths).list()
        except Exception as exc:  # noqa: BLE001 - a broken store must not stop the window
            logger.warning("cannot list models: %s", exc)
            models = []
        self.run_panel.set_models(models)
        self._update_banner()

    def _update_banner(self) -> None:
        random_sel = any(m.random_weights for m in self.run_panel.selected_models())
        random_res = bool(self.results is not None and self.results.random_weights)
        if random_res:  # what is on screen came from a twin
            message = self.tr(RANDOM_BANNER) + self.tr(" — the boxes shown are meaningless.")
        elif random_sel:  # the boxes shown are real (e.g. imported), but a run would not be
            message = self.tr("The selected model has ") + self.tr(RANDOM_BANNER) + self.tr(
                " — runs with it produce meaningless boxes.")
        else:
            message = ""
        self.banner.set_message(message)

    @Slot()
    def start_run(self) -> bool:
        from ..pipeline.job import JobConfig

        det = self.run_panel.detector_id()
        if self.folder is None or det is None:
            self.statusBar().showMessage(self.tr("Open a folder and install a detector first."))
            return False
        th = self.review.thresholds
        cfg = JobConfig(folder=self.folder, detector_id=det, classifier_id=self.run_panel.classifier_id(),
                        detection_threshold=th.detection, classification_threshold=th.classification,
                        video_every_s=self.run_panel.video_every_s())
        self.run_panel.set_progress(0, max(1, self.model.file_count()), None, None)
        return self.engine.start(cfg)

    @Slot(object)
    def _on_engine_started(self, ev: Any) -> None:
        self._run_base, self._run_total = ev.already_done, ev.total
        self.run_panel.set_progress(ev.already_done, ev.total, None, None)
        self._update_banner()
        if ev.warnings:
            self.statusBar().showMessage(" · ".join(ev.warnings[:2]))

    @Slot(list)
    def _on_engine_predictions(self, preds: list[Any]) -> None:
        self.model.set_predictions(preds)
        current = self.review.current_rel_path()
        for p in preds:
            if p.rel_path == current:
                self.review.set_prediction(p)

    @Slot(object)
    def _on_engine_progress(self, prog: Any) -> None:
        self.run_panel.set_progress(self._run_base + prog.done, self._run_total, prog.rate, prog.eta_s)

    @Slot(object)
    def _on_engine_finished(self, summary: Any) -> None:
        word = self.tr("Cancelled") if summary.cancelled else self.tr("Finished")
        self.run_panel.set_status(self.tr("{0}: {1} processed, {2} failed, {3} with animals").format(
            word, summary.processed, summary.failed, summary.animals))
        if self._close_when_idle:
            QTimer.singleShot(0, self.close)
            return
        self.load_results()

    @Slot(str)
    def _on_engine_failed(self, text: str) -> None:
        self.run_panel.set_status(self.tr("The run stopped with an error."))
        if self._close_when_idle:
            QTimer.singleShot(0, self.close)
            return
        QMessageBox.critical(self, self.tr("Run failed"), text.strip().splitlines()[-1])

    # ---- menu --------------------------------------------------------------------------
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
        if self.verify.session is None and self.controller.results is not None:
            self._open_session(self.verify.filter_bar.accept_spin.value() / 100.0 or 0.98)
        self.verify.setFocus()

    def _open_session(self, accept: float) -> None:
        reviewer = review_settings.ask_reviewer(self)
        if not reviewer:
            self.statusBar().showMessage(self.tr("Verification needs a reviewer name."))
            return
        session = self.controller.make_session(
            reviewer, accept=accept, ignore=self.review.thresholds.detection,
            labels=review_settings.saved_labels(), quick_labels=review_settings.saved_quick_labels())
        self.verify.set_session(session, self.controller.folder, self.controller.sequences)

    @Slot()
    def _on_verify_decisions_changed(self) -> None:
        session = self.verify.session
        if session is None:
            return
        self.controller.decisions = session.history()
        self.model.set_reviewed(self.controller.reviewed_files())
        review_settings.remember_labels(d.label for d in session.decisions() if d.decision == "relabel")

    @Slot(float)
    def _on_verify_accept_threshold_changed(self, accept: float) -> None:
        """A new accept threshold rebuilds the queue (decisions are on disk; the undo stack restarts)."""
        if self.controller.results is not None:
            self._open_session(accept)

    @Slot()
    def _on_menu_thresholds(self) -> None:
        current = self.verify.session.thresholds.accept if self.verify.session is not None else 0.98
        self.threshold_dialog = ThresholdDialog(self.controller.decisions, current, self)
        self.threshold_dialog.sig_adopted.connect(self._on_verify_accept_threshold_changed)
        self.threshold_dialog.sig_adopted.connect(self.verify.filter_bar.set_accept)
        self.threshold_dialog.open()

    @Slot()
    def _on_menu_reviewer(self) -> None:
        review_settings.set_reviewer("")
        if review_settings.ask_reviewer(self) and self.verify.session is not None:
            self._open_session(self.verify.session.thresholds.accept)

    @Slot()
    def _on_menu_import_model(self) -> None:
        from ..runtime.store import ModelStore

        f, _ = QFileDialog.getOpenFileName(self, self.tr("Import model pack"), str(Path.home()),
                                           self.tr("Model packs (*.zip manifest.json)"))
        if f:
            store, src = ModelStore(self.paths), Path(f)
            # A bare .onnx needs family and labels (CLI: models import --family); packs carry them.
            run_in_pool(lambda: store.import_pack(src), lambda _m: self.refresh_models(), self._on_task_error, self)

    def _on_task_error(self, exc: BaseException) -> None:
        logger.error("background task failed: %s", exc)
        self.statusBar().showMessage(str(exc))

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
