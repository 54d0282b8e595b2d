"""Centre pane: filter/sort bar over a virtualised icon-mode QListView of the folder."""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..item_models.thumbnail_model import SortKey, ThumbnailModel, ThumbRole
from ..view_state import FileStatus, GridFilter
from .elided import ElidingComboBox
from .thumbnail_delegate import ThumbnailDelegate

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Confidence bands of the season filters: (text, low, high).
CONFIDENCE_BANDS = (("below 50 %", 0.0, 0.4999), ("50–80 %", 0.5, 0.7999), ("80–98 %", 0.8, 0.9799),
                    ("98 % and above", 0.98, 1.0))


def band_of(data: object) -> tuple[float, float] | None:
    """(low, high) of a confidence combo's item data (an index into CONFIDENCE_BANDS; -1: any)."""
    return CONFIDENCE_BANDS[data][1:] if isinstance(data, int) and 0 <= data < len(CONFIDENCE_BANDS) else None


def state_filter_combo(parent: QWidget) -> ElidingComboBox:
    """The season filters' review-state combo (item data: the state's key; "" for any state)."""
    combo = ElidingComboBox(parent, chars=12, min_chars=8, max_chars=20)
    combo.addItem(parent.tr("Any state"), "")
    for text, key in ((parent.tr("Not reviewed"), "not_reviewed"), (parent.tr("Verified"), "verified"),
                      (parent.tr("Verified by me"), "mine"), (parent.tr("Relabelled"), "relabelled"),
                      (parent.tr("Rejected"), "rejected"), (parent.tr("Disagreements"), "disagreement")):
        combo.addItem(text, key)
    return combo


def confidence_filter_combo(parent: QWidget) -> ElidingComboBox:
    """The season filters' confidence combo (item data: see :func:`band_of`)."""
    combo = ElidingComboBox(parent, chars=10, min_chars=7, max_chars=16)
    combo.addItem(parent.tr("Any confidence"), -1)
    for i, (text, _lo, _hi) in enumerate(CONFIDENCE_BANDS):
        combo.addItem(text, i)  # the band's index: Qt keeps a tuple as a list
    return combo


def date_range_edits(parent: QWidget, on_change: Callable[[], None]) -> tuple[QLineEdit, QLineEdit]:
    """The season filters' "from" and "to" date fields (YYYY-MM-DD); ``on_change`` when one is edited."""
    date_from, date_to = QLineEdit(parent), QLineEdit(parent)
    for e, ph in ((date_from, parent.tr("from YYYY-MM-DD")), (date_to, parent.tr("to YYYY-MM-DD"))):
        e.setPlaceholderText(ph)
        e.setMaximumWidth(e.fontMetrics().horizontalAdvance("from YYYY-MM-DD") + 16)
        e.editingFinished.connect(on_change)
    return date_from, date_to


