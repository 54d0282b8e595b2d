"""Fine-tune wizard, page 2: the new model's name, the validation share, the split, quantization.

A commit page: its button starts training, and there is no way back to it while training runs.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from .optimise_box import OptimiseBox

SPLITS: tuple[str, ...] = ("auto", "site", "sequence")


def split_by_text(split_by: str) -> str:
    """The words for a report's ``split_by`` ("site", "sequence", "file") in "split by …"."""
    tr = QCoreApplication.translate
    names = {"site": tr("FinetuneWizard", "camera site"), "sequence": tr("FinetuneWizard", "sequence"),
             "file": tr("FinetuneWizard", "file")}
    return names.get(split_by, split_by)


class FinetuneOptionsPage(QWizardPage):
    """``default_name()`` is asked each time the page is shown, until the user edits the name."""

    def __init__(self, default_name: Callable[[], str], val_fraction: float, split: str, quantize: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Options"))
        self.setSubTitle(self.tr("Part of the verified crops is held back to measure how well the new "
                                 "classifier does on crops it never saw."))
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, self.tr("&Start training"))
        self._default_name = default_name
        self._name_edited = False

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("finetuneName")
        self.name_edit.setMaxLength(80)
        self.name_edit.textEdited.connect(self._on_name_edit_text_edited)
        self.name_edit.textChanged.connect(lambda _t: self.completeChanged.emit())
        self.val_spin = QSpinBox(self)
        self.val_spin.setRange(10, 50)
        self.val_spin.setSingleStep(5)
        self.val_spin.setSuffix(" %")
        self.val_spin.setValue(round(val_fraction * 100))
        self.split_combo = QComboBox(self)
        names = {"auto": self.tr("Automatic"), "site": self.tr("By camera site"),
                 "sequence": self.tr("By sequence")}
        for key in SPLITS:
            self.split_combo.addItem(names[key], key)
        self.split_note = QLabel(self)
        self.split_note.setWordWrap(True)
        self.split_combo.currentIndexChanged.connect(self._on_split_combo_current_index_changed)
        self.split_combo.setCurrentIndex(max(0, SPLITS.index(split) if split in SPLITS else 0))
        self.quantize_check = QCheckBox(self.tr("Make a smaller, faster &int8 model"), self)
        self.quantize_check.setChecked(quantize)
        quantize_note = QLabel(self.tr("Kept only when it gives the same answer as the full model on at least "
                                       "98 % of the validation crops; otherwise the full model is saved."), self)
        quantize_note.setWordWrap(True)
        self._on_split_combo_current_index_changed(self.split_combo.currentIndex())
        for note in (self.split_note, quantize_note):  # a wrapped label in a form row only grows if Expanding
            note.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow(self._buddy(self.tr("Model &name"), self.name_edit), self.name_edit)
        form.addRow(self._buddy(self.tr("&Validation share"), self.val_spin), self.val_spin)
        form.addRow(self._buddy(self.tr("S&plit"), self.split_combo), self.split_combo)
        form.addRow("", self.split_note)
        form.addRow("", self.quantize_check)
        form.addRow("", quantize_note)
        self.optimise = OptimiseBox(self)  # Optuna search first (training.lab.search), hidden without the extra
        form.addRow("", self.optimise)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addStretch(1)

    def _buddy(self, text: str, widget: QWidget) -> QLabel:
        label = QLabel(text, self)
        label.setBuddy(widget)
        return label

    # ---- public ---------------------------------------------------------------------------
    def model_name(self) -> str:
        return self.name_edit.text().strip()

    def val_fraction(self) -> float:
        return self.val_spin.value() / 100.0

    def split(self) -> str:
        return str(self.split_combo.currentData())

    def quantize(self) -> bool:
        return self.quantize_check.isChecked()

    # ---- QWizardPage ----------------------------------------------------------------------
    def initializePage(self) -> None:
        if not self._name_edited:
            self.name_edit.setText(self._default_name())

    def cleanupPage(self) -> None:
        """Going back keeps what the user typed (QWizardPage would reset registered fields)."""

    def isComplete(self) -> bool:
        return bool(self.model_name())

    # ---- slots ----------------------------------------------------------------------------
    @Slot(str)
    def _on_name_edit_text_edited(self, _text: str) -> None:
        self._name_edited = True

    @Slot(int)
    def _on_split_combo_current_index_changed(self, _index: int) -> None:
        notes = {
            "auto": self.tr("By camera site when the folders hold two or more sites, else by sequence."),
            "site": self.tr("Each camera site goes wholly to training or to validation: the honest test of how "
                            "the model does at a site it has not seen."),
            "sequence": self.tr("Each sequence (shots seconds apart) goes wholly to one side, so near-identical "
                                "frames cannot flatter the score."),
        }
        self.split_note.setText(notes.get(self.split(), ""))
