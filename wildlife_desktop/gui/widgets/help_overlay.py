"""The ``?`` overlay: every key binding, generated from the key map (``review.keymap.help_rows``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget


class HelpOverlayWidget(QWidget):
    """Covers its parent; any key or click closes it (``sig_closed``)."""

    sig_closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str]] = []
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.panel = QWidget(self)
        self.panel.setAutoFillBackground(True)
        self.panel.setBackgroundRole(QPalette.ColorRole.Window)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(24)
        title = QLabel(self.tr("Keyboard — press any key to close"), self.panel)
        f = QFont(title.font())
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.3)
        title.setFont(f)
        inner = QVBoxLayout(self.panel)
        inner.setContentsMargins(24, 16, 24, 16)
        inner.addWidget(title)
        inner.addLayout(self._grid)
        self.footer = QLabel(self.panel)
        self.footer.setWordWrap(True)
        inner.addWidget(self.footer)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(self.panel, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.hide()

    def set_footer(self, text: str) -> None:
        self.footer.setText(text)
        self.footer.setVisible(bool(text))

    def rows(self) -> list[tuple[str, str]]:
        return list(self._rows)

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        self._rows = list(rows)
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().hide()  # deleteLater waits for the event loop; do not paint meanwhile
                item.widget().deleteLater()
        bold = QFont(self.font())
        bold.setBold(True)
        for r, (keys, text) in enumerate(self._rows):
            k = QLabel(keys, self.panel)
            k.setFont(bold)
            self._grid.addWidget(k, r, 0, Qt.AlignmentFlag.AlignRight)
            self._grid.addWidget(QLabel(text, self.panel), r, 1)

    def open(self) -> None:
        if self.parentWidget() is not None:
            self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.PopupFocusReason)

    def close_overlay(self) -> None:
        if self.isVisible():
            self.hide()
            self.sig_closed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
            return
        self.close_overlay()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: ARG002 - Qt signature
        self.close_overlay()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002 - Qt signature
        p = QPainter(self)
        shade = QColor(self.palette().color(QPalette.ColorRole.Shadow))
        shade.setAlpha(150)
        p.fillRect(self.rect(), shade)
