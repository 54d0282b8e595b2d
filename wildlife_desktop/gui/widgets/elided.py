"""Widgets that fit their space: text elided (with the full text as tooltip), never clipped.

Qt clips a combo's text at the right edge ("None (detector onl"); :class:`ElidingComboBox` draws
"Megadet…NanoDet" instead, sizes itself from a chosen number of characters (not from its
longest item, so a long model name can never widen the window), may shrink below that when
the window is narrow, and shows the full text of the current item as its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QWidget,
)

#: Item role of the short text a closed combo shows (the list shows the full text).
SHORT_TEXT_ROLE = int(Qt.ItemDataRole.UserRole) + 77


class ElidingComboBox(QComboBox):
    """``chars``: the width it asks for (in characters); ``min_chars``: how far it may shrink;
    ``max_chars``: how far it may grow on a wide screen (None: no limit).

    An item may have a short text (:meth:`add_item`): the open list shows the full text
    ("MegadetectorLite (animal only)"), the closed combo the short one ("MegadetectorLite").
    The open list is as wide as its longest item, not clipped to the combo.
    """

    def __init__(self, parent: QWidget | None = None, *, chars: int = 16, min_chars: int = 8,
                 max_chars: int | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(chars)
        self._min_chars, self._max_chars = min_chars, max_chars
        self._apply_min_width()
        self.currentIndexChanged.connect(self.refresh_tooltip)
        self.model().dataChanged.connect(self.refresh_tooltip)

    def _apply_min_width(self) -> None:
        fm = self.fontMetrics()
        arrow = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        self.setMinimumWidth(fm.horizontalAdvance("x") * self._min_chars + arrow + 16)
        if self._max_chars is not None:
            self.setMaximumWidth(fm.horizontalAdvance("x") * self._max_chars + arrow + 16)

    def add_item(self, text: str, data: object = None, tooltip: str = "", short: str = "") -> None:
        """``addItem(text, data)`` with ``tooltip`` (default: the text) as the item's full description
        and ``short`` (default: the text) as what the closed combo shows."""
        self.addItem(text, data)
        i = self.count() - 1
        self.setItemData(i, tooltip or text, Qt.ItemDataRole.ToolTipRole)
        if short:
            self.setItemData(i, short, SHORT_TEXT_ROLE)
        if self.count() == 1:
            self.refresh_tooltip()

    def shown_text(self) -> str:
        """The current item's text for the closed combo: its short text, else its text."""
        short = self.currentData(SHORT_TEXT_ROLE)
        return str(short) if short else self.currentText()

    def displayed_text(self) -> str:
        """The current item's text as drawn (elided to the combo's width)."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        rect = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)
        return self.fontMetrics().elidedText(self.shown_text(), Qt.TextElideMode.ElideMiddle, rect.width())

    def showPopup(self) -> None:  # noqa: N802
        view = self.view()
        extra = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self) + 16
        widest = max((self.fontMetrics().horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0)
        view.setMinimumWidth(min(widest + extra, max(self.width(), 720)))
        super().showPopup()

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        p.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        self.refresh_tooltip()  # also after a change made with signals blocked (a list refill)
        opt.currentText = self.displayed_text()
        p.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def refresh_tooltip(self, *_args: object) -> None:
        """The tooltip is the current item's full description (call after changes with signals blocked)."""
        i = self.currentIndex()
        tip = self.itemData(i, Qt.ItemDataRole.ToolTipRole) if i >= 0 else None
        self.setToolTip(str(tip) if tip else self.currentText())


class ElidedLabel(QLabel):
    """A one-line label that takes the width it is given: a longer text ends in "…" and is
    shown whole in the tooltip (unless ``auto_tooltip`` is off: the owner sets its own).
    ``text()`` is the full text. A long file name can no longer make the window wider.
    """

    def __init__(self, parent: QWidget | None = None, *, mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
                 auto_tooltip: bool = True, min_text: str = "xxxxxx") -> None:
        super().__init__(parent)
        self._full = ""
        self._min_text = min_text  # the layout never gives it less room than this text needs
        self._mode = mode
        self._auto_tooltip = auto_tooltip
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # type: ignore[override]  # noqa: N802
        self._full = text or ""
        self._relayout()
        self.updateGeometry()

    def clear(self) -> None:
        self.setText("")

    def text(self) -> str:  # type: ignore[override]
        return self._full

    def displayed_text(self) -> str:
        return super().text()

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance(self._full) + 4, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._min_text) + 4, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(0, self.width() - 2))
        super().setText(shown)
        if self._auto_tooltip:
            self.setToolTip(self._full if shown != self._full else "")
