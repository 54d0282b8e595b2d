"""Model list, the random-weights banner and detection runs (the engine's signals → the widgets).

Threading contract: GUI thread only; the engine emits from its worker thread and these slots
receive the signals queued.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QObject, Signal, Slot

from ..core.logs import user_message
from ..core.paths import AppPaths
from ..core.progress import RateMeter
from .engine import InferenceEngine
from .folder_controller import FolderController
from .interpreter import FreezeEvery
from .item_models.thumbnail_model import ThumbnailModel
from .view_state import Thresholds
from .widgets.review_pane import ReviewPaneWidget
from .widgets.run_panel import RunPanelWidget, format_eta
from .widgets.warning_banner import WarningBannerWidget

logger = logging.getLogger(__name__)
RANDOM_BANNER: Final = "random weights — benchmark only, not a detector"


def run_summary_text(summary: Any, threshold: float, active_s: float | None = None) -> str:
    """What a finished or cancelled run did, like the CLI's summary (``summary``: ``JobSummary``)."""
    seconds = summary.elapsed_s if active_s is None else active_s
    head = "Cancelled" if summary.cancelled else "Finished"
    if not summary.cancelled and summary.processed == 0 and not summary.failed and summary.total:
        return (f"Nothing to run: all {summary.total} file(s) already have results from this detector. "
                f"At ≥ {threshold * 100:.0f} %: {summary.animals} with animals, {summary.persons} with people, "
                f"{summary.vehicles} with vehicles, {summary.empty} empty.")
    took = f"{seconds:.1f} s" if seconds < 10 else format_eta(seconds)
    text = (f"{head}: {summary.processed} file(s) processed in {took}. "
            f"At ≥ {threshold * 100:.0f} %: {summary.animals} with animals, {summary.persons} with people, "
            f"{summary.vehicles} with vehicles, {summary.empty} empty, {summary.failed} failed "
            f"(of {summary.total} in the folder).")
    if summary.cancelled:
        text += " Run AI again to continue where it stopped."
    return text


