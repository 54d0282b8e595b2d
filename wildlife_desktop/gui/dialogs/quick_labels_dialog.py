"""Choose the labels of the number keys 1-9 on the Verify page.

Without a choice, a session gives the keys the reviewer's most used labels (then the queue's
most frequent model labels); fixing them keeps muscle memory the same from folder to folder.
``sig_chosen(labels)`` carries the fixed labels in key order; an empty tuple means "automatic".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

SLOTS: Final[int] = 9


class QuickLabelsDialog(QDialog):
    """Nine line edits (keys 1-9) with completion from the known labels."""

    sig_chosen = Signal(tuple)

    def __init__(self, current: Sequence[str], known: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Quick labels (keys 1–9)"))
        self.setMinimumWidth(400)
        note = QLabel(self.tr("Labels of the number keys on the Verify page, kept from folder to folder. "
                              "Empty keys are left out (the labels after them move up). “Automatic” gives "
                              "the keys your most used labels instead."), self)
        note.setWordWrap(True)
        completer = QCompleter(list(dict.fromkeys(known)), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        form = QFormLayout()
        self.edits: list[QLineEdit] = []
        for i in range(SLOTS):
            edit = QLineEdit(current[i] if i < len(current) else "", self)
            edit.setCompleter(completer)
            edit.setObjectName(f"quickLabel{i + 1}")
            form.addRow(self.tr("Key {0}").format(i + 1), edit)
            self.edits.append(edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.automatic_button = QPushButton(self.tr("Automatic"), self)
        buttons.addButton(self.automatic_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setDefault(True)  # Return presses OK, also from a line edit
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)
        self.automatic_button.clicked.connect(self._on_automatic)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def labels(self) -> tuple[str, ...]:
        """The typed labels in key order, empty keys dropped, each label once."""
        return tuple(dict.fromkeys(t for e in self.edits if (t := e.text().strip())))

    def _on_ok(self) -> None:
        self.sig_chosen.emit(self.labels())
        self.accept()

    def _on_automatic(self) -> None:
        self.sig_chosen.emit(())
        self.accept()
