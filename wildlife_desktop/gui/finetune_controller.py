"""Qt adapter for fine-tuning: the dataset preview on the pool, the training run in a QThread.

Threading contract:
* :class:`FinetuneWorker` lives in a QThread made for its run (moved there, superqt style).
  ``run`` only loops over :func:`wildlife_desktop.training.finetune.run_finetune` and re-emits its
  events; progress is throttled to one signal per ``PROGRESS_INTERVAL_S`` (plus the first and
  last step of every stage). Its signals are emitted from the worker thread and reach the
  controller's slots queued, on the GUI thread.
* :class:`FinetuneController` lives on the GUI thread and emits all its signals there.
  Cancel is cooperative (:class:`core.progress.CancelToken`, checked by the core between crops
  and epochs); ``QThread.terminate`` is never used: ``shutdown`` cancels, quits and waits.
* ``preview`` runs ``collect_examples`` through :func:`workers.run_in_pool`; a result for an
  older request (the folder list changed meanwhile) is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.errors import WildlifeError
from ..core.logs import user_message
from ..core.paths import AppPaths
from ..core.progress import Cancelled, CancelToken, RateMeter
from .workers import run_in_pool

if TYPE_CHECKING:
    from ..training.finetune import ExampleSet, FinetuneConfig

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S: Final[float] = 0.1


@dataclass(frozen=True)
class TrainingProgress:
    """One throttled progress report of a fine-tune, with a rate for the feature stage."""

    stage: str  # "features" | "training" | "export" (FinetuneProgress.stage)
    done: int
    total: int
    message: str
    rate: float | None  # items per second over the recent window (crops/s during "features")
    eta_s: float | None


class FinetuneWorker(QObject):
    """Runs one fine-tune (``config``, ``token`` given at construction) when its thread starts.

    Signals (all emitted from the worker thread):
        sig_started(FinetuneStarted), sig_progress(TrainingProgress), sig_finished(FinetuneReport),
        sig_cancelled(), sig_failed(str: a message for the user; the traceback goes to the log),
        sig_done() last, whatever the outcome.
    """

    sig_started = Signal(object)
    sig_progress = Signal(object)
    sig_finished = Signal(object)
    sig_cancelled = Signal()
    sig_failed = Signal(str)
    sig_done = Signal()

    def __init__(self, config: FinetuneConfig, token: CancelToken, paths: AppPaths | None = None) -> None:
        super().__init__()
        self._config, self._token, self._paths = config, token, paths

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Cancelled:
            self.sig_cancelled.emit()
        except WildlifeError as exc:  # DatasetError, ModelLoadError…: the message is for the user
            logger.info("fine-tune stopped: %s", exc)
            self.sig_failed.emit(user_message(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must never raise; the GUI shows one line
            logger.exception("fine-tune failed")
            self.sig_failed.emit(user_message(exc, self._paths))
        finally:
            self.sig_done.emit()

    def _run(self) -> None:
        from ..training.finetune import FinetuneFinished, FinetuneProgress, FinetuneStarted, run_finetune

        stage, meter, last_emit = "", RateMeter(0), 0.0
        for event in run_finetune(self._config, paths=self._paths, cancel=self._token):
            if isinstance(event, FinetuneProgress):
                if event.stage != stage:
                    stage, meter, last_emit = event.stage, RateMeter(event.total), 0.0
                meter.total = event.total
                prog = meter.update(event.done)
                now = time.monotonic()
                if now - last_emit >= PROGRESS_INTERVAL_S or event.done >= event.total or event.done <= 1:
                    last_emit = now
                    self.sig_progress.emit(TrainingProgress(event.stage, event.done, event.total, event.message,
                                                            prog.rate, prog.eta_s))
            elif isinstance(event, FinetuneStarted):
                self.sig_started.emit(event)
            elif isinstance(event, FinetuneFinished):
                self.sig_finished.emit(event.report)
                return
        self.sig_failed.emit(self.tr("The fine-tune ended without a result."))


class FinetuneController(QObject):
    """Start/cancel one fine-tune and preview the verified crops of some folders.

    Each run gets its own QThread holding one :class:`FinetuneWorker` (superqt's
    ``new_worker_qthread`` wiring: ``moveToThread``, ``started → run``, ``finished → deleteLater``),
    which ends with the run: an idle controller owns no thread, so a wizard can be dropped safely
    once it is idle. Unlike inference, nothing is worth keeping warm between two fine-tunes.

    Signals (GUI thread): ``sig_examples(ExampleSet)``, ``sig_examples_failed(str)``,
    ``sig_started(FinetuneStarted)``, ``sig_progress(TrainingProgress)``,
    ``sig_finished(FinetuneReport)``, ``sig_cancelled()``, ``sig_failed(str)``,
    ``sig_running_changed(bool)`` (False is emitted before the outcome signal).
    """

    sig_examples = Signal(object)
    sig_examples_failed = Signal(str)
    sig_started = Signal(object)
    sig_progress = Signal(object)
    sig_finished = Signal(object)
    sig_cancelled = Signal()
    sig_failed = Signal(str)
    sig_running_changed = Signal(bool)

    def __init__(self, paths: AppPaths | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self._token: CancelToken | None = None
        self._thread: QThread | None = None
        self._worker: FinetuneWorker | None = None
        self._preview_generation = 0

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def cancelling(self) -> bool:
        return self._token is not None and self._token.cancelled

    # ---- dataset preview ------------------------------------------------------------------
    def preview(self, folders: Sequence[Path]) -> None:
        """Collect the verified crops of ``folders`` on the pool; ``sig_examples`` when done."""
        self._preview_generation += 1
        generation, folders, paths = self._preview_generation, tuple(folders), self.paths

        def collect() -> ExampleSet:
            from ..training.finetune import collect_examples

            return collect_examples(folders, paths=paths)

        def done(examples: ExampleSet) -> None:
            if generation == self._preview_generation:
                self.sig_examples.emit(examples)

        def failed(exc: BaseException) -> None:
            if generation == self._preview_generation:
                logger.info("cannot collect examples: %s", exc)
                self.sig_examples_failed.emit(str(exc) or type(exc).__name__)

        run_in_pool(collect, done, failed, self)

    # ---- training --------------------------------------------------------------------------
    def start(self, config: FinetuneConfig) -> bool:
        """Run ``config`` in a new worker thread. False when a run is in progress."""
        if self._thread is not None:
            return False
        self._token = CancelToken()
        thread = QThread()
        thread.setObjectName("wildlife-finetune")
        worker = FinetuneWorker(config, self._token, self.paths)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.sig_started.connect(self.sig_started)
        worker.sig_progress.connect(self._on_worker_progress)
        worker.sig_finished.connect(self._on_worker_finished)
        worker.sig_cancelled.connect(self._on_worker_cancelled)
        worker.sig_failed.connect(self._on_worker_failed)
        worker.sig_done.connect(thread.quit)
        thread.finished.connect(worker.deleteLater)
        self._thread, self._worker = thread, worker
        self.sig_running_changed.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the run to stop at its next check (between crops or epochs); nothing is registered."""
        if self._token is not None:
            self._token.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a run and wait for its thread (application exit). True when no thread is left."""
        self.cancel()
        thread = self._thread
        if thread is None:
            return True
        thread.quit()  # the loop ends once ``run`` returns, which the cancel makes quick
        if not thread.wait(timeout_ms):
            logger.warning("fine-tune thread did not stop within %d ms", timeout_ms)
            return False
        self._release()
        return True

    @Slot(object)
    def _on_worker_progress(self, prog: TrainingProgress) -> None:
        if self._thread is not None and not self.cancelling:  # no progress after "Cancel"
            self.sig_progress.emit(prog)

    @Slot(object)
    def _on_worker_finished(self, report: Any) -> None:
        if self._release():
            self.sig_finished.emit(report)

    @Slot()
    def _on_worker_cancelled(self) -> None:
        if self._release():
            self.sig_cancelled.emit()

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        if self._release():
            self.sig_failed.emit(message)

    def _release(self) -> bool:
        """Wait for the finished run's thread and drop it; False when it was already dropped."""
        thread = self._thread
        if thread is None:
            return False
        thread.quit()
        thread.wait()  # only as long as ``run`` takes to return after its last signal
        self._thread, self._worker, self._token = None, None, None
        self.sig_running_changed.emit(False)
        return True
