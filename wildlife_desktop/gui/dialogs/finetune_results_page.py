"""Fine-tune wizard, page 4: how the new classifier did on the held-back crops.

Every number comes from the ``FinetuneReport`` (no metric is computed here): accuracy and
macro-F1 of the new head vs the nearest-centroid baseline (same features, same crops) vs the
base classifier on the same crops when its labels cover them, per-label
precision/recall/F1/support, the confusion matrix, the registered model and its report.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ..widgets.confusion_matrix import ConfusionMatrixWidget
from ..widgets.warning_banner import WarningBannerWidget
from .adoption_panel import AdoptionPanel
from .finetune_options_page import split_by_text

RANDOM_WEIGHTS_WARNING = "random weights — benchmark only"


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def _num(x: float) -> str:
    return f"{x:.2f}"


class FinetuneResultsPage(QWizardPage):
    """``set_report(report)`` fills the page; the wizard calls it when the run finished."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Results"))
        self.setSubTitle(self.tr("Measured on the validation crops, which the new classifier never trained on."))
        self.report: Any = None
        self.banner = WarningBannerWidget(self)
        self.banner.setObjectName("finetuneRandomBanner")

        self.scores = QGridLayout()
        self.scores.setHorizontalSpacing(24)
        self.accuracy_label = self._value_label(bold=True)
        self.macro_f1_label = self._value_label(bold=True)
        self.base_accuracy_label = self._value_label()
        self.base_macro_f1_label = self._value_label()
        self.base_row_label = QLabel(self.tr("Base classifier, same crops"), self)
        self.centroid_accuracy_label = self._value_label()
        self.centroid_macro_f1_label = self._value_label()
        self.centroid_row_label = QLabel(self.tr("Nearest centroid (baseline), same crops"), self)
        self.centroid_row_label.setToolTip(self.tr(
            "Each crop gets the label whose average training feature is nearest: the simplest use of the same "
            "features. The new classifier should do at least as well."))
        for c, text in enumerate((self.tr("Accuracy"), self.tr("Macro-F1")), start=1):
            head = QLabel(text, self)
            head.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.scores.addWidget(head, 0, c)
        self.scores.addWidget(QLabel(self.tr("New classifier"), self), 1, 0)
        self.scores.addWidget(self.accuracy_label, 1, 1)
        self.scores.addWidget(self.macro_f1_label, 1, 2)
        self.scores.addWidget(self.centroid_row_label, 2, 0)
        self.scores.addWidget(self.centroid_accuracy_label, 2, 1)
        self.scores.addWidget(self.centroid_macro_f1_label, 2, 2)
        self.scores.addWidget(self.base_row_label, 3, 0)
        self.scores.addWidget(self.base_accuracy_label, 3, 1)
        self.scores.addWidget(self.base_macro_f1_label, 3, 2)
        self.scores.setColumnStretch(3, 1)
        self.no_base_label = QLabel(self.tr("No comparison with the base classifier: its labels do not include all "
                                            "of these labels."), self)
        self.no_base_label.setWordWrap(True)
        self.split_label = QLabel(self)
        self.split_label.setWordWrap(True)

        self.class_table = QTableWidget(0, 5, self)
        self.class_table.setObjectName("finetunePerClass")
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.class_table.setSortingEnabled(False)
        self.matrix = ConfusionMatrixWidget(self)
        per_class = self._titled(self.tr("&Per label"), self.class_table, self.tr(
            "Precision: of the crops it called X, the share that were X. Recall: of the X crops, the share it "
            "found. Support: X crops in validation."))
        confusion = self._titled(self.tr("&Confusion matrix"), self.matrix, self.tr(
            "Rows: the verified label · columns: the new classifier's label. Blue: right; orange: mistakes."))
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(per_class)
        self.splitter.addWidget(confusion)

        self.model_label = QLabel(self)
        self.model_label.setObjectName("finetuneModelId")
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report_label = QLabel(self)
        self.report_label.setWordWrap(True)
        self.report_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton(self.tr("&Open report folder"), self)
        self.open_button.clicked.connect(self._on_open_button_clicked)
        where = QHBoxLayout()
        where.addWidget(self.report_label, 1)
        where.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignTop)

        lay = QVBoxLayout(self)
        lay.addWidget(self.banner)
        lay.addLayout(self.scores)
        lay.addWidget(self.no_base_label)
        lay.addWidget(self.split_label)
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.model_label)
        lay.addLayout(where)
        self.adoption = AdoptionPanel(self)  # vs the production version; "Adopt" only with the comparison shown
        lay.addWidget(self.adoption, 1)

    def _value_label(self, *, bold: bool = False) -> QLabel:
        label = QLabel(self)
        label.setAlignment(Qt.AlignmentFlag.AlignRight)
        if bold:
            font = QFont(label.font())
            font.setBold(True)
            label.setFont(font)
        return label

    def _titled(self, title: str, view: QWidget, note: str) -> QWidget:
        box = QWidget(self)
        label = QLabel(title, box)
        label.setBuddy(view)
        font = QFont(label.font())
        font.setBold(True)
        label.setFont(font)
        hint = QLabel(note, box)
        hint.setWordWrap(True)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(label)
        lay.addWidget(hint)
        lay.addWidget(view, 1)
        return box

    # ---- public ---------------------------------------------------------------------------
    def set_report(self, report: Any) -> None:
        self.report = report
        m, base = report.metrics, report.base_metrics
        if report.random_weights:
            self.banner.set_message(self.tr(RANDOM_WEIGHTS_WARNING) + self.tr(
                ": the base classifier is a twin with random weights, so these numbers and this model's labels "
                "are meaningless."))
        else:
            self.banner.set_message("")
        self.accuracy_label.setText(_pct(m.accuracy))
        self.macro_f1_label.setText(_num(m.macro_f1))
        for w in (self.base_row_label, self.base_accuracy_label, self.base_macro_f1_label):
            w.setVisible(base is not None)
        self.no_base_label.setVisible(base is None)
        centroid = getattr(report, "centroid_metrics", None)
        for w in (self.centroid_row_label, self.centroid_accuracy_label, self.centroid_macro_f1_label):
            w.setVisible(centroid is not None)
        if centroid is not None:
            self.centroid_accuracy_label.setText(_pct(centroid.accuracy))
            self.centroid_macro_f1_label.setText(_num(centroid.macro_f1))
        if base is not None:
            self.base_accuracy_label.setText(_pct(base.accuracy))
            self.base_macro_f1_label.setText(_num(base.macro_f1))
        split = self.tr("{0} validation crops, {1} training crops, split by {2}.").format(
            report.n_val, report.n_train, split_by_text(report.split_by))
        if report.dropped:
            split += " " + self.tr("Left out (fewer verified crops than the minimum): {0}.").format(
                ", ".join(report.dropped))
        self.split_label.setText(split)
        self._fill_class_table(m, base)
        self.matrix.set_matrix(m.labels, m.confusion)
        self.model_label.setText(self.tr("Registered as <b>{0}</b> (version {1}): choose it as the Classifier in "
                                         "the run panel. {2}").format(
            html.escape(report.model_id), report.version, html.escape(self._quantize_text(report))))
        self.report_label.setText(self.tr("Report: {0}").format(report.report_path))

    def _quantize_text(self, report: Any) -> str:
        if report.quantized:
            text = self.tr("Saved as a small int8 model")
        else:
            text = self.tr("Saved as a full-precision model")
        return f"{text} ({report.quantize_note})." if report.quantize_note else f"{text}."

    def _fill_class_table(self, m: Any, base: Any) -> None:
        headers = [self.tr("Label"), self.tr("Precision"), self.tr("Recall"), self.tr("F1"), self.tr("Support")]
        base_f1 = {c.label: c.f1 for c in base.per_class} if base is not None else {}
        if base is not None:
            headers.append(self.tr("Base F1"))
        self.class_table.clear()
        self.class_table.setColumnCount(len(headers))
        self.class_table.setHorizontalHeaderLabels(headers)
        self.class_table.setRowCount(len(m.per_class))
        for r, c in enumerate(m.per_class):
            values = [_num(c.precision), _num(c.recall), _num(c.f1), str(c.support)]
            if base is not None:
                values.append(_num(base_f1[c.label]) if c.label in base_f1 else "—")
            self.class_table.setItem(r, 0, QTableWidgetItem(c.label))
            for col, text in enumerate(values, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.class_table.setItem(r, col, item)
        header = self.class_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(headers)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)

    # ---- QWizardPage ----------------------------------------------------------------------
    def isComplete(self) -> bool:
        return self.report is not None

    @Slot()
    def _on_open_button_clicked(self) -> None:
        if self.report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report.report_path.parent)))
