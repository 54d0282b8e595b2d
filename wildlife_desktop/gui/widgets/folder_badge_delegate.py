"""Paints a folder name with its result badge on the right: "120 · ✓118 · 🐾40 · ✗2"."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from ..item_models.folder_model import BADGE_ROLE


class FolderBadgeDelegate(QStyledItemDelegate):
    """Default folder painting, plus a muted summary text right-aligned in the row."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        summary = index.data(BADGE_ROLE)
        if summary is None:
            super().paint(painter, option, index)
            return
        fm = option.fontMetrics
        name_w = fm.horizontalAdvance(str(index.data())) + 48  # icon and padding
        room = option.rect.width() - name_w
        parts = [f"{summary.done}/{summary.images}"]
        if summary.animals:
            parts.append(self.tr("{0} animals").format(summary.animals))
        if summary.failures:
            parts.append(self.tr("{0} failed").format(summary.failures))
        # Drop the least important parts first rather than eliding the folder name.
        while len(parts) > 1 and fm.horizontalAdvance(" · ".join(parts)) + 12 > room:
            parts.pop(1 if len(parts) > 2 else -1)
        text = " · ".join(parts)
        badge_w = fm.horizontalAdvance(text) + 12
        if badge_w > room:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        opt.rect = option.rect.adjusted(0, 0, -badge_w, 0)
        super().paint(painter, opt, index)
        painter.save()
        rect = QRect(option.rect.right() - badge_w, option.rect.top(), badge_w - 4, option.rect.height())
        color = option.palette.color(QPalette.ColorRole.PlaceholderText)
        if summary.failures:
            color = option.palette.color(QPalette.ColorRole.Link)
        painter.setPen(color)
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text)
        painter.restore()