class ThumbnailGridWidget(QWidget):
    """Emits ``sig_current_changed(rel_path)`` when the selected file changes."""

    sig_current_changed = Signal(str)

    def __init__(self, model: ThumbnailModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QListView(self)
        self.view.setObjectName("thumbnailGrid")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        # Uniform sizes + batched layout are what make 100k rows open instantly: Qt then
        # never asks every row for its size hint.
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(2000)
        self.view.setSpacing(2)
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        # The model's C++ flags() say editable and draggable: the view allows neither.
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.view.setDragEnabled(False)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.verticalScrollBar().setSingleStep(40)
        self.delegate = ThumbnailDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(model)
        self.view.selectionModel().currentChanged.connect(self._on_selection_current_changed)
        model.sig_layout_changed.connect(self._on_model_layout_changed)

        self.filter_combo = ElidingComboBox(self, chars=14, min_chars=8, max_chars=32)  # never widens the window
        self.filter_combo.setObjectName("filterCombo")
        self.sort_combo = ElidingComboBox(self, chars=12, min_chars=7, max_chars=18)
        sorts = ((self.tr("Name"), SortKey.NAME), (self.tr("Date"), SortKey.DATE),
                 (self.tr("Confidence"), SortKey.CONFIDENCE), (self.tr("Class"), SortKey.CLASS),
                 (self.tr("Sequence"), SortKey.SEQUENCE), (self.tr("Event"), SortKey.EVENT),
                 (self.tr("Review state"), SortKey.STATUS))
        for label, key in sorts:
            self.sort_combo.addItem(label, int(key))
        self.order_button = QToolButton(self)
        self.order_button.setCheckable(True)
        self.order_button.setText("↑")
        self.order_button.setToolTip(self.tr("Reverse order"))
        self.count_label = QLabel(self)
        self.count_label.setObjectName("gridCount")
        # Season filters (issue 14), on a second row shown by the "Filters" button.
        self.more_button = QToolButton(self)
        self.more_button.setCheckable(True)
        self.more_button.setText(self.tr("Filters"))
        self.more_button.setToolTip(self.tr("Filter by review state, camera, dates and confidence"))
        self.state_combo = state_filter_combo(self)
        self.place_combo = ElidingComboBox(self, chars=12, min_chars=8, max_chars=24)
        self.conf_combo = confidence_filter_combo(self)
        self.date_from, self.date_to = date_range_edits(self, self._on_filter_changed)
        self._rebuild_places()
        for combo in (self.state_combo, self.place_combo, self.conf_combo):
            combo.currentIndexChanged.connect(self._on_filter_changed)
        self._rebuild_filter_items()
        self.filter_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.sort_combo.currentIndexChanged.connect(self._on_sort_changed)
        self.order_button.toggled.connect(self._on_sort_changed)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        bar.addWidget(QLabel(self.tr("Show"), self))
        bar.addWidget(self.filter_combo, 1)
        bar.addSpacing(12)
        bar.addWidget(QLabel(self.tr("Sort"), self))
        bar.addWidget(self.sort_combo, 1)
        bar.addWidget(self.order_button)
        bar.addWidget(self.more_button)
        bar.addSpacing(12)
        bar.addWidget(self.count_label)
        self.more_bar = QWidget(self)
        more = QHBoxLayout(self.more_bar)
        more.setContentsMargins(6, 0, 6, 4)
        for w in (self.state_combo, self.place_combo, self.conf_combo, self.date_from, self.date_to):
            more.addWidget(w)
        more.addStretch(1)
        self.more_bar.hide()
        self.more_button.toggled.connect(self.more_bar.setVisible)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.more_bar)
        # Where the eye is: an empty, missing or unreadable folder is said in the grid's place.
        self.message_label = QLabel(self)
        self.message_label.setObjectName("gridMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setMargin(24)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.message_label)
        lay.addWidget(self.stack, 1)

    # ---- public ------------------------------------------------------------------------
    def current_rel_path(self) -> str | None:
        media = self.model.media_at(self.view.currentIndex().row())
        return media.rel_path if media else None

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            idx = self.model.index(row)
            self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.view.scrollTo(idx)

    def step(self, delta: int) -> None:
        """Move the selection by ``delta`` rows (review pane next/previous)."""
        row = self.view.currentIndex().row()
        self.select_row(max(0, min(self.model.rowCount() - 1, (row if row >= 0 else -1) + delta)))

    def visible_thumbnails_ready(self) -> bool:
        """True when every cell on screen has its thumbnail (or is known undecodable)."""
        vp = self.view.viewport().rect()
        first = self.view.indexAt(vp.topLeft() + vp.topLeft().__class__(8, 8))
        start = max(0, first.row())
        for row in range(start, min(self.model.rowCount(), start + 400)):
            idx = self.model.index(row)
            if not self.view.visualRect(idx).intersects(vp):
                if row > start:
                    break
                continue
            if self.model.data(idx, ThumbRole.THUMB_STATE) == "loading":
                self.model.data(idx, Qt.ItemDataRole.DecorationRole)  # (re)request if it was dropped
                return False
        return True

    def set_message(self, text: str) -> None:
        """Show ``text`` instead of the thumbnails ("" shows the thumbnails again)."""
        self.message_label.setText(text)
        self.stack.setCurrentWidget(self.message_label if text else self.view)

    def message(self) -> str:
        return self.message_label.text() if self.stack.currentWidget() is self.message_label else ""

    def update_count(self) -> None:
        """Refresh the "N files · M processed" header (during a run, with each progress report)."""
        self._update_count()

    def refresh_filters(self) -> None:
        self._rebuild_filter_items()
        self._rebuild_places()
        self._update_count()

    def grid_filter(self) -> GridFilter:
        """The filters chosen in the bar (the Show combo included)."""
        key = self.filter_combo.currentData()
        label = key[6:] if isinstance(key, str) and key.startswith("label:") else ""
        band = band_of(self.conf_combo.currentData())
        state = self.state_combo.currentData()
        d0, d1 = self.date_from.text().strip(), self.date_to.text().strip()
        return GridFilter(status=None if label else key, label=label,
                          states=frozenset({state}) if state else frozenset(),
                          location=self.place_combo.currentData() or "",
                          date_from=d0 if _DATE.match(d0) else "", date_to=d1 if _DATE.match(d1) else "",
                          min_conf=band[0] if band else 0.0, max_conf=band[1] if band else 1.0)

    # ---- slots -------------------------------------------------------------------------
    @Slot(QModelIndex, QModelIndex)
    def _on_selection_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        media = self.model.media_at(current.row())
        if media is not None:
            self.sig_current_changed.emit(media.rel_path)

    @Slot()
    def _on_filter_changed(self) -> None:
        self.model.set_grid_filter(self.grid_filter())  # computed on the pool for big folders

    @Slot()
    def _on_sort_changed(self) -> None:
        desc = self.order_button.isChecked()
        self.order_button.setText("↓" if desc else "↑")
        self.model.set_sort(SortKey(self.sort_combo.currentData()), desc)

    @Slot()
    def _on_model_layout_changed(self) -> None:
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.model.rowCount(), self.model.file_count()
        done = self.model.done_count()
        if shown == total:
            text = self.tr("%n file(s)", "", total)
        else:
            text = self.tr("{0} of {1} files").format(shown, total)
        if total:
            text += self.tr(" · {0} processed").format(done)
        self.count_label.setText(text)

    def _rebuild_places(self) -> None:
        current = self.place_combo.currentData()
        self.place_combo.blockSignals(True)
        self.place_combo.clear()
        self.place_combo.addItem(self.tr("All cameras"), "")
        for loc in self.model.locations():
            self.place_combo.addItem(self.tr("camera {0}").format(loc), loc)
        self.place_combo.setCurrentIndex(max(0, self.place_combo.findData(current)))
        self.place_combo.blockSignals(False)

    def _rebuild_filter_items(self) -> None:
        current = self.filter_combo.currentData()
        self.filter_combo.blockSignals(True)
        self.filter_combo.clear()
        self.filter_combo.addItem(self.tr("All files"), None)
        states = ((self.tr("Animals"), FileStatus.ANIMAL), (self.tr("People"), FileStatus.PERSON),
                  (self.tr("Vehicles"), FileStatus.VEHICLE), (self.tr("Empty"), FileStatus.EMPTY),
                  (self.tr("Failed"), FileStatus.FAILED), (self.tr("Not processed"), FileStatus.PENDING))
        for label, st in states:
            self.filter_combo.addItem(label, st.value)
        self.filter_combo.addItem(self.tr("Not reviewed"), "unreviewed")
        for label in self.model.labels():
            if label not in ("animal", "person", "vehicle"):
                self.filter_combo.addItem(self.tr("Class: {0}").format(label), f"label:{label}")
        i = self.filter_combo.findData(current)
        self.filter_combo.setCurrentIndex(max(0, i))
        self.filter_combo.blockSignals(False)
