"""List model of the crop grid: one row per queue item (a detection), its small crop decoded on the pool.

Built like :mod:`thumbnail_model`: a ``QStringListModel`` with one empty string per row, so row
count, index and flags stay in C++ and a relayout of 100,000 crops never enters Python per row.
``data()`` (painted cells only) asks for a crop when it has none: the request goes to a LIFO
queue (the newest cells, i.e. where the user scrolled to, first) drained by at most
:data:`MAX_IN_FLIGHT` pool tasks (:func:`gui.crop_loader.decode_grid_crop`); older requests past
:data:`MAX_QUEUED` are dropped and asked again when painted. The ``QPixmap`` is made on the GUI
thread, kept in an LRU.

Threading: GUI thread only (the decode runs on the global pool through ``workers.run_in_pool``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, QStringListModel, Qt
from PySide6.QtGui import QImage, QPixmap

from ...core.records import BBox
from ...formats.decisions import ReviewDecision
from ...review.queue import QueueItem

CROP_SIDE: Final = 144
MAX_IN_FLIGHT: Final = 4
MAX_QUEUED: Final = 256
_CACHE_MAX: Final = 1200

CropRole: Final = Qt.ItemDataRole.UserRole + 1  # the QueueItem
DecisionRole: Final = Qt.ItemDataRole.UserRole + 2  # its effective ReviewDecision | None
ModelIndex = QModelIndex | QPersistentModelIndex


def item_key(item: QueueItem) -> str:
    return f"{item.file}#{item.detection_id}"


class CropGridModel(QStringListModel):
    """Rows = ``items``; ``decision_for(item)`` says what was decided (the session's)."""

    def __init__(self, decision_for: Callable[[QueueItem], ReviewDecision | None], parent: Any = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.items: tuple[QueueItem, ...] = ()
        self._decision_for = decision_for
        self.blur_boxes: Callable[..., tuple[BBox, ...]] | None = None
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._queue: deque[tuple[int, str]] = deque()  # (row, key) asked for by painted cells
        self._queued: set[str] = set()
        self._in_flight: set[str] = set()
        self._generation = 0
        self.decoded = 0  # crops decoded so far (benchmarks, tests)

    def set_items(self, folder: Path | None, items: Sequence[QueueItem]) -> None:
        """Show ``items`` (a model reset; decoded crops of the same folder are kept)."""
        if folder != self.folder:
            self.folder = folder
            self._pixmaps.clear()
            self._failed.clear()
            self._generation += 1
            self._in_flight.clear()
        self._generation += 1  # rows change: answers on their way name old rows
        self._in_flight.clear()
        self.items = tuple(items)
        self._queue.clear()
        self._queued.clear()
        self.setStringList([""] * len(self.items))

    def item_at(self, row: int) -> QueueItem | None:
        return self.items[row] if 0 <= row < len(self.items) else None

    def refresh(self) -> None:
        """Decisions changed: repaint the captions (no crop is decoded again)."""
        if self.items:
            self.dataChanged.emit(self.index(0), self.index(len(self.items) - 1), [Qt.ItemDataRole.DisplayRole])

    def has_crop(self, row: int) -> bool:
        it = self.item_at(row)
        return it is not None and item_key(it) in self._pixmaps

    # ---- Qt model API --------------------------------------------------------------------------
    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not index.isValid() or row >= len(self.items):
            return None
        it = self.items[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._caption(it)
        if role == Qt.ItemDataRole.DecorationRole:
            key = item_key(it)
            pix = self._pixmaps.get(key)
            if pix is not None:
                self._pixmaps.move_to_end(key)
                return pix
            if key not in self._failed:
                self._want(row, key)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{it.file}\n{it.model_label} {it.certainty * 100:.0f} %"
        if role == CropRole:
            return it
        if role == DecisionRole:
            return self._decision_for(it)
        return None

    def _caption(self, it: QueueItem) -> str:
        d = self._decision_for(it)
        if d is None:
            return f"{it.model_label} {it.certainty * 100:.0f} %"
        if d.decision == "reject" or d.decision == "empty":
            return f"✘ {it.model_label}"
        return f"✔ {d.label or it.model_label}"

    # ---- decoding ------------------------------------------------------------------------------
    def _want(self, row: int, key: str) -> None:
        if key in self._in_flight or key in self._queued:
            return
        self._queue.append((row, key))
        self._queued.add(key)
        while len(self._queue) > MAX_QUEUED:  # scrolled past: asked again when painted
            self._queued.discard(self._queue.popleft()[1])
        self._pump()

    def _pump(self) -> None:
        from ..crop_loader import decode_grid_crop
        from ..workers import run_in_pool

        while self._queue and len(self._in_flight) < MAX_IN_FLIGHT and self.folder is not None:
            row, key = self._queue.pop()  # newest first: where the user looks now
            self._queued.discard(key)
            it = self.items[row]
            self._in_flight.add(key)
            gen, path, bbox, frame = self._generation, self.folder / it.file, it.detection.bbox, it.detection.frame
            blur = self.blur_boxes(it.file, frame) if self.blur_boxes is not None else ()

            def done(img: QImage | None, key: str = key, gen: int = gen, row: int = row) -> None:
                if gen != self._generation:
                    return
                self._in_flight.discard(key)
                self.decoded += 1
                self._store(key, img, row)
                self._pump()

            run_in_pool(lambda p=path, b=bbox, f=frame, bl=blur: decode_grid_crop(p, b, CROP_SIDE, f, bl),
                        done, lambda _e, done=done: done(None), self)

    def _store(self, key: str, img: QImage | None, row: int) -> None:
        if img is None or img.isNull():
            self._failed.add(key)
        else:
            self._pixmaps[key] = QPixmap.fromImage(img)
            while len(self._pixmaps) > _CACHE_MAX:
                self._pixmaps.popitem(last=False)
        if 0 <= row < len(self.items) and item_key(self.items[row]) == key:  # still that crop's row
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def size_hint(self) -> QSize:
        return QSize(CROP_SIDE + 16, CROP_SIDE + 36)
