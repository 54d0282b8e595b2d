"""The decision bar: one button per review action, each showing the key bound to it.

Built from the key map (data), so the bar always echoes what the keys really do. The buttons
never take focus: the keyboard stays on the Verify page; clicking is an optional extra.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QPushButton, QSizePolicy, QWidget

from ...review.actions import QUICK_LABEL_ACTIONS, ReviewAction
from ...review.keymap import keys_for

A = ReviewAction
MAIN_ACTIONS = (A.ACCEPT, A.REJECT, A.UNKNOWN, A.RELABEL, A.MARK_EMPTY, A.APPLY_TO_SEQUENCE,
                A.ACCEPT_SUGGESTION, A.SKIP, A.BACK, A.UNDO, A.REDO, A.HELP)
_SYMBOLS = {"Return": "⏎ Enter", "Enter": "⏎ Enter", "Backspace": "⌫", "Left": "←", "Right": "→"}


def key_caption(key: str) -> str:
    return _SYMBOLS.get(key, key)


class DecisionBarWidget(QWidget):
    """``sig_action_requested(ReviewAction)`` when a button is clicked."""

    sig_action_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._buttons: dict[ReviewAction, QPushButton] = {}
        self._names = {A.ACCEPT: self.tr("Accept"), A.REJECT: self.tr("False detection"),
                       A.UNKNOWN: self.tr("Unknown"), A.RELABEL: self.tr("Relabel…"),
                       A.MARK_EMPTY: self.tr("Image empty"), A.APPLY_TO_SEQUENCE: self.tr("Apply to sequence"),
                       A.ACCEPT_SUGGESTION: self.tr("Take suggestion"),
                       A.SKIP: self.tr("Skip"), A.BACK: self.tr("Back"), A.UNDO: self.tr("Undo"),
                       A.REDO: self.tr("Redo"), A.HELP: self.tr("Keys")}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(4)
        bold = QFont(self.font())
        bold.setBold(True)
        for col, action in enumerate(MAIN_ACTIONS):
            grid.addWidget(self._button(action, bold if action in (A.ACCEPT, A.REJECT) else None), 0, col)
        for col, action in enumerate(QUICK_LABEL_ACTIONS):
            grid.addWidget(self._button(action, None), 1, col)

    def _button(self, action: ReviewAction, font: QFont | None) -> QPushButton:
        b = QPushButton(self)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        b.setMinimumHeight(b.fontMetrics().height() * 2 + 10)
        if font is not None:
            b.setFont(font)
        b.clicked.connect(lambda _=False, a=action: self.sig_action_requested.emit(a))
        self._buttons[action] = b
        return b

    def button(self, action: ReviewAction) -> QPushButton:
        return self._buttons[action]

    def set_keymap(self, keymap: Mapping[str, ReviewAction], quick_labels: tuple[str, ...]) -> None:
        """Caption every button "<key>\\n<what it does>"; unbound actions and empty slots are hidden."""
        for action, b in self._buttons.items():
            keys = keys_for(keymap, action)
            slot = action.quick_label_index
            if slot is not None:
                name = quick_labels[slot] if slot < len(quick_labels) else ""
            else:
                name = self._names.get(action, action.description)
            b.setVisible(bool(keys and name))
            captions = " / ".join(dict.fromkeys(key_caption(k) for k in keys[:3]))
            b.setText(f"{captions}\n{name}")
            b.setToolTip(f"{' / '.join(keys)}: {action.description}")
