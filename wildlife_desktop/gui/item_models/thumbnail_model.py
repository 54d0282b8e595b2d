"""List model over the media files of one folder, with predictions, filter and sort.

Filtering and sorting are done here with Python's ``sorted(key=...)`` over an index list
instead of a ``QSortFilterProxyModel``: a proxy calls ``lessThan`` through Python ~1.7M
times for 100k rows (seconds), a key sort takes ~50 ms. Threshold-dependent keys (status,
top label, confidence) come from one :class:`PredictionDigest` per prediction, computed once,
so a threshold change costs comparisons, not a re-scan of every detection list. A change
that leaves the row order as it was (the usual name order) repaints instead of re-laying out.

Row count lives in C++: the class derives from ``QStringListModel`` and does not override
``rowCount``/``index``, so a relayout of the grid (which calls ``index()`` → ``rowCount()``
twice per row, 20k calls for 10k files) never enters Python. Entering Python needs the GIL;
while a pool thread runs pure-Python work (loading results), each entry waited up to the
interpreter's switch interval and a 10k-row layout froze the window for 100–500 ms. The
string list holds one empty string per shown row; ``data()`` is answered here. ``flags()`` is
C++ too (Qt asks it for every painted cell); the grid view turns off the editing and dragging
those flags would allow.

Season filters (issue 14: verified-or-top label, review state, camera, dates, confidence band)
and the event sort are computed by :func:`view_state.compute_grid_rows` on the pool when the
folder has :attr:`ThumbnailModel.async_min_files` files or more: the GUI thread only swaps the
row list in (a generation number drops answers overtaken by a newer change). Below that the
rows are computed at once (a few ms).

Threading: GUI thread only. Thumbnails arrive as ``QImage`` from the loader and are turned
into ``QPixmap`` here (on the GUI thread) in :meth:`set_thumbnail`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap

from ...core.records import MediaFile, Prediction
from ...formats.bundle import SequenceInfo
from ..view_state import (
    FileReview,
    FileStatus,
    GridFilter,
    PredictionDigest,
    Thresholds,
    compute_grid_rows,
    event_sort_key,
)

#: During a run, rows that must move (sorted or filtered grid) move at most this often: a
#: relayout is a pass over every file, and batches arrive every 100 ms.
RUN_RELAYOUT_MS: Final[int] = 500
_ROW_CHUNK: Final[int] = 1024  # rows added/removed per QStringListModel call (see _resize_rows)
_PIXMAP_CACHE_MAX: Final[int] = 1500  # ~1500 * 256*192*4 B ≈ 300 MB worst case; typical far less

ModelIndex = QModelIndex | QPersistentModelIndex


class ThumbRole(IntEnum):
    MEDIA = Qt.ItemDataRole.UserRole + 1
    PREDICTION = Qt.ItemDataRole.UserRole + 2
    STATUS = Qt.ItemDataRole.UserRole + 3
    TOP = Qt.ItemDataRole.UserRole + 4  # (label, confidence) | None
    THUMB_STATE = Qt.ItemDataRole.UserRole + 5  # "loading" | "ready" | "failed"
    REVIEWED = Qt.ItemDataRole.UserRole + 6
    PATH = Qt.ItemDataRole.UserRole + 7


class SortKey(IntEnum):
    NAME = 0
    DATE = 1
    CONFIDENCE = 2
    CLASS = 3
    SEQUENCE = 4
    STATUS = 5
    EVENT = 6  # camera, event start time, frame in the event (the folder's sequences)


#: Filter values: None = all, or a FileStatus value, or "label:<name>", or "unreviewed".
FilterKey = str | None
#: Folders this big have their rows computed on the pool (see the module docstring).
ASYNC_MIN_FILES: Final[int] = 20_000


def index_files(files: Sequence[MediaFile]) -> dict[str, int]:
    """``rel_path -> position`` of ``files`` (the model's lookup table; ~30 ms per 100k files)."""
    return {f.rel_path: i for i, f in enumerate(files)}


class ThumbnailModel(QStringListModel):
    """Rows = files after filter/sort. ``sig_thumbnail_wanted(row_key)`` asks for a decode."""

    sig_thumbnail_wanted = Signal(str)  # rel_path; emitted from data() for painted rows only
    sig_layout_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self._files: list[MediaFile] = []
        self._index_of: dict[str, int] = {}
        self._rows: list[int] = []  # indices into _files, after filter and sort
        self._row_of: dict[int, int] | None = None  # None: rows are 0..n-1 in file order
        self._predictions: dict[str, Prediction] = {}
        self._digests: dict[str, PredictionDigest] = {}
        self._labels: set[str] = set()  # classifier labels of the files' best detections
        self._reviewed: set[str] = set()
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._thumb_failed: set[str] = set()
        self._requested: set[str] = set()
        self.thresholds = Thresholds()
        self._filter: FilterKey = None
        self._min_conf = 0.0
        self._grid_filter = GridFilter()
        self._reviews: dict[str, FileReview] = {}
        self._review_labels: set[str] = set()  # verified labels (lower case)
        self._sequences: dict[str, SequenceInfo] = {}
        self.async_min_files = ASYNC_MIN_FILES
        self._generation = 0  # of the row computation; answers of older ones are dropped
        self._pending = False  # a pool computation is on its way
        self._sort = SortKey.NAME
        self._descending = False
        self._relayout_timer = QTimer(self)
        self._relayout_timer.setSingleShot(True)
        self._relayout_timer.setInterval(RUN_RELAYOUT_MS)
        self._relayout_timer.timeout.connect(self._relayout)

    # ---- loading -------------------------------------------------------------------------
    def set_files(self, folder: Path, files: Iterable[MediaFile], index_of: dict[str, int] | None = None) -> None:
        """Show ``files`` (pass ``index_files(files)`` when it was made off the GUI thread)."""
        self._relayout_timer.stop()
        self.folder = Path(folder)
        self._files = list(files)
        self._index_of = index_files(self._files) if index_of is None else index_of
        self._predictions = {}
        self._digests = {}
        self._labels = set()
        self._reviewed = set()
        self._pixmaps.clear()
        self._thumb_failed.clear()
        self._requested.clear()
        self._rows = []
        self._rebuild_rows()
        self.setStringList([""] * len(self._rows))  # the model reset
        self.sig_layout_changed.emit()

    def set_predictions(self, predictions: Iterable[Prediction]) -> None:
        """Add or replace the predictions of some files (a batch from the engine during a run)."""
        changed = False
        index_of, preds, digs, labels = self._index_of, self._predictions, self._digests, self._labels
        for p in predictions:
            rel = p.rel_path
            if rel in index_of:
                preds[rel] = p
                d = digs[rel] = PredictionDigest.of(p)
                if d.best is not None and d.best.top_label:
                    labels.add(d.best.top_label)
                changed = True
        if changed:
            self._after_predictions_changed(throttled=True)

    def replace_results(self, predictions: dict[str, Prediction], digests: dict[str, PredictionDigest],
                        labels: Iterable[str]) -> None:
        """Show a whole loaded results set, prepared off the GUI thread (no per-file Python here).

        ``digests`` must hold the :meth:`PredictionDigest.of` of each prediction. Predictions
        of files the grid does not show (an imported file listing more) are left out.
        """
        if predictions.keys() <= self._index_of.keys():  # set comparison in C: the usual case
            self._predictions, self._digests = dict(predictions), dict(digests)
        else:
            keep = self._index_of
            self._predictions = {r: p for r, p in predictions.items() if r in keep}
            self._digests = {r: d for r, d in digests.items() if r in keep}
        self._labels = set(labels)
        self._after_predictions_changed()

    def _after_predictions_changed(self, *, throttled: bool = False) -> None:
        if (self._filter is None and self._min_conf <= 0 and not self._grid_filter.active
                and self._sort == SortKey.NAME and not self._descending):
            # Rows do not move (the usual case during a run): repaint them.
            self._repaint_all()
            return
        if throttled:  # repaint the new badges now; move rows at most every RUN_RELAYOUT_MS
            self._repaint_all()
            if not self._relayout_timer.isActive():
                self._relayout_timer.start()
            return
        self._relayout()

    def set_reviewed(self, rel_paths: Iterable[str]) -> None:
        reviewed = set(rel_paths)
        if reviewed == self._reviewed:
            return
        self._reviewed = reviewed
        self._relayout()

    def clear(self) -> None:
        self._relayout_timer.stop()
        self.folder = None
        self._files, self._rows, self._predictions, self._digests = [], [], {}, {}
        self._index_of, self._row_of, self._labels = {}, None, set()
        self._reviews, self._review_labels, self._sequences = {}, set(), {}
        self._generation += 1  # a row computation on its way belongs to the folder left
        self._pending = False
        self._pixmaps.clear()
        self.setStringList([])  # the model reset

    # ---- view settings -------------------------------------------------------------------
    def set_thresholds(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds
        self._relayout()

    def set_filter(self, key: FilterKey, min_confidence: float = 0.0) -> None:
        self._filter, self._min_conf = key, min_confidence
        self._relayout()

    def set_sort(self, key: SortKey, descending: bool = False) -> None:
        self._sort, self._descending = SortKey(key), descending
        self._relayout()

    def set_grid_filter(self, flt: GridFilter) -> None:
        """The season filters (label, review state, camera, dates, confidence band), with the Show key."""
        if flt != self._grid_filter:
            self._grid_filter = flt
            self._relayout()

    @property
    def grid_filter(self) -> GridFilter:
        return self._grid_filter

    def set_review_index(self, reviews: dict[str, FileReview]) -> None:
        """Per-file verified labels and review states (``view_state.file_reviews``, made on the pool)."""
        self._reviews = reviews
        self._review_labels = {lab for r in reviews.values() for lab in r.labels}
        if self._grid_filter.label or self._grid_filter.states:
            self._relayout()

    def set_sequences(self, sequences: dict[str, SequenceInfo]) -> None:
        """The folder's events (camera/location filter, event sort)."""
        self._sequences = sequences
        if self._grid_filter.location or self._sort == SortKey.EVENT:
            self._relayout()

    def locations(self) -> list[str]:
        return sorted({s.location for s in self._sequences.values() if s.location})

    def relayout_pending(self) -> bool:
        """True while rows are being computed on the pool."""
        return self._pending

    def labels(self) -> list[str]:
        """The classifier labels of the files' most confident boxes, at any threshold (filter combo).

        Threshold-free on purpose: the list is rebuilt on every slider step, and a scan of
        every file per step is what made the slider stall on big folders.
        """
        known = {lab.lower() for lab in self._labels}
        return sorted(self._labels | {lab for lab in self._review_labels if lab not in known})

    # ---- thumbnails ----------------------------------------------------------------------
    def set_thumbnail(self, rel_path: str, image: QImage | None) -> None:
        """Store a decoded thumbnail (GUI thread); ``None`` marks it undecodable."""
        self._requested.discard(rel_path)
        if image is None or image.isNull():
            self._thumb_failed.add(rel_path)
        else:
            self._pixmaps[rel_path] = QPixmap.fromImage(image)
            while len(self._pixmaps) > _PIXMAP_CACHE_MAX:
                self._pixmaps.popitem(last=False)
        row = self.row_of(rel_path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, ThumbRole.THUMB_STATE])

    def invalidate_thumbnails(self, stale: Callable[[str], bool]) -> int:
        """Drop the decoded thumbnails ``stale`` names (privacy: blurred with other boxes); they are
        asked for again when painted. Only thumbnails held here are checked. Returns how many."""
        drop = [rel for rel in self._pixmaps if stale(rel)]
        for rel in drop:
            del self._pixmaps[rel]
            row = self.row_of(rel)
            if row is not None:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, ThumbRole.THUMB_STATE])
        return len(drop)

    def forget_requests(self) -> None:
        """Called when the loader drops queued work (scroll jump): ask again when painted."""
        self._requested.clear()

    # ---- lookup --------------------------------------------------------------------------
    def row_of(self, rel_path: str) -> int | None:
        i = self._index_of.get(rel_path)
        if i is None:
            return None
        return i if self._row_of is None else self._row_of.get(i)

    def media_at(self, row: int) -> MediaFile | None:
        return self._files[self._rows[row]] if 0 <= row < len(self._rows) else None

    def prediction(self, rel_path: str) -> Prediction | None:
        return self._predictions.get(rel_path)

    def predictions(self) -> dict[str, Prediction]:
        return dict(self._predictions)

    def first_row_with_detection(self) -> int:
        """First row whose file shows an animal, person or vehicle at the thresholds (else 0)."""
        status_of, digs, files = self.thresholds.status_of, self._digests, self._files
        for row, i in enumerate(self._rows):
            st = status_of(digs.get(files[i].rel_path))
            if st in (FileStatus.ANIMAL, FileStatus.PERSON, FileStatus.VEHICLE):
                return row
        return 0

    def file_count(self) -> int:
        return len(self._files)

    def done_count(self) -> int:
        return len(self._predictions)

    def status_counts(self) -> dict[FileStatus, int]:
        counts = dict.fromkeys(FileStatus, 0)
        status_of, digs = self.thresholds.status_of, self._digests
        for f in self._files:
            counts[status_of(digs.get(f.rel_path))] += 1
        return counts

    # ---- Qt model API (rowCount/index stay C++: see the module docstring) -----------------
    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        media = self._files[self._rows[index.row()]]
        rel = media.rel_path
        if role == Qt.ItemDataRole.DisplayRole:
            return rel.rsplit("/", 1)[-1]
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self._pixmaps.get(rel)
            if pix is not None:
                self._pixmaps.move_to_end(rel)
                return pix
            if rel not in self._thumb_failed and rel not in self._requested:
                # data(DecorationRole) is only asked for painted cells (uniform item sizes),
                # so this is the "visible rows only" request.
                self._requested.add(rel)
                self.sig_thumbnail_wanted.emit(rel)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return rel
        if role == ThumbRole.MEDIA:
            return media
        if role == ThumbRole.PATH:
            return str(self.folder / rel) if self.folder else rel
        if role == ThumbRole.PREDICTION:
            return self._predictions.get(rel)
        if role == ThumbRole.STATUS:
            return self.thresholds.status_of(self._digests.get(rel))
        if role == ThumbRole.TOP:
            return self.thresholds.top_of(self._digests.get(rel))
        if role == ThumbRole.THUMB_STATE:
            if rel in self._pixmaps:
                return "ready"
            return "failed" if rel in self._thumb_failed else "loading"
        if role == ThumbRole.REVIEWED:
            return rel in self._reviewed
        return None

    def size_hint(self) -> QSize:
        return QSize(200, 180)

    # ---- internals -----------------------------------------------------------------------
    def _relayout(self) -> None:
        self._relayout_timer.stop()
        self._generation += 1
        if len(self._files) < self.async_min_files:
            self._pending = False
            self._apply_rows(self._compute_rows())
            return
        from ..workers import run_in_pool

        gen, compute = self._generation, self._rows_job()
        self._pending = True

        def done(rows: list[int]) -> None:
            if gen == self._generation:
                self._pending = False
                self._apply_rows(rows)

        run_in_pool(compute, done, lambda _e: done(self._rows), self)

    def _apply_rows(self, rows: list[int]) -> None:
        if rows == self._rows:  # same order (e.g. name order, no filter): nothing moves
            self._repaint_all()
            self.sig_layout_changed.emit()
            return
        self.layoutAboutToBeChanged.emit()
        # Persistent indexes (the view's current item and selection) follow their files.
        moved = [i for i in self.persistentIndexList() if 0 <= i.row() < len(self._rows)]
        files_of = [self._rows[i.row()] for i in moved]
        have = QStringListModel.rowCount(self)
        self._set_rows(rows)
        if len(rows) > have:  # grow first: the rows the indexes move to must exist
            self._resize_rows(len(rows))
        self.changePersistentIndexList(moved, [self._index_of_file(i) for i in files_of])
        if len(rows) < have:  # shrink last: no persistent index is left on a removed row
            self._resize_rows(len(rows))
        self.layoutChanged.emit()
        self.sig_layout_changed.emit()

    def _index_of_file(self, i: int) -> QModelIndex:
        """The index of ``_files[i]`` in the current rows (invalid when filtered out)."""
        row = i if self._row_of is None else self._row_of.get(i)
        return self.index(row) if row is not None else QModelIndex()

    def _repaint_all(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))

    def _resize_rows(self, n: int) -> None:
        """Make the C++ row count ``n`` inside a layout change (the view relays out after it)."""
        have = QStringListModel.rowCount(self)
        if have == n:
            return
        blocked = self.blockSignals(True)  # no row insert/remove signals inside layoutChanged
        try:
            # In chunks at the end: QStringListModel inserts (removes) one string at a time at the
            # same position, each moving the ones after it; 98k rows in one call took 1.5 s.
            while have < n:
                k = min(_ROW_CHUNK, n - have)
                self.insertRows(have, k)
                have += k
            while have > n:
                k = min(_ROW_CHUNK, have - n)
                self.removeRows(have - k, k)
                have -= k
        finally:
            self.blockSignals(blocked)

    def _rebuild_rows(self) -> None:
        self._set_rows(self._compute_rows())

    def _set_rows(self, rows: list[int]) -> None:
        self._rows = rows
        identity = len(rows) == len(self._files) and rows == list(range(len(rows)))
        self._row_of = None if identity else {i: r for r, i in enumerate(rows)}

    def _compute_rows(self) -> list[int]:
        return self._rows_job()()

    def _rows_job(self) -> Callable[[], list[int]]:
        """The row computation over a snapshot of the current state (callable on a pool thread)."""
        th, digs, files, preds = self.thresholds, self._digests, self._files, self._predictions
        flt, min_conf, gflt = self._filter, self._min_conf, self._grid_filter
        reviewed, reviews, seqs = frozenset(self._reviewed), self._reviews, self._sequences
        sort_key, desc = self._sort, self._descending
        sort = sort_key != SortKey.NAME or desc

        def job() -> list[int]:
            idx = self._filtered(th, digs, files, flt, min_conf, reviewed)
            if gflt.active:
                keep = set(compute_grid_rows(files, digs, preds, th, gflt, reviewed=reviewed, reviews=reviews,
                                             sequences=seqs))
                idx = [i for i in idx if i in keep]
            if sort:
                idx.sort(key=self._sort_key_of(sort_key, files, preds, digs, th, seqs), reverse=desc)
            return idx

        return job

    @staticmethod
    def _filtered(th: Thresholds, digs: dict[str, PredictionDigest], files: list[MediaFile], flt: FilterKey,
                  min_conf: float, reviewed: frozenset[str]) -> list[int]:
        idx: list[int]
        if flt is not None or min_conf > 0:
            status_of, top_of = th.status_of, th.top_of
            keep: list[int] = []
            for i, f in enumerate(files):
                rel = f.rel_path
                d = digs.get(rel)
                if min_conf > 0 and (d is None or max(0.0, d.best_confidence) < min_conf):
                    continue
                if flt is None:
                    keep.append(i)
                elif flt == "unreviewed":
                    if rel not in reviewed:
                        keep.append(i)
                elif flt.startswith("label:"):
                    top = top_of(d)
                    if top is not None and top[0] == flt[6:]:
                        keep.append(i)
                elif status_of(d).value == flt:
                    keep.append(i)
            idx = keep
        else:
            idx = list(range(len(files)))
        return idx

    def _sort_key_fn(self) -> Any:
        return self._sort_key_of(self._sort, self._files, self._predictions, self._digests, self.thresholds,
                                 self._sequences)

    @staticmethod
    def _sort_key_of(key: SortKey, files: list[MediaFile], preds: dict[str, Prediction],
                     digs: dict[str, PredictionDigest], th: Thresholds, seqs: dict[str, SequenceInfo]) -> Any:
        """The sort key over a snapshot (pure Python: called on the pool for big folders)."""
        t = th.detection

        def date_of(i: int) -> str:
            p = preds.get(files[i].rel_path)
            return (p.meta.datetime if p and p.meta.datetime else "") or ""

        if key == SortKey.DATE:
            return lambda i: (date_of(i) or "~", files[i].mtime_ns, files[i].rel_path)
        if key == SortKey.CONFIDENCE:
            # One list of keys, looked up by C code during the sort: no Python call per compare.
            neg = float("-inf")
            best = [d.best_confidence if (d := digs.get(f.rel_path)) is not None else neg for f in files]
            return [c if c >= t else 0.0 for c in best].__getitem__
        if key == SortKey.CLASS:
            top_of = th.top_of
            return lambda i: (((t := top_of(digs.get(files[i].rel_path))) and t[0]) or "~", files[i].rel_path)
        if key == SortKey.SEQUENCE:
            # Camera folder first, then capture time: a burst stays together, as the core's
            # sequence grouping does (folder = camera, time gap splits bursts).
            return lambda i: (files[i].rel_path.rpartition("/")[0], date_of(i), files[i].rel_path)
        if key == SortKey.EVENT:
            return event_sort_key(files, preds, seqs)
        if key == SortKey.STATUS:
            status_of = th.status_of
            return lambda i: (status_of(digs.get(files[i].rel_path)).value, files[i].rel_path)
        return lambda i: files[i].rel_path
