"""InferenceEngine: owns the one long-lived inference QThread and its InferenceWorker.

Threading contract: the engine lives on the GUI thread and all its signals are emitted
there. The worker runs ``pipeline.job.run_job`` in the engine thread; pause/cancel go
through a ``core.progress.CancelToken`` (thread-safe), checked between files by the core.
``QThread.terminate`` is never used: ``shutdown`` cancels, then quits and waits.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.paths import AppPaths
from ..core.progress import CancelToken
from .workers import InferenceWorker

logger = logging.getLogger(__name__)


class InferenceEngine(QObject):
    """Start/pause/cancel jobs; re-emits the worker's signals on the GUI thread."""

    sig_started = Signal(object)  # JobStarted
    sig_predictions = Signal(list)  # list[Prediction], batched
    sig_progress = Signal(object)  # Progress
    sig_finished = Signal(object)  # JobSummary
    sig_failed = Signal(str)
    sig_running_changed = Signal(bool)
    _sig_run_requested = Signal(object, object)  # (JobConfig, CancelToken) → worker thread

    def __init__(self, paths: AppPaths | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._token: CancelToken | None = None
        self._running = False
        self._thread = QThread()
        self._thread.setObjectName("wildlife-inference")
        self._worker = InferenceWorker(paths)
        self._worker.moveToThread(self._thread)
        self._sig_run_requested.connect(self._worker.run)
        self._worker.sig_started.connect(self.sig_started)
        self._worker.sig_predictions.connect(self.sig_predictions)
        self._worker.sig_progress.connect(self.sig_progress)
        self._worker.sig_finished.connect(self._on_worker_finished)
        self._worker.sig_failed.connect(self._on_worker_failed)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return self._token is not None and self._token.paused

    def start(self, config: Any) -> bool:
        """Queue ``config`` (a ``pipeline.job.JobConfig``) on the worker. False if busy."""
        if self._running or not self._thread.isRunning():
            return False
        self._token = CancelToken()
        self._running = True
        self.sig_running_changed.emit(True)
        self._sig_run_requested.emit(config, self._token)
        return True

    def pause(self) -> None:
        if self._token is not None:
            self._token.pause()

    def resume(self) -> None:
        if self._token is not None:
            self._token.resume()

    def cancel(self) -> None:
        if self._token is not None:
            self._token.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel any job, stop the thread and wait for it. True when the thread ended."""
        self.cancel()
        self._thread.quit()
        ok = self._thread.wait(timeout_ms)
        if not ok:
            logger.warning("inference thread did not stop within %d ms", timeout_ms)
        return bool(ok)

    @Slot(object)
    def _on_worker_finished(self, summary: Any) -> None:
        self._set_idle()
        self.sig_finished.emit(summary)

    @Slot(str)
    def _on_worker_failed(self, text: str) -> None:
        self._set_idle()
        self.sig_failed.emit(text)

    def _set_idle(self) -> None:
        self._running = False
        self._token = None
        self.sig_running_changed.emit(False)
