"""The GUI process's interpreter policy: GIL switch interval and paused/frozen GC for loads."""

from __future__ import annotations

import gc
import sys
import threading

from wildlife_desktop.gui import interpreter


def test_bulk_load_pauses_gc_nests_across_threads_and_freezes_what_it_built() -> None:
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    inner_done = threading.Event()
    try:
        with interpreter.bulk_load():
            assert not gc.isenabled()
            built = [[i] for i in range(1000)]  # tracked containers made during the load

            def other_load() -> None:
                with interpreter.bulk_load():
                    pass
                inner_done.set()

            t = threading.Thread(target=other_load)
            t.start()
            t.join()
            assert inner_done.is_set() and not gc.isenabled()  # the outer load still runs
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(built)
        gc.disable()  # a collector switched off by someone else stays off
        with interpreter.bulk_load():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_configure_sets_the_switch_interval() -> None:
    old = sys.getswitchinterval()
    try:
        interpreter.configure()
        assert abs(sys.getswitchinterval() - interpreter.GIL_SWITCH_INTERVAL_S) < 1e-9
    finally:
        sys.setswitchinterval(old)
        gc.unfreeze()


def test_freeze_every_freezes_after_n_reported_objects() -> None:
    freezer = interpreter.FreezeEvery(n=100)
    try:
        gc.unfreeze()
        kept = [[i] for i in range(50)]
        freezer.add(len(kept))
        assert gc.get_freeze_count() == 0
        kept += [[i] for i in range(50)]
        freezer.add(50)
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
