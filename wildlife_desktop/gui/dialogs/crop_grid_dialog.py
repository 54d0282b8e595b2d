"""Review > Crop grid…: every crop of one label (or of the Verify filter) side by side, decided in bulk.

A virtualised icon-mode ``QListView`` over :class:`CropGridModel` (crops cut on the pool, only
for painted cells). Keyboard multi-select as in a file manager: arrows move, Shift+arrows
extend, Ctrl+arrows move without selecting and Ctrl+Space toggles, Ctrl+A selects all. Bulk
*Accept* (A), *Relabel…* (R), *False detection* (X / Delete) and *Unknown* (U) go through
``ReviewSession.decide_many``: one appended batch, one undo step; Ctrl+Z undoes the whole step
(``ReviewSession.undo``), Ctrl+Shift+Z / Ctrl+Y redoes it. The session is the Verify page's,
so its queue, undo stack and the window's sidecars follow (``sig_decisions_changed``).

Which crops: the Verify queue under its current filter, optionally one label (verified, else
the model's: ``QueueFilter.labels``); the selection is computed on the pool for a season's queue.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QListView, QPushButton, QVBoxLayout, QWidget

from ...review.queue import QueueFilter, QueueItem
from ...review.session import ReviewSession
from ..item_models.crop_model import CropGridModel
from ..widgets.elided import ElidingComboBox
from ..widgets.label_search_popup import LabelSearchPopupWidget
from ..workers import run_in_pool

#: Queues this long are narrowed to one label on the pool.
ASYNC_MIN_ITEMS = 20_000


class CropGridDialog(QDialog):
    """``sig_decisions_changed()`` after each bulk step, undo or redo."""

    sig_decisions_changed = Signal()

    def __init__(self, session: ReviewSession, folder: Path | None, parent: QWidget | None = None, *,
                 blur_boxes: Callable[..., Any] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Crop grid"))
        self.session, self.folder = session, folder
        self.model = CropGridModel(session.decision_for, self)
        self.model.blur_boxes = blur_boxes
        self.pending = False
        self._generation = 0

        self.view = QListView(self)
        self.view.setObjectName("cropGrid")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)  # with batched layout: 100k rows never ask each for a size
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(2000)
        self.view.setSpacing(4)
        side = self.model.size_hint()
        self.view.setIconSize(QSize(side.width() - 16, side.width() - 16))
        self.view.setGridSize(side)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.view.setDragEnabled(False)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.verticalScrollBar().setSingleStep(40)
        self.view.setModel(self.model)
        self.view.selectionModel().selectionChanged.connect(self._update_status)

        self.label_combo = ElidingComboBox(self, chars=16, min_chars=9, max_chars=30)
        self.label_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.status_label = QLabel(self)
        self.buttons: dict[str, QPushButton] = {}
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Show"), self))
        bar.addWidget(self.label_combo)
        bar.addStretch(1)
        bar.addWidget(self.status_label)
        acts = QHBoxLayout()
        self._actions: dict[str, QAction] = {}
        for key, text, shortcuts, slot in (
                ("accept", self.tr("A  Accept"), ("A",), lambda: self.decide_selected("accept")),
                ("relabel", self.tr("R  Relabel…"), ("R",), self.ask_relabel),
                ("reject", self.tr("X  False detection"), ("X", "Delete"), lambda: self.decide_selected("reject")),
                ("unknown", self.tr("U  Unknown"), ("U",), lambda: self.decide_selected("unknown")),
                ("undo", self.tr("Ctrl+Z  Undo"), ("Ctrl+Z",), self.undo),
                ("redo", self.tr("Redo"), ("Ctrl+Shift+Z", "Ctrl+Y"), self.redo)):
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in shortcuts])
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
            self._actions[key] = act
            b = QPushButton(text, self)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setAutoDefault(False)
            b.clicked.connect(act.trigger)
            acts.addWidget(b)
            self.buttons[key] = b
        acts.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        lay.addLayout(acts)
        self.label_popup = LabelSearchPopupWidget(self)
        self.label_popup.sig_label_chosen.connect(self.relabel_selected)
        self.label_popup.sig_cancelled.connect(lambda: self.view.setFocus())
        self.resize(1100, 720)
        self._fill_labels()
        self.label_combo.currentIndexChanged.connect(self._on_label_changed)
        self._on_label_changed()

    # ---- public --------------------------------------------------------------------------------
    def selected_items(self) -> list[QueueItem]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [it for r in rows if (it := self.model.item_at(r)) is not None]

    def select_label(self, label: str) -> None:
        """Show the crops of ``label`` ("" = every crop of the Verify filter)."""
        self.label_combo.setCurrentIndex(max(0, self.label_combo.findData(label)))

    def decide_selected(self, kind: str, label: str = "") -> int:
        """One bulk decision on the selected crops (one undo step); returns how many were decided."""
        items = self.selected_items()
        n = self.session.decide_many(items, kind, label) if items else 0
        if n:
            self._changed(self.tr("{0} crop(s): {1}").format(n, label or kind))
        return n

    def relabel_selected(self, label: str) -> int:
        self.view.setFocus()
        return self.decide_selected("relabel", label)

    def ask_relabel(self) -> None:
        if not self.selected_items():
            return
        w, h = min(480, self.width() - 40), min(300, self.height() - 40)
        self.label_popup.setGeometry((self.width() - w) // 2, (self.height() - h) // 3, w, h)
        self.label_popup.open(self.session.search_labels, self.session.labels)

    def undo(self) -> bool:
        done = self.session.undo()
        if done:
            self._changed(self.tr("Undone"))
        return done

    def redo(self) -> bool:
        done = self.session.redo()
        if done:
            self._changed(self.tr("Redone"))
        return done

    # ---- internals -----------------------------------------------------------------------------
    def _changed(self, text: str) -> None:
        self.model.refresh()
        self.status_label.setText(text)
        self.sig_decisions_changed.emit()

    def _fill_labels(self) -> None:
        s = self.session
        self.label_combo.addItem(self.tr("All crops of the Verify filter"), "")
        labels = {it.model_label for it in s.items} | {d.label for d in s.decisions() if d.label}
        for lab in sorted(labels, key=str.lower):
            self.label_combo.addItem(lab, lab)

    def _on_label_changed(self) -> None:
        label = self.label_combo.currentData() or ""
        s = self.session
        self._generation += 1
        if not label:
            self._show(s.items)
            return
        flt = QueueFilter(labels=frozenset({label}))
        items, reviewer = s.items, s.reviewer

        def narrow() -> tuple[QueueItem, ...]:
            return tuple(it for it in items if flt.matches(it, s.decision_for(it), reviewer))

        if len(items) < ASYNC_MIN_ITEMS:
            self._show(narrow())
            return
        gen = self._generation
        self.pending = True
        self.status_label.setText(self.tr("Finding the crops…"))

        def done(found: tuple[QueueItem, ...]) -> None:
            if gen == self._generation:
                self._show(found)

        run_in_pool(narrow, done, None, self)

    def _show(self, items: tuple[QueueItem, ...]) -> None:
        self.pending = False
        self.model.set_items(self.folder, items)
        if items:
            self.view.selectionModel().setCurrentIndex(self.model.index(0), QItemSelectionModel.SelectionFlag.NoUpdate)
        self.view.setFocus()
        self._update_status()

    def _update_status(self, *_args: Any) -> None:
        n, sel = len(self.model.items), len(self.view.selectionModel().selectedIndexes())
        self.status_label.setText(self.tr("{0} crops · {1} selected").format(n, sel))
        for key in ("accept", "relabel", "reject", "unknown"):
            self.buttons[key].setEnabled(sel > 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.label_popup.isVisible():
            w, h = min(480, self.width() - 40), min(300, self.height() - 40)
            self.label_popup.setGeometry((self.width() - w) // 2, (self.height() - h) // 3, w, h)
