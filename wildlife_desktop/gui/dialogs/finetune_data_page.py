"""Fine-tune wizard, page 1: which folders to learn from, which classifier to start from, and
how many verified crops each label has (counted by ``collect_examples`` on the pool)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ..finetune_controller import FinetuneController

MAX_SKIPPED_SHOWN = 12


class FinetuneDataPage(QWizardPage):
    """Complete once a base classifier is chosen and at least two labels have enough crops."""

    def __init__(self, controller: FinetuneController, models: Sequence[Any], folders: Sequence[Path],
                 min_per_class: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Data"))
        self.setSubTitle(self.tr("A new classifier learns your species from the crops you verified (Verify, F2). "
                                 "Accepted and relabelled boxes count; rejected, empty and unknown ones do not."))
        self.controller = controller
        self.min_per_class = min_per_class
        self.examples: Any = None  # training.finetune.ExampleSet of the listed folders, once counted
        self._previewed: tuple[Path, ...] | None = None

        self.folder_list = QListWidget(self)
        self.folder_list.setObjectName("finetuneFolders")
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.folder_list.setMaximumHeight(96)
        for f in folders:
            self._add_folder_item(Path(f))
        self.add_button = QPushButton(self.tr("&Add folder…"), self)
        self.remove_button = QPushButton(self.tr("&Remove"), self)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.folder_list.itemSelectionChanged.connect(self._update_buttons)

        self.base_combo = QComboBox(self)
        self.base_combo.setObjectName("finetuneBase")
        for m in models:
            suffix = self.tr("  (random weights)") if m.random_weights else ""
            self.base_combo.addItem(f"{m.name} {m.version}{suffix}", m.id)
        self._models = {m.id: m for m in models}
        self.base_combo.currentIndexChanged.connect(lambda _i: self.completeChanged.emit())
        self.no_base_label = QLabel(self.tr("No classifier is installed. Fine-tuning starts from an installed "
                                            "classification pack: install MobileNetV2 ImageNet with "
                                            "'wildlife-desktop models install recommended', or import one with "
                                            "File ▸ Import model pack…"), self)
        self.no_base_label.setWordWrap(True)
        self.no_base_label.setVisible(not models)

        self.counts_table = QTableWidget(0, 3, self)
        self.counts_table.setObjectName("finetuneCounts")
        self.counts_table.setHorizontalHeaderLabels([self.tr("Label"), self.tr("Verified crops"), self.tr("Used")])
        self.counts_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.counts_table.verticalHeader().setVisible(False)
        self.counts_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.counts_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label = QLabel(self)  # not enough data / left-out classes / errors
        self.message_label.setObjectName("finetuneDataMessage")
        self.message_label.setWordWrap(True)

        folders_label = QLabel(self.tr("&Folders to learn from"), self)
        folders_label.setBuddy(self.folder_list)
        base_label = QLabel(self.tr("&Start from classifier"), self)
        base_label.setBuddy(self.base_combo)
        crops_label = QLabel(self.tr("&Verified crops per label"), self)
        crops_label.setBuddy(self.counts_table)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_list, 1)
        folder_row.addLayout(buttons)
        base_row = QHBoxLayout()
        base_row.addWidget(base_label)
        base_row.addWidget(self.base_combo, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(folders_label)
        lay.addLayout(folder_row)
        lay.addLayout(base_row)
        lay.addWidget(self.no_base_label)
        lay.addWidget(crops_label)
        lay.addWidget(self.counts_table, 1)
        lay.addWidget(self.summary_label)
        lay.addWidget(self.message_label)

        controller.sig_examples.connect(self._on_controller_examples)
        controller.sig_examples_failed.connect(self._on_controller_examples_failed)
        self._update_buttons()

    # ---- public ---------------------------------------------------------------------------
    def folders(self) -> tuple[Path, ...]:
        return tuple(Path(self.folder_list.item(i).data(Qt.ItemDataRole.UserRole))
                     for i in range(self.folder_list.count()))

    def base_model(self) -> Any:
        """The chosen ``ModelManifest``, or None when no classifier is installed."""
        return self._models.get(self.base_combo.currentData())

    def usable_labels(self) -> tuple[str, ...]:
        """Labels with at least ``min_per_class`` verified crops (the others are left out)."""
        if self.examples is None:
            return ()
        return tuple(lab for lab, n in self.examples.counts().items() if n >= self.min_per_class)

    def refresh(self) -> None:
        """Count the verified crops of the listed folders again (off the GUI thread)."""
        folders = self.folders()
        self._previewed = folders
        self.examples = None
        self.counts_table.setRowCount(0)
        self.message_label.clear()
        if not folders:
            self.summary_label.setText(self.tr("Add a folder with verified crops."))
            self.completeChanged.emit()
            return
        self.summary_label.setText(self.tr("Counting verified crops…"))
        self.completeChanged.emit()
        self.controller.preview(folders)

    # ---- QWizardPage ----------------------------------------------------------------------
    def initializePage(self) -> None:
        if self._previewed != self.folders():
            self.refresh()

    def isComplete(self) -> bool:
        return self.base_model() is not None and len(self.usable_labels()) >= 2

    # ---- slots ----------------------------------------------------------------------------
    @Slot(object)
    def _on_controller_examples(self, examples: Any) -> None:
        self.examples = examples
        counts: dict[str, int] = examples.counts()
        warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.counts_table.setRowCount(len(counts))
        for r, (label, n) in enumerate(counts.items()):
            used = n >= self.min_per_class
            count_item = QTableWidgetItem(str(n))
            count_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            status = QTableWidgetItem(self.tr("yes") if used else self.tr("left out: fewer than {0}").format(
                self.min_per_class))
            if not used:
                status.setIcon(warn)
            self.counts_table.setItem(r, 0, QTableWidgetItem(label))
            self.counts_table.setItem(r, 1, count_item)
            self.counts_table.setItem(r, 2, status)
        n_folders = len(self.folders())
        summary = self.tr("%n verified crop(s)", "", len(examples.examples)) + " " + self.tr(
            "in %n label(s)", "", len(counts)) + " " + self.tr("from %n folder(s).", "", n_folders)
        if examples.skipped:
            summary += " " + self.tr("%n decision(s) could not be used (hover for why).", "", len(examples.skipped))
            shown = list(examples.skipped[:MAX_SKIPPED_SHOWN])
            if len(examples.skipped) > MAX_SKIPPED_SHOWN:
                shown.append(self.tr("… and {0} more").format(len(examples.skipped) - MAX_SKIPPED_SHOWN))
            self.summary_label.setToolTip("\n".join(shown))
        else:
            self.summary_label.setToolTip("")
        self.summary_label.setText(summary)
        self._show_message(counts)
        self.completeChanged.emit()

    @Slot(str)
    def _on_controller_examples_failed(self, message: str) -> None:
        self.examples = None
        self.summary_label.setText(self.tr("The verified crops could not be read: {0}").format(message))
        self.completeChanged.emit()

    def _show_message(self, counts: dict[str, int]) -> None:
        left_out = [lab for lab, n in counts.items() if n < self.min_per_class]
        if len(counts) - len(left_out) < 2:
            self.message_label.setText(self.tr(
                "<b>Not enough verified crops yet.</b> Verify some crops first (F2): a new classifier needs at "
                "least {0} verified crops of each of two or more labels.").format(self.min_per_class))
        elif left_out:
            self.message_label.setText(self.tr(
                "%n label(s) with fewer than {0} verified crops will be left out: {1}.", "", len(left_out)).format(
                self.min_per_class, ", ".join(left_out)))
        else:
            self.message_label.clear()

    def _add_folder_item(self, folder: Path) -> None:
        item = QListWidgetItem(str(folder))
        item.setData(Qt.ItemDataRole.UserRole, str(folder))
        item.setToolTip(str(folder))
        self.folder_list.addItem(item)

    @Slot()
    def _on_add_button_clicked(self) -> None:
        start = str(self.folders()[-1]) if self.folders() else str(Path.home())
        d = QFileDialog.getExistingDirectory(self, self.tr("Add a folder with verified crops"), start)
        if d and Path(d) not in self.folders():
            self._add_folder_item(Path(d))
            self.refresh()

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))
        self.refresh()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.folder_list.selectedItems()))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Delete and self.folder_list.hasFocus() and self.folder_list.selectedItems():
            self._on_remove_button_clicked()
            return
        super().keyPressEvent(event)
