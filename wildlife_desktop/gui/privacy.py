"""Which boxes the window blurs, and the session's "Show people unblurred" switch.

The pixels are blurred by ``pipeline.privacy`` on the worker pools (thumbnails, the review image,
Verify crops), before they become a ``QImage``; this object only answers, on the GUI thread,
"which boxes of this file are hidden now" from the results on screen and the human decisions.
The switch is never saved: every start shows people blurred.

Threading: GUI thread only (the loaders call :meth:`boxes_for` when they queue work and hand the
boxes to the pool).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core.records import BBox, Prediction
from ..pipeline.privacy import ANY_FRAME, privacy_boxes, privacy_threshold


class PrivacyGuard(QObject):
    """Person boxes to blur per file; ``sig_changed`` when the session switch moves."""

    sig_changed = Signal(bool)  # True: people are shown unblurred

    def __init__(self, prediction: Callable[[str], Prediction | None], decisions: Callable[[], tuple[Any, ...]],
                 layer: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._prediction, self._decisions, self._layer = prediction, decisions, layer
        self._unblurred = False
        self._index_of: tuple[int, dict[str, list[Any]]] = (0, {})
        self._used: dict[str, tuple[BBox, ...]] = {}  # thumbnails on screen -> the boxes they were blurred with

    @property
    def unblurred(self) -> bool:
        return self._unblurred

    def set_unblurred(self, on: bool) -> None:
        """The session switch (never stored)."""
        if bool(on) != self._unblurred:
            self._unblurred = bool(on)
            self.sig_changed.emit(self._unblurred)

    def _file_decisions(self, rel_path: str) -> list[Any]:
        decisions = self._decisions() or ()
        if self._index_of[0] != id(decisions):  # the controller replaces the tuple when decisions change
            index: dict[str, list[Any]] = {}
            for d in decisions:
                index.setdefault(d.file, []).append(d)
            self._index_of = (id(decisions), index)
        return self._index_of[1].get(rel_path, [])

    def boxes_for(self, rel_path: str, frame: int | None = ANY_FRAME) -> tuple[BBox, ...]:
        """The boxes of ``rel_path`` to blur now (``()`` when unlocked, or nothing to hide)."""
        if self._unblurred:
            return ()
        pred = self._prediction(rel_path)
        if pred is None:
            return ()
        return privacy_boxes(pred, self._file_decisions(rel_path), threshold=privacy_threshold(self._layer()),
                             frame=frame)

    def thumbnail_boxes(self, rel_path: str) -> tuple[BBox, ...]:
        """:meth:`boxes_for` every frame, remembered so that :meth:`stale` can tell a thumbnail is out of date."""
        boxes = self.boxes_for(rel_path)
        self._used[rel_path] = boxes
        return boxes

    def stale(self, rel_path: str) -> bool:
        """True when the thumbnail of ``rel_path`` was blurred with other boxes than it needs now."""
        return self.boxes_for(rel_path) != self._used.get(rel_path, ())

    def forget(self) -> None:
        """A new folder: no thumbnail is on screen any more."""
        self._used.clear()
