"""Guards against known-bad Qt bindings (the installed PySide6 is what users get)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    sig_flag = Signal(bool)
    sig_obj = Signal(object)


def test_signal_emission_keeps_argument_references(qtbot: object) -> None:
    """PySide6 6.12.0 dropped a reference per emitted argument, aborting the process at exit."""
    em = _Emitter()
    seen: list[object] = []
    em.sig_flag.connect(seen.append)
    em.sig_obj.connect(seen.append)
    payload = object()
    before_true, before_obj = sys.getrefcount(True), sys.getrefcount(payload)
    for _ in range(50):
        em.sig_flag.emit(True)
        em.sig_obj.emit(payload)
    seen.clear()
    # the bug loses one reference per emission (-50 here); other code may hold one or two more
    assert abs(sys.getrefcount(True) - before_true) < 10
    assert sys.getrefcount(payload) == before_obj
