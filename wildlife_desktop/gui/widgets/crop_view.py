"""A picture scaled to fit (aspect kept), optionally with one normalised box drawn on it."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from ...core.records import BBox


class CropViewWidget(QWidget):
    """Paints ``pixmap`` centred and scaled to fit; ``key`` names what is shown (tests, stale checks)."""

    def __init__(self, parent: QWidget | None = None, *, min_size: QSize | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._key = ""
        self._message = ""
        self._box: BBox | None = None
        self._box_color = QColor("#E69F00")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(min_size or QSize(120, 90))
        self.setAutoFillBackground(True)
        # A mid-dark neutral from the palette frames photos better than white and follows the theme.
        self.setBackgroundRole(QPalette.ColorRole.Dark)

    @property
    def key(self) -> str:
        """Key of the image on screen ("" while loading or failed)."""
        return self._key

    def has_image(self) -> bool:
        return self._pixmap is not None

    def set_image(self, key: str, pixmap: QPixmap | None, message: str = "") -> None:
        self._key = key if pixmap is not None else ""
        self._pixmap = pixmap
        self._message = message
        self.update()

    def set_box(self, box: BBox | None, color: QColor | None = None) -> None:
        self._box = box
        if color is not None:
            self._box_color = color
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: ARG002 - Qt signature
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._pixmap is None or self._pixmap.isNull():
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            return
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2,
                        size.width(), size.height())
        p.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self._box is not None:
            b = self._box
            r = QRectF(target.x() + b.x * target.width(), target.y() + b.y * target.height(),
                       b.w * target.width(), b.h * target.height())
            # Dark halo under the coloured line keeps the box visible on bright snow and sand.
            p.setPen(QPen(QColor(0, 0, 0, 200), 4))
            p.drawRect(r)
            p.setPen(QPen(self._box_color, 2))
            p.drawRect(r)
