"""How the GUI process runs the Python interpreter: GIL hand-over and garbage collection.

Both settings exist for one rule: the GUI thread is never kept from the GIL for long. It needs
the GIL for every call from Qt into Python (a cell's paint, a timer slot). Pool threads run
pure-Python work (loading a folder's results), and each of those calls waits for them:

* **GIL switch interval.** A waiting thread asks the running one to drop the GIL only after
  ``sys.getswitchinterval()`` (5 ms by default). A grid repaint enters Python dozens of times,
  so a repaint during a results load took 50–100 ms instead of 2 ms. At 0.2 ms it takes
  3–6 ms (``benchmarks/gui_responsiveness.py``). Inference is not slowed: onnxruntime releases
  the GIL while it runs, so those threads rarely ask for a switch.
* **Cyclic garbage collector.** A full collection walks every tracked object with the GIL
  held: ~75 ms once 10k files' results are loaded (~100k objects), about ten times that for
  100k files. Results are acyclic frozen records, freed by reference counting, so the
  collector has nothing to find in them. :func:`bulk_load` pauses automatic collection while
  a load builds them, then moves everything alive into the permanent generation
  (:func:`gc.freeze`) so later collections skip it. Freezing costs a list splice. The price:
  a reference cycle that is already garbage when a load ends is not collected.
  During a run, results arrive in batches and pile up the same way. A simulation of 100k
  predictions kept in memory triggered six full collections, growing to 122 ms. With a freeze
  every 5,000 there were none. :class:`FreezeEvery` does this for the run controller.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

GIL_SWITCH_INTERVAL_S: Final[float] = 0.0002

_lock = threading.Lock()
_depth = 0
_was_enabled = True


def configure() -> None:
    """Apply the GUI process's interpreter settings (once, at start-up)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.freeze()  # the modules and widgets built so far live as long as the process


@contextmanager
def bulk_load() -> Iterator[None]:
    """No automatic collection while the block runs; freeze what it built when it ends.

    Safe to nest and to use from several threads: the collector comes back on when the
    last block ends (and only if it was on when the first began).
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.freeze()
                if _was_enabled:
                    gc.enable()


class FreezeEvery:
    """Freeze the heap after every ``n`` long-lived objects a caller reports (run results)."""

    def __init__(self, n: int = 5000) -> None:
        self.n = n
        self._pending = 0

    def add(self, count: int) -> None:
        self._pending += count
        if self._pending >= self.n:
            self._pending = 0
            gc.freeze()
