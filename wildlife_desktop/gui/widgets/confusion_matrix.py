"""A confusion matrix as a read-only table: counts in the cells, shading by share of the row.

Rows are the true labels, columns the predicted ones (``Metrics.confusion`` order). Correct
cells (the diagonal) are shaded blue, mistakes vermillion (Okabe-Ito, colour-blind safe), both
blended into the palette's base colour, so the matrix reads in light and dark themes; the text
colour is picked per cell for contrast. Shading is recomputed when the palette changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ..style import text_color_on

CORRECT_COLOR: Final[str] = "#0072B2"
WRONG_COLOR: Final[str] = "#D55E00"
MIN_ALPHA: Final[float] = 0.18  # a single count stays visibly shaded
MAX_ALPHA: Final[float] = 0.9
MIN_CELL_WIDTH: Final[int] = 44


def _blend(base: QColor, tint: QColor, alpha: float) -> QColor:
    return QColor(round(base.red() + (tint.red() - base.red()) * alpha),
                  round(base.green() + (tint.green() - base.green()) * alpha),
                  round(base.blue() + (tint.blue() - base.blue()) * alpha))


class ConfusionMatrixWidget(QTableWidget):
    """``set_matrix(labels, rows)``: rows = true label, columns = predicted label."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setCornerButtonEnabled(False)
        self._labels: tuple[str, ...] = ()
        self._rows: tuple[tuple[int, ...], ...] = ()

    def set_matrix(self, labels: Sequence[str], rows: Sequence[Sequence[int]]) -> None:
        self._labels = tuple(labels)
        self._rows = tuple(tuple(int(v) for v in r) for r in rows)
        n = len(self._labels)
        self.clear()
        self.setRowCount(n)
        self.setColumnCount(n)
        self.setVerticalHeaderLabels(list(self._labels))
        self.setHorizontalHeaderLabels(list(self._labels))
        for r, row in enumerate(self._rows):
            total = sum(row)
            for c, count in enumerate(row):
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = count / total if total else 0.0
                item.setToolTip(self.tr("True {0}, predicted {1}: {2} ({3:.0f} % of {0})").format(
                    self._labels[r], self._labels[c], count, share * 100))
                self.setItem(r, c, item)
        self._shade()
        # One width for every column (the widest label or count), so the grid reads as a matrix.
        self.resizeColumnsToContents()
        width = max([MIN_CELL_WIDTH] + [self.columnWidth(c) for c in range(n)])
        for c in range(n):
            self.setColumnWidth(c, width)

    def count(self, true_label: str, predicted: str) -> int:
        """The count in the cell (``true_label``, ``predicted``)."""
        return self._rows[self._labels.index(true_label)][self._labels.index(predicted)]

    def cell_color(self, row: int, column: int) -> QColor:
        item = self.item(row, column)
        return item.background().color() if item is not None else QColor()

    def _shade(self) -> None:
        base = self.palette().color(QPalette.ColorRole.Base)
        for r, row in enumerate(self._rows):
            total = sum(row)
            for c, count in enumerate(row):
                item = self.item(r, c)
                if item is None:
                    continue
                if count == 0 or total == 0:
                    item.setData(Qt.ItemDataRole.BackgroundRole, None)
                    item.setData(Qt.ItemDataRole.ForegroundRole, None)
                    continue
                alpha = MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * count / total
                bg = _blend(base, QColor(CORRECT_COLOR if r == c else WRONG_COLOR), alpha)
                item.setBackground(QBrush(bg))
                item.setForeground(QBrush(text_color_on(bg)))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._shade()
