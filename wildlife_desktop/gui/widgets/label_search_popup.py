"""Type-ahead relabel popup: a line edit and a list fed by ``ReviewSession.search_labels``."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QVBoxLayout, QWidget


class LabelSearchPopupWidget(QFrame):
    """Shown over the Verify page. Enter picks (``sig_label_chosen``), Esc cancels (``sig_cancelled``).

    Up/Down move in the list while typing. With no list match, Enter takes the typed text as a
    new label (the session adds it to its label list).
    """

    sig_label_chosen = Signal(str)
    sig_cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search: Callable[[str], tuple[str, ...]] = lambda _t: ()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.title = QLabel(self.tr("Relabel: type to search, Enter picks, Esc cancels"), self)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(self.tr("species…"))
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.edit)
        lay.addWidget(self.list, 1)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.edit.installEventFilter(self)
        self.hide()

    def open(self, search: Callable[[str], tuple[str, ...]]) -> None:
        self._search = search
        self.edit.clear()
        self._on_edit_text_changed("")
        self.show()
        self.raise_()
        self.edit.setFocus(Qt.FocusReason.PopupFocusReason)

    def choices(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _on_edit_text_changed(self, text: str) -> None:
        self.list.clear()
        self.list.addItems(list(self._search(text)))
        if self.list.count():
            self.list.setCurrentRow(0)

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
                item = self.list.currentItem()
                self._finish(item.text() if item is not None else self.edit.text().strip())
                return True
            if key == Qt.Key.Key_Escape:
                self._finish(None)
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.list.count():
                step = 1 if key == Qt.Key.Key_Down else -1
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
                return True
        return super().eventFilter(watched, event)
