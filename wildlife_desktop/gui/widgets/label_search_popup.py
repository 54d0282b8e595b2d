"""Type-ahead relabel popup: a line edit and a list fed by ``ReviewSession.search_labels``.

A typed label that is not known yet (not the model's, the folder's or the reviewer's) becomes a
new species in every export, so a typo ("gir") must not slip in: the list offers it as its last
row, "New label …", and choosing it asks "Create new label 'gir'?" in the popup itself (Enter
creates it, Esc goes back to editing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

NEW_LABEL_ROLE = Qt.ItemDataRole.UserRole + 1


class LabelSearchPopupWidget(QFrame):
    """Shown over the Verify page. Enter picks (``sig_label_chosen``), Esc cancels (``sig_cancelled``).

    Up/Down move in the list while typing. A label not in ``known`` is offered as "New label …"
    and needs a second Enter on the "Create new label?" question (``pending_new`` meanwhile).
    """

    sig_label_chosen = Signal(str)
    sig_cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search: Callable[[str], tuple[str, ...]] = lambda _t: ()
        self._known: dict[str, str] = {}  # lower-case -> label
        self.pending_new: str | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.title = QLabel(self.tr("Relabel: type to search, Enter picks, Esc cancels"), self)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(self.tr("species…"))
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.edit)
        lay.addWidget(self.hint)
        lay.addWidget(self.list, 1)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.edit.installEventFilter(self)
        self.hide()

    def open(self, search: Callable[[str], tuple[str, ...]], known: Sequence[str] = ()) -> None:
        """Show the popup; ``known`` are the labels that need no confirmation (default: all ``search`` finds)."""
        self._search = search
        self._known = {x.lower(): x for x in (known or search(""))}
        self.pending_new = None
        self.edit.clear()
        self._on_edit_text_changed("")
        self.show()
        self.raise_()
        self.edit.setFocus(Qt.FocusReason.PopupFocusReason)

    def choices(self) -> list[str]:
        """The known labels offered (not the "New label …" row)."""
        return [it.text() for i in range(self.list.count()) if not (it := self.list.item(i)).data(NEW_LABEL_ROLE)]

    def _on_edit_text_changed(self, text: str) -> None:
        self.pending_new = None
        self.list.clear()
        self.list.addItems(list(self._search(text)))
        typed = text.strip()
        if typed and typed.lower() not in self._known:
            item = QListWidgetItem(self.tr("New label “{0}”…").format(typed))
            item.setData(NEW_LABEL_ROLE, typed)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        if not self._known and not typed:
            self._set_hint(self.tr("No labels yet: type a species name, then Enter."))
        else:
            self._set_hint("")

    def _set_hint(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def _choose(self, item: QListWidgetItem | None) -> None:
        """Enter: a known label is taken; a new one first asks, then is taken on the next Enter."""
        typed = self.edit.text().strip()
        new = item.data(NEW_LABEL_ROLE) if item is not None else (typed or None)
        if item is not None and not new:
            self._finish(item.text())
        elif new and new.lower() in self._known:  # same label, other capitals: the known spelling
            self._finish(self._known[new.lower()])
        elif new and self.pending_new == new:
            self._finish(new)
        elif new:
            self.pending_new = new
            self._set_hint(self.tr("Create new label “{0}”? It will appear in every export. "
                                   "Enter: create it · Esc: back").format(new))

    def _finish(self, label: str | None) -> None:
        self.hide()
        if label:
            self.sig_label_chosen.emit(label)
        else:
            self.sig_cancelled.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose(self.list.currentItem())
                return True
            if key == Qt.Key.Key_Escape:
                if self.pending_new is not None:  # back to editing, not out of the popup
                    self.pending_new = None
                    self._set_hint("")
                else:
                    self._finish(None)
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.list.count():
                step = 1 if key == Qt.Key.Key_Down else -1
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
                return True
        return super().eventFilter(watched, event)
