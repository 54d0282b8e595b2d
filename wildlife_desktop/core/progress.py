"""Progress reporting and cooperative cancellation, shared by the CLI and the GUI."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import WildlifeError


class Cancelled(WildlifeError):
    """Raised inside a job when its :class:`CancelToken` was set."""


class CancelToken:
    """Thread-safe cancel and pause flags, checked by long jobs between files."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused job so it can notice the cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> None:
        """Block while paused; raise :class:`Cancelled` when cancelled."""
        self._running.wait()
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")


@dataclass(frozen=True)
class Progress:
    """A progress report: ``done`` of ``total`` files, with a rate and an ETA once known."""

    done: int
    total: int
    elapsed_s: float
    rate: float | None  # files per second over the recent window
    eta_s: float | None
    current: str = ""

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)


ProgressFn = Callable[[Progress], None]


class RateMeter:
    """Exponentially smoothed files/s and ETA, robust to the slow first file (model warm-up)."""

    def __init__(self, total: int, *, alpha: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._alpha = alpha
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._rate: float | None = None

    def update(self, done: int, current: str = "", *, step: int = 1) -> Progress:
        now = self._clock()
        dt = now - self._last
        self._last = now
        if step > 0 and dt > 0:
            inst = step / dt
            self._rate = inst if self._rate is None else self._alpha * inst + (1 - self._alpha) * self._rate
        eta = None
        if self._rate:
            eta = max(0.0, (self.total - done) / self._rate)
        return Progress(done, self.total, now - self._start, self._rate, eta, current)
