"""Thresholds from the review: per class, how precise the model was above each confidence.

Shows ``review.calibration.precision_by_class`` over the reviewer's decisions and the
suggested accept threshold for a target precision (``suggest_thresholds``). "Adopt" emits the
chosen threshold: the selected class's suggestion, else the strictest (highest) suggestion, so
every class meets the target.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...formats.decisions import ReviewDecision
from ...review.calibration import DISPLAY_STEPS as STEPS
from ...review.calibration import precision_by_class, strictest_threshold, suggest_thresholds


class ThresholdDialog(QDialog):
    """``sig_adopted(float)`` when the user adopts a threshold (0..1)."""

    sig_adopted = Signal(float)

    def __init__(self, decisions: Sequence[ReviewDecision], current_accept: float,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Thresholds from your review"))
        self._decisions = tuple(decisions)
        self.current_accept = current_accept
        self.target = QDoubleSpinBox(self)
        self.target.setRange(50.0, 100.0)
        self.target.setDecimals(1)
        self.target.setSuffix(" %")
        self.target.setValue(95.0)
        self.target.valueChanged.connect(self._on_target_value_changed)
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.suggestion_label = QLabel(self)
        self.suggestion_label.setWordWrap(True)
        note = QLabel(self.tr("Precision of the model above each confidence, from your decisions (accept = "
                              "right, reject or another label = wrong). You mostly see uncertain boxes, so "
                              "trust the numbers near and below the threshold in use. Current threshold: "
                              "{0:.0f} %.").format(current_accept * 100), self)
        note.setWordWrap(True)
        self.adopt_button = QPushButton(self.tr("Adopt"), self)
        self.adopt_button.clicked.connect(self._on_adopt_button_clicked)
        self.table.itemSelectionChanged.connect(self._update_suggestion)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Target precision"), self))
        top.addWidget(self.target)
        top.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.suggestion_label, 1)
        bottom.addWidget(self.adopt_button)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)
        lay.addLayout(bottom)
        lay.addWidget(buttons)
        self.resize(820, 420)
        self._fill()

    def _fill(self) -> None:
        curves = precision_by_class(self._decisions, STEPS)
        self._suggest = suggest_thresholds(self._decisions, self.target.value() / 100.0)
        headers = [self.tr("Class")] + [f"≥ {t * 100:.0f} %" for t in STEPS] + [self.tr("Suggested")]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(curves))
        for r, (label, pts) in enumerate(curves.items()):
            self.table.setItem(r, 0, QTableWidgetItem(label))
            for c, pt in enumerate(pts, start=1):
                text = "—" if pt.precision is None else f"{pt.precision * 100:.0f} % ({pt.support})"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
            s = self._suggest.get(label)
            sug = self.tr("not enough data") if s is None or s.threshold is None else f"{s.threshold * 100:.0f} %"
            self.table.setItem(r, len(headers) - 1, QTableWidgetItem(sug))
        self.table.resizeColumnsToContents()
        self._update_suggestion()

    def suggested_threshold(self) -> float | None:
        """The threshold "Adopt" would set (see the module docstring)."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if rows:
            label = self.table.item(rows[0].row(), 0).text()
            s = self._suggest.get(label)
            return s.threshold if s is not None else None
        return strictest_threshold(self._suggest)

    def _update_suggestion(self) -> None:
        t = self.suggested_threshold()
        self.adopt_button.setEnabled(t is not None)
        if t is None:
            self.suggestion_label.setText(self.tr("No suggestion yet: decide more crops (5 per class or more)."))
        else:
            self.suggestion_label.setText(self.tr("Suggested accept threshold: {0:.0f} % (detections at or above "
                                                  "it are accepted without asking)").format(t * 100))

    def _on_target_value_changed(self, _value: float) -> None:
        self._fill()

    def _on_adopt_button_clicked(self) -> None:
        t = self.suggested_threshold()
        if t is not None:
            self.sig_adopted.emit(t)
            self.accept()
