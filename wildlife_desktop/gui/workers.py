"""Qt adapters around Qt-free work: the inference worker, thumbnail loading, one-off pool jobs.

Threading contract:
* :class:`InferenceWorker` lives in the engine's long-lived QThread. ``run`` only loops over
  :func:`wildlife_desktop.pipeline.job.run_job` and re-emits its events, batched. All its
  signals are emitted from the worker thread and reach GUI slots queued.
* :class:`ThumbnailLoader` lives on the GUI thread. Its QRunnables decode JPEG bytes into a
  ``QImage`` on a private 2-thread pool; the ``QPixmap`` is made later on the GUI thread.
* :func:`run_in_pool` runs ``fn`` on the global pool and calls ``on_done``/``on_error`` on the
  GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from ..core.errors import WildlifeError
from ..core.logs import user_message
from ..core.paths import AppPaths
from ..core.progress import CancelToken
from ..pipeline.thumbnails import ThumbnailCache

logger = logging.getLogger(__name__)

BATCH_MAX_ITEMS: Final[int] = 16
BATCH_MAX_SECONDS: Final[float] = 0.1


class InferenceWorker(QObject):
    """Runs one job at a time in the engine thread; emits batched results.

    Signals (all emitted from the worker thread):
        sig_started(JobStarted), sig_predictions(list[Prediction]), sig_progress(Progress),
        sig_finished(JobSummary), sig_failed(str: one readable sentence; the traceback is in the log).
    """

    sig_started = Signal(object)
    sig_predictions = Signal(list)
    sig_progress = Signal(object)
    sig_finished = Signal(object)
    sig_failed = Signal(str)

    def __init__(self, paths: AppPaths | None = None) -> None:
        super().__init__()
        self._paths = paths

    @Slot(object, object)
    def run(self, config: Any, token: CancelToken) -> None:
        try:
            from ..pipeline import job as job_mod

            pending: list[Any] = []
            last_progress: Any = None
            last_emit = time.monotonic()
            for event in job_mod.run_job(config, paths=self._paths, cancel=token):
                name = type(event).__name__
                if name == "FileProcessed":
                    pending.append(event.prediction)
                    last_progress = event.progress
                    now = time.monotonic()
                    if len(pending) >= BATCH_MAX_ITEMS or now - last_emit >= BATCH_MAX_SECONDS:
                        self._flush(pending, last_progress)
                        pending, last_emit = [], now
                elif name == "JobStarted":
                    self.sig_started.emit(event)
                elif name == "JobFinished":
                    self._flush(pending, last_progress)
                    pending = []
                    self.sig_finished.emit(event.summary)
        except WildlifeError as exc:  # FolderBusyError, ModelLoadError, a full disk…: written for people
            logger.info("inference job stopped: %s", exc)
            self.sig_failed.emit(user_message(exc))
        except Exception as exc:  # noqa: BLE001 - the GUI shows one line; a worker must never raise
            logger.exception("inference job failed")
            self.sig_failed.emit(user_message(exc, self._paths))

    def _flush(self, pending: list[Any], progress: Any) -> None:
        if pending:
            self.sig_predictions.emit(list(pending))
        if progress is not None:
            self.sig_progress.emit(progress)


class _ThumbSignals(QObject):
    sig_done = Signal(int, str, object)  # generation, rel_path, QImage | None


class _ThumbnailTask(QRunnable):
    def __init__(self, signals: _ThumbSignals, cache: ThumbnailCache, generation: int,
                 rel_path: str, path: Path, size: int, mtime_ns: int, blur: tuple[Any, ...] = ()) -> None:
        super().__init__()
        self._signals, self._cache, self._gen = signals, cache, generation
        self._rel, self._path, self._size, self._mtime = rel_path, path, size, mtime_ns
        self._blur = blur  # person boxes: blurred after the cache (pipeline/privacy.py), before Qt sees them

    def run(self) -> None:
        image: QImage | None = None
        try:
            data = self._cache.get(self._path, self._size, self._mtime)
            if self._blur:
                from ..pipeline.privacy import blur_encoded
                from .image_io import array_to_qimage

                img = array_to_qimage(blur_encoded(data, self._blur))
            else:
                img = QImage.fromData(data)
            image = None if img.isNull() else img
        except Exception:  # noqa: BLE001 - corrupt or unsupported file: drawn as failed
            image = None
        self._signals.sig_done.emit(self._gen, self._rel, image)


class ThumbnailLoader(QObject):
    """Decodes thumbnails on a 2-thread pool, newest request first, dropping stale results.

    Requests go on a LIFO stack: after a fast scroll, the cells now on screen are decoded
    before the ones scrolled past. The stack is capped; dropped requests are reported via
    ``sig_dropped`` so the model asks again when the cell is painted again.
    """

    sig_loaded = Signal(str, object)  # rel_path, QImage | None (GUI thread)
    sig_dropped = Signal()

    MAX_PENDING: Final[int] = 256

    def __init__(self, cache: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _ThumbSignals(self)
        self._signals.sig_done.connect(self._on_task_done)
        self._generation = 0
        self._pending: deque[tuple[str, Path, int, int, tuple[Any, ...]]] = deque()
        self._in_flight = 0
        self.folder: Path | None = None
        #: rel_path -> boxes to blur (gui/privacy.py), asked on the GUI thread when a request is queued
        self.blur_boxes: Callable[[str], tuple[Any, ...]] | None = None

    @property
    def generation(self) -> int:
        return self._generation

    def reset(self, folder: Path | None) -> None:
        """New folder: forget queued work; results of running tasks will be ignored."""
        self._generation += 1
        self._pending.clear()
        self._pool.clear()
        self.folder = folder

    def request(self, rel_path: str, size: int, mtime_ns: int) -> None:
        if self.folder is None:
            return
        blur = self.blur_boxes(rel_path) if self.blur_boxes is not None else ()
        self._pending.append((rel_path, self.folder / rel_path, size, mtime_ns, blur))
        if len(self._pending) > self.MAX_PENDING:
            while len(self._pending) > self.MAX_PENDING // 2:
                self._pending.popleft()
            self.sig_dropped.emit()
        self._pump()

    def wait_idle(self, msecs: int = 5000) -> bool:
        return self._pool.waitForDone(msecs)

    def _pump(self) -> None:
        while self._pending and self._in_flight < 4:
            rel, path, size, mtime, blur = self._pending.pop()
            self._in_flight += 1
            task = _ThumbnailTask(self._signals, self._cache, self._generation, rel, path, size, mtime, blur)
            self._pool.start(task)

    @Slot(int, str, object)
    def _on_task_done(self, generation: int, rel_path: str, image: QImage | None) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        if generation == self._generation:
            self.sig_loaded.emit(rel_path, image)
        self._pump()


class _PoolRelay(QObject):
    sig_done = Signal(object)
    sig_error = Signal(object)

    def __init__(self, on_done: Callable[[Any], None],
                 on_error: Callable[[BaseException], None] | None, context: QObject | None) -> None:
        super().__init__()
        self._on_done, self._on_error, self._context = on_done, on_error, context
        self.sig_done.connect(self._on_self_done)
        self.sig_error.connect(self._on_self_error)

    @Slot(object)
    def _on_self_done(self, result: Any) -> None:
        _LIVE.discard(self)
        if self._alive():
            self._on_done(result)

    def _alive(self) -> bool:
        # A result may land after its window was closed and deleted (tests, quick quits).
        return self._context is None or shiboken6.isValid(self._context)

    @Slot(object)
    def _on_self_error(self, exc: BaseException) -> None:
        _LIVE.discard(self)
        if not isinstance(exc, WildlifeError):  # a surprise: its traceback belongs in the log file
            logger.error("background task failed", exc_info=exc)
        if not self._alive():
            return
        if self._on_error is not None:
            self._on_error(exc)
        else:
            logger.error("background task failed: %s", exc)


_LIVE: set[_PoolRelay] = set()


class _PoolTask(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _PoolRelay) -> None:
        super().__init__()
        self._fn, self._relay = fn, relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - delivered to on_error on the GUI thread
            self._emit(self._relay.sig_error, exc)
            return
        self._emit(self._relay.sig_done, result)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the relay went away with the application (shutdown)
            pass


def run_in_pool(fn: Callable[[], Any], on_done: Callable[[Any], None],
                on_error: Callable[[BaseException], None] | None = None, context: QObject | None = None) -> None:
    """Run ``fn()`` on the global thread pool; call ``on_done(result)`` on the GUI thread.

    Must be called from the GUI thread (the relay object takes that thread's affinity).
    The callbacks are skipped when ``context`` (usually the calling widget) was deleted.
    """
    relay = _PoolRelay(on_done, on_error, context)
    _LIVE.add(relay)
    QThreadPool.globalInstance().start(_PoolTask(fn, relay))
