"""Zoomable, pannable image view with detection boxes drawn over the image."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from ...core.records import BBox
from ..style import text_color_on


@dataclass(frozen=True)
class BoxOverlay:
    """One box to draw: normalised bbox, caption and colour."""

    bbox: BBox
    caption: str
    color: QColor


class ImageCanvasWidget(QGraphicsView):
    """Wheel zooms around the cursor, drag pans, double-click fits. Boxes keep a constant
    screen-space line width and label size whatever the zoom (cosmetic pens, labels ignore
    transformations), so a small deer far away stays visible at "fit"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageCanvas")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(self.palette().color(QPalette.ColorRole.Window).darker(115))
        self._pixmap_item: QGraphicsPixmapItem | None = None
        self._message_item: QGraphicsSimpleTextItem | None = None
        self._box_items: list[QGraphicsItem] = []
        self._tags: list[tuple[QGraphicsRectItem, QGraphicsSimpleTextItem, float]] = []  # tag, text, box top y
        self._fit = True

    # ---- content ------------------------------------------------------------------------
    def set_pixmap(self, pixmap: QPixmap | None, message: str = "") -> None:
        self._scene.clear()
        self._box_items, self._tags = [], []
        self._pixmap_item = None
        self._message_item = None
        if pixmap is None or pixmap.isNull():
            item = QGraphicsSimpleTextItem(message)
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.3)
            item.setFont(font)
            item.setBrush(self.palette().color(QPalette.ColorRole.Text))
            self._scene.addItem(item)
            self._message_item = item
            self._scene.setSceneRect(item.boundingRect().adjusted(-20, -20, 20, 20))
            self.resetTransform()
            return
        self._pixmap_item = self._scene.addPixmap(pixmap)
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.setSceneRect(QRectF(pixmap.rect()))
        self._fit = True
        self.fit()

    def has_image(self) -> bool:
        return self._pixmap_item is not None

    def set_boxes(self, boxes: list[BoxOverlay]) -> None:
        for item in self._box_items:
            self._scene.removeItem(item)
        self._box_items, self._tags = [], []
        if self._pixmap_item is None:
            return
        w = self._pixmap_item.pixmap().width()
        h = self._pixmap_item.pixmap().height()
        font = QFont(self.font())
        font.setBold(True)
        for box in boxes:
            x, y, bw, bh = box.bbox.to_pixels(w, h)
            pen = QPen(box.color, 3)
            pen.setCosmetic(True)
            rect = QGraphicsRectItem(x, y, bw, bh)
            rect.setPen(pen)
            rect.setZValue(1)
            self._scene.addItem(rect)
            self._box_items.append(rect)
            text = QGraphicsSimpleTextItem(box.caption)
            text.setFont(font)
            text.setBrush(QBrush(text_color_on(box.color)))
            tag = QGraphicsRectItem()
            tag.setBrush(box.color)
            tag.setPen(Qt.PenStyle.NoPen)
            tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            tag.setPos(x, y)
            tag.setZValue(2)
            text.setParentItem(tag)
            self._scene.addItem(tag)
            self._box_items.append(tag)
            self._tags.append((tag, text, float(y)))
        self._place_tags()

    def _place_tags(self) -> None:
        """Each label sits on its box's top edge, outside; inside when it would leave the image.

        Labels keep their screen size at any zoom, so whether one fits above its box depends on
        the current scale: placed again after every fit, zoom and resize.
        """
        scale = self.transform().m22() or 1.0
        for tag, text, y in self._tags:
            tr = text.boundingRect()
            h = tr.height() + 4
            inside = y * scale < h  # the label above the box would be cut off by the image's top
            top = 0.0 if inside else -h
            tag.setRect(0, top, tr.width() + 8, h)
            text.setPos(4, top + 2)

    def labels_inside(self) -> int:
        """How many box labels are drawn inside their box (tests)."""
        return sum(1 for tag, _t, _y in self._tags if tag.rect().top() >= 0)

    def box_count(self) -> int:
        ignore = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
        return sum(1 for i in self._box_items if not i.flags() & ignore)

    # ---- zoom/pan -----------------------------------------------------------------------
    def fit(self) -> None:
        self._fit = True
        if self._pixmap_item is not None:
            self.fitInView(self._pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)
            self._place_tags()

    def zoom(self, factor: float) -> None:
        if self._pixmap_item is None:
            return
        current = self.transform().m11()
        factor = max(0.05 / current, min(factor, 16.0 / current))
        self._fit = False
        self.scale(factor, factor)
        self._place_tags()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(1.25 ** steps)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()
