"""Progress rate/ETA and cancel/pause semantics."""

from __future__ import annotations

import threading
import time

import pytest

from wildlife_desktop.core.progress import Cancelled, CancelToken, RateMeter


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_rate_ignores_bursts_of_instant_failures() -> None:
    clock = FakeClock()
    meter = RateMeter(100, window_s=30.0, clock=clock)
    clock.t = 5.0  # slow first file (model warm-up)
    assert meter.update(1).rate is None  # one sample: no rate yet
    for i in range(2, 12):  # one file every 0.5 s
        clock.t += 0.5
        p = meter.update(i)
    assert p.rate == pytest.approx(2.0)
    for i in range(12, 22):  # ten corrupt files fail instantly
        p = meter.update(i)
    assert p.rate is not None and p.rate < 5.0  # not thousands of files/s
    assert p.eta_s == pytest.approx((100 - 21) / p.rate)


def test_window_forgets_old_pace() -> None:
    clock = FakeClock()
    meter = RateMeter(1000, window_s=10.0, clock=clock)
    for i in range(1, 50):  # 1 file/s
        clock.t += 1.0
        meter.update(i)
    for i in range(50, 100):  # then 4 files/s
        clock.t += 0.25
        p = meter.update(i)
    assert p.rate == pytest.approx(4.0, rel=0.05)


def test_cancel_wakes_a_paused_job() -> None:
    tok = CancelToken()
    tok.pause()
    assert tok.paused
    raised = threading.Event()

    def job() -> None:
        try:
            tok.checkpoint()
        except Cancelled:
            raised.set()

    th = threading.Thread(target=job)
    th.start()
    time.sleep(0.05)
    assert not raised.is_set()  # still paused
    tok.cancel()
    th.join(2)
    assert raised.is_set()
