"""Paints one grid cell: thumbnail, status chip, file name, reviewed mark. No I/O here."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ..item_models.thumbnail_model import ThumbRole
from ..style import STATUS_COLORS, label_color, text_color_on
from ..view_state import FileStatus

CELL_W = 208
CELL_H = 190
_PAD = 6
_NAME_H = 20


def chip_specs(status: FileStatus, top: tuple[str, float] | None) -> list[tuple[str, QColor]]:
    """The badges of one cell, as (text, colour), left to right.

    The first badge names the most confident detection and is drawn in that label's colour
    ("animal 8 %" in the animal colour, a species in its own). When the file's status is a
    category the first badge does not name (a person beside a more confident animal), a second
    badge names it in its colour, so a person is never hidden behind an animal.
    """
    if status in (FileStatus.ANIMAL, FileStatus.PERSON, FileStatus.VEHICLE) and top:
        chips = [(f"{top[0]} {top[1] * 100:.0f}%", label_color(top[0]))]
        if status != FileStatus.ANIMAL and top[0] != status.value:
            chips.append((status.value, QColor(STATUS_COLORS[status])))
        return chips
    text = {FileStatus.EMPTY: "empty", FileStatus.FAILED: "failed"}.get(status, status.value)
    return [(text, QColor(STATUS_COLORS[status]))]


class ThumbnailDelegate(QStyledItemDelegate):
    """Cell layout: image area on top, name line below; chip top-left, ✓ top-right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell = QSize(CELL_W, CELL_H)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self.cell

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        pal: QPalette = option.palette
        r: QRect = option.rect.adjusted(3, 3, -3, -3)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.AlternateBase
        bg = pal.color(role)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(r, 6, 6)

        img_rect = QRect(r.left() + _PAD, r.top() + _PAD, r.width() - 2 * _PAD,
                         r.height() - 2 * _PAD - _NAME_H)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():
            scaled = pix.size().scaled(img_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(img_rect.center())
            painter.drawPixmap(target, pix)
        else:
            state = index.data(ThumbRole.THUMB_STATE)
            painter.setBrush(pal.color(QPalette.ColorRole.Mid))
            painter.drawRect(img_rect)
            painter.setPen(pal.color(QPalette.ColorRole.Text))
            media = index.data(ThumbRole.MEDIA)
            text = "unreadable" if state == "failed" else "…"
            if media is not None and media.kind == "video" and state == "failed":
                text = "▶ video"
            painter.drawText(img_rect, Qt.AlignmentFlag.AlignCenter, text)

        self._paint_chip(painter, index, img_rect)
        if index.data(ThumbRole.REVIEWED):
            self._paint_reviewed(painter, img_rect)

        name_rect = QRect(r.left() + _PAD, img_rect.bottom() + 2, r.width() - 2 * _PAD, _NAME_H)
        fg = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        painter.setPen(fg)
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        elided = option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
        painter.restore()

    def _paint_chip(self, painter: QPainter, index: QModelIndex | QPersistentModelIndex, area: QRect) -> None:
        raw = index.data(ThumbRole.STATUS)  # Qt hands a str-Enum back as a plain str
        if raw is None:
            return
        status = FileStatus(raw)
        if status == FileStatus.PENDING:
            return
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        left = area.left() + 4
        for text, color in chip_specs(status, index.data(ThumbRole.TOP)):
            fm = painter.fontMetrics()
            room = max(20, area.right() - left - 8 - 24)  # 24: the reviewed tick's corner stays free
            label, _sp, pct = text.rpartition(" ")
            if fm.horizontalAdvance(text) > room and label and pct.endswith("%"):  # keep "84%", shorten the name
                text = fm.elidedText(label, Qt.TextElideMode.ElideRight, room - fm.horizontalAdvance(" " + pct)) \
                    + " " + pct
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, room)
            chip = QRect(left, area.top() + 4, fm.horizontalAdvance(text) + 10, fm.height() + 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(chip, 4, 4)
            painter.setPen(text_color_on(color))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
            left = chip.right() + 4
        font.setBold(False)
        painter.setFont(font)

    def _paint_reviewed(self, painter: QPainter, area: QRect) -> None:
        d = 20
        circle = QRect(area.right() - d - 4, area.top() + 4, d, d)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#009E73"))
        painter.drawEllipse(circle)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(circle, Qt.AlignmentFlag.AlignCenter, "✓")
