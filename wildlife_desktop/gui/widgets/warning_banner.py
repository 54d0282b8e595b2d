"""A full-width banner for things the user must not miss (random-weight models, no models)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from ..style import text_color_on

LEVEL_COLORS = {"danger": "#B71C1C", "warning": "#F0E442", "info": "#0072B2"}


class WarningBannerWidget(QFrame):
    """Coloured strip with bold text; hidden while it has no text. Not closable on purpose."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warningBanner")
        self.setAutoFillBackground(True)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.label.font())
        font.setBold(True)
        self.label.setFont(font)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 12, 6)
        lay.addWidget(self.label, 1)
        self.hide()

    def set_message(self, text: str, level: str = "danger") -> None:
        if not text:
            self.label.clear()
            self.hide()
            return
        bg = QColor(LEVEL_COLORS.get(level, LEVEL_COLORS["danger"]))
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, bg)
        pal.setColor(QPalette.ColorRole.WindowText, text_color_on(bg))
        self.setPalette(pal)
        self.label.setPalette(pal)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() or self.label.text() else ""