class RunController(QObject):
    """Signals: ``sig_status(str)``, ``sig_idle(str error)`` when a run ended ("" unless it failed),
    ``sig_summary(str)`` (what a finished or cancelled run did, for the window to show)."""

    sig_status = Signal(str)
    sig_idle = Signal(str)
    sig_summary = Signal(str)

    def __init__(self, paths: AppPaths, engine: InferenceEngine, folders: FolderController, model: ThumbnailModel,
                 run_panel: RunPanelWidget, review: ReviewPaneWidget, banner: WarningBannerWidget,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths, self.engine, self.folders, self.model = paths, engine, folders, model
        self.run_panel, self.review, self.banner = run_panel, review, banner
        self._run_base, self._run_total = 0, 0
        # The last run: its layer, files already done when it started, predictions delivered.
        self.run_layer_id: str | None = None
        self.run_already_done = 0
        self.run_predictions: list[Any] = []
        self.run_threshold = 0.2  # the detection threshold the last run counted with
        # The thresholds a run of a detector uses (the folder's for that model); the window sets it.
        self.thresholds_for: Callable[[str], Thresholds] | None = None
        self._meter: RateMeter | None = None  # files/s since the run started or last resumed
        self._paused_at: float | None = None
        self._paused_s = 0.0
        self._last_done = 0
        self._freezer = FreezeEvery()
        engine.sig_running_changed.connect(run_panel.set_running)
        engine.sig_started.connect(self._on_engine_started)
        engine.sig_predictions.connect(self._on_engine_predictions)
        engine.sig_progress.connect(self._on_engine_progress)
        engine.sig_finished.connect(self._on_engine_finished)
        engine.sig_failed.connect(self._on_engine_failed)
        run_panel.sig_start_requested.connect(self.start_run)
        run_panel.sig_pause_toggled.connect(self._on_pause_toggled)
        run_panel.sig_cancel_requested.connect(engine.cancel)
        run_panel.sig_detector_changed.connect(lambda _id: self.update_banner())

    def refresh_models(self) -> None:
        try:
            from ..runtime.stages import classifier_choices
            from ..runtime.store import ModelStore

            store = ModelStore(self.paths)
            models, default = store.list(), store.default_id("detection")
            classifiers = classifier_choices(store.root, models)  # names resolve to their production version
        except Exception as exc:  # noqa: BLE001 - a broken store must not stop the window
            logger.warning("cannot list models: %s", exc)
            models, default, classifiers = [], None, None
        self.run_panel.set_models(models, default_detector=default, classifiers=classifiers)
        self.update_banner()

    def import_model_pack(self, pack: Path) -> None:
        """Import a model pack off the GUI thread, then refresh the model list."""
        from ..runtime.store import ModelStore
        from .workers import run_in_pool

        store = ModelStore(self.paths)
        # A bare .onnx needs family and labels (CLI: models import --family); packs carry them.
        run_in_pool(lambda: store.import_pack(pack), lambda _m: self.refresh_models(),
                    lambda exc: self.sig_status.emit(user_message(exc, self.paths)), self)

    def update_banner(self) -> None:
        """The red banner is about what is SHOWN: the model of the results on screen.

        A random-weight model that is only selected (real results shown, e.g. imported) gets a
        milder note while nothing is shown, and its "(random weights)" tag in the list otherwise.
        """
        random_sel = any(m.random_weights for m in self.run_panel.selected_models())
        results = self.folders.results
        if results is not None and results.random_weights:  # what is on screen came from a twin
            self.banner.set_message(self.tr("The results shown come from a model with ") + self.tr(RANDOM_BANNER)
                                    + self.tr(" — these boxes are meaningless."))
        elif random_sel and results is None:  # nothing shown yet: a run would make meaningless boxes
            self.banner.set_message(self.tr("The selected detector has ") + self.tr(RANDOM_BANNER) + self.tr(
                " — a run with it produces meaningless boxes."), "warning")
        else:
            self.banner.set_message("")

    def show_idle_progress(self) -> None:
        n = self.model.file_count()
        self.run_panel.set_progress(self.model.done_count(), n, None, None)
        left = n - self.model.done_count()  # the bar shows "done / n"; the label says what it means
        self.run_panel.set_status("" if n == 0 else self.tr("all processed") if left <= 0
                                  else self.tr("{0} not processed yet").format(left))

    @Slot()
    def start_run(self) -> bool:
        from ..pipeline.job import JobConfig

        det, folder = self.run_panel.detector_id(), self.folders.folder
        if folder is None or det is None:
            self.sig_status.emit(self.tr("Open a folder and install a detector first."))
            return False
        th = self.thresholds_for(det) if self.thresholds_for is not None else self.review.thresholds
        cfg = JobConfig(folder=folder, detector_id=det, classifier_id=self.run_panel.classifier_id(),
                        detection_threshold=th.detection, classification_threshold=th.classification,
                        video_every_s=self.run_panel.video_every_s())
        self.run_panel.set_progress(0, max(1, self.model.file_count()), None, None)
        return self.engine.start(cfg)

    @Slot(object)
    def _on_engine_started(self, ev: Any) -> None:
        self._run_base, self._run_total = ev.already_done, ev.total
        self.run_layer_id, self.run_already_done, self.run_predictions = ev.layer_id, ev.already_done, []
        self.run_threshold = ev.detection_threshold
        self._meter, self._paused_at, self._paused_s, self._last_done = None, None, 0.0, 0
        self.run_panel.set_progress(ev.already_done, ev.total, None, None)
        self.update_banner()
        if ev.warnings:
            self.sig_status.emit(" · ".join(ev.warnings[:2]))

    @Slot(list)
    def _on_engine_predictions(self, preds: list[Any]) -> None:
        self.run_predictions.extend(preds)
        self._freezer.add(len(preds))  # the grid keeps them: out of full GC passes (gui/interpreter.py)
        self.model.set_predictions(preds)
        current = self.review.current_rel_path()
        for p in preds:
            if p.rel_path == current:
                self.review.set_prediction(p)

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        """Paused: say so (no stale rate); resumed: the rate restarts, the pause not counted."""
        if paused:
            self.engine.pause()
            self._paused_at = time.monotonic()
            self.run_panel.set_paused(True)
        else:
            if self._paused_at is not None:
                self._paused_s += time.monotonic() - self._paused_at
            self._paused_at, self._meter = None, None
            self.engine.resume()
            self.run_panel.set_paused(False)

    @Slot(object)
    def _on_engine_progress(self, prog: Any) -> None:
        self._last_done = prog.done
        if self.engine.paused:  # the files in flight when Pause was pressed: count them, no rate
            self.run_panel.set_progress(self._run_base + prog.done, self._run_total, None, None)
            self.run_panel.set_paused(True)
            return
        if self._meter is None:
            self._meter = RateMeter(prog.total)
        own = self._meter.update(prog.done)
        self.run_panel.set_progress(self._run_base + prog.done, self._run_total, own.rate, own.eta_s)

    @Slot(object)
    def _on_engine_finished(self, summary: Any) -> None:
        if self._paused_at is not None:  # cancelled while paused
            self._paused_s += time.monotonic() - self._paused_at
            self._paused_at = None
        text = run_summary_text(summary, self.run_threshold, max(0.0, summary.elapsed_s - self._paused_s))
        if summary.output_dir is not None and self.folders.folder is not None \
                and Path(summary.output_dir) != Path(self.folders.folder):
            text += self.tr(" This folder is read-only: the results are in {0}").format(summary.output_dir)
        word = self.tr("Cancelled") if summary.cancelled else self.tr("Finished")
        self.run_panel.set_status(self.tr("{0}: {1} processed, {2} failed, {3} with animals").format(
            word, summary.processed, summary.failed, summary.animals))
        self.sig_summary.emit(text)
        self.sig_idle.emit("")

    @Slot(str)
    def _on_engine_failed(self, text: str) -> None:
        self.run_panel.set_status(self.tr("The run stopped with an error."))
        self.sig_idle.emit(text.strip() or self.tr("unknown error"))  # one sentence; the detail is in the log
