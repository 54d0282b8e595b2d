"""Progress reporting and cooperative cancellation, shared by the CLI and the GUI."""

from __future__ import annotations

import threading
import time
from collections import deque
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
    """Files/s over a sliding time window, and the ETA it implies.

    A window (not a per-file average) keeps the figure honest when instant failures (corrupt
    files) or the slow first file (model warm-up) are mixed with normal work.
    """

    def __init__(self, total: int, *, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._window = window_s
        self._clock = clock
        self._start = clock()
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, done: int, current: str = "") -> Progress:
        now = self._clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()
        rate = None
        t0, d0 = self._samples[0]
        if len(self._samples) >= 2 and now > t0 and done > d0:
            rate = (done - d0) / (now - t0)
        eta = max(0.0, (self.total - done) / rate) if rate else None
        return Progress(done, self.total, now - self._start, rate, eta, current)
