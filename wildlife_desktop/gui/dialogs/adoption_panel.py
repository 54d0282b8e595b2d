"""The fine-tune wizard's last word: compare the new version with the production one, then adopt it (or not).

Shown under the results. A first version of a name is production at once (nothing to compare
with). A later version is a *candidate* (staging): the panel runs
:func:`training.lab.evaluate.compare_models` off the GUI thread (both installed packs, as Run AI
runs them, on the verified crops neither was trained on) and shows accuracy and macro-F1 with
their 95 % bootstrap intervals, per-label precision/recall/F1 and both confusion matrices side by
side, and the verdict. **Adopt (make production)** appears only with that comparison on screen.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.paths import AppPaths
from ..widgets.confusion_matrix import ConfusionMatrixWidget


class AdoptionPanel(QWidget):
    """``set_report(paths, report)`` after a run; ``sig_adopted(str model_id)`` once promoted."""

    sig_adopted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("finetuneAdoption")
        self.paths: AppPaths | None = None
        self.report: Any = None
        self.comparison: Any = None
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 8, self)
        self.table.setObjectName("adoptionTable")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.candidate_matrix = ConfusionMatrixWidget(self)
        self.production_matrix = ConfusionMatrixWidget(self)
        self.matrix_titles = (QLabel(self), QLabel(self))
        matrices = QHBoxLayout()
        for title, matrix in zip(self.matrix_titles, (self.candidate_matrix, self.production_matrix), strict=True):
            col = QVBoxLayout()
            col.addWidget(title)
            col.addWidget(matrix, 1)
            matrices.addLayout(col, 1)
        self.verdict_label = QLabel(self)
        self.verdict_label.setWordWrap(True)
        self.adopt_button = QPushButton(self.tr("&Adopt (make production)"), self)
        self.adopt_button.setObjectName("adoptButton")
        self.adopt_button.setToolTip(self.tr("Run AI will use this version whenever this model is chosen; "
                                             "Review ▸ Model versions… rolls it back."))
        self.adopt_button.clicked.connect(self._on_adopt_button_clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.status_label)
        lay.addWidget(self.table, 1)
        lay.addLayout(matrices, 1)
        lay.addWidget(self.verdict_label)
        lay.addWidget(self.adopt_button, 0, Qt.AlignmentFlag.AlignRight)
        self._show_comparison_widgets(False)

    def _show_comparison_widgets(self, visible: bool) -> None:
        for w in (self.table, self.candidate_matrix, self.production_matrix, *self.matrix_titles, self.verdict_label,
                  self.adopt_button):
            w.setVisible(visible)

    # ---- public ---------------------------------------------------------------------------
    def set_report(self, paths: AppPaths, report: Any) -> None:
        """Show the new version's stage; for a candidate, start the comparison with the production version."""
        self.paths, self.report, self.comparison = paths, report, None
        self._show_comparison_widgets(False)
        name = html.escape(report.model_id.rsplit("-v", 1)[0])
        if getattr(report, "stage", "none") == "production":
            self.status_label.setText(self.tr(
                "<b>{0}</b> is the first version of <b>{1}</b>: it is the production version, used by Run AI "
                "when <b>{1}</b> is chosen.").format(html.escape(report.model_id), name))
            return
        production = getattr(report, "production_id", None)
        if not production:
            self.status_label.setText(self.tr("<b>{0}</b> is a candidate; no production version to compare with.")
                                      .format(html.escape(report.model_id)))
            return
        self.status_label.setText(self.tr("Comparing <b>{0}</b> with the production version <b>{1}</b> on verified "
                                          "crops neither was trained on…").format(
            html.escape(report.model_id), html.escape(production)))
        from ...training.lab.evaluate import compare_models
        from ..workers import run_in_pool

        folders = tuple(report_folders(report))
        run_in_pool(lambda: compare_models(report.model_id, production, paths=paths, folders=folders or None),
                    self.show_comparison, self._on_comparison_failed, self)

    def show_comparison(self, comp: Any) -> None:
        """Fill the side-by-side comparison and offer the adoption (it is on screen now)."""
        self.comparison = comp
        cand, prod = comp.candidate, comp.production
        self.status_label.setText(self.tr(
            "<b>{0}</b> (candidate) vs <b>{1}</b> (production) on {2} held-out crops from {3} camera site(s); "
            "95 % bootstrap intervals.").format(html.escape(cand.model_id), html.escape(prod.model_id if prod else "—"),
                                                comp.n_crops, len(comp.sites)))
        self._fill_table(comp)
        self.matrix_titles[0].setText(self.tr("Candidate {0}").format(cand.model_id))
        self.candidate_matrix.set_matrix(cand.metrics.labels, cand.metrics.confusion)
        if prod is not None:
            self.matrix_titles[1].setText(self.tr("Production {0}").format(prod.model_id))
            self.production_matrix.set_matrix(prod.metrics.labels, prod.metrics.confusion)
        self.verdict_label.setText(comp.verdict())
        self._show_comparison_widgets(True)
        self.production_matrix.setVisible(prod is not None)
        self.matrix_titles[1].setVisible(prod is not None)
        self.adopt_button.setVisible(prod is not None)
        self.adopt_button.setEnabled(prod is not None)

    def _fill_table(self, comp: Any) -> None:
        cand, prod = comp.candidate, comp.production
        heads = [self.tr("Label"), self.tr("P (new)"), self.tr("R (new)"), self.tr("F1 (new)"),
                 self.tr("P (prod.)"), self.tr("R (prod.)"), self.tr("F1 (prod.)"), self.tr("Support")]
        self.table.clear()
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        rows: list[list[str]] = [
            [self.tr("Accuracy"), cand.accuracy.text(), "", "", prod.accuracy.text() if prod else "", "", "",
             str(comp.n_crops)],
            [self.tr("Macro-F1"), "", "", cand.macro_f1.text(), "", "", prod.macro_f1.text() if prod else "", ""],
        ]
        for i, c in enumerate(cand.metrics.per_class):
            if not c.support and not any(r[i] for r in cand.metrics.confusion):
                continue
            q = prod.metrics.per_class[i] if prod else None
            rows.append([c.label, f"{c.precision:.2f}", f"{c.recall:.2f}", cand.per_class[i]["f1"].text(".2f"),
                         f"{q.precision:.2f}" if q else "", f"{q.recall:.2f}" if q else "",
                         prod.per_class[i]["f1"].text(".2f") if prod else "", str(c.support)])
        self.table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, col, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def adopt(self) -> str:
        """Promote the compared candidate; returns the message shown."""
        from ...core.errors import WildlifeError
        from ...runtime import stages
        from ...runtime.store import ModelStore

        if self.comparison is None or self.paths is None:
            return ""
        store = ModelStore(self.paths)
        try:
            v = stages.promote(store.root, [m.id for m in store.list()], self.comparison.candidate.model_id)
        except WildlifeError as exc:
            text = str(exc)
        else:
            text = self.tr("<b>{0}</b> is now the production version: Run AI uses it when <b>{1}</b> is chosen "
                           "(Review ▸ Model versions… rolls it back).").format(html.escape(v.model_id),
                                                                                html.escape(v.name))
            self.adopt_button.setEnabled(False)
            self.sig_adopted.emit(v.model_id)
        self.verdict_label.setText(text)
        return text

    # ---- slots ----------------------------------------------------------------------------
    @Slot()
    def _on_adopt_button_clicked(self) -> None:
        self.adopt()

    def _on_comparison_failed(self, exc: BaseException) -> None:
        self.status_label.setText(self.tr("No comparison with the production version, so no adoption from here: "
                                          "{0}").format(html.escape(str(exc))))


def report_folders(report: Any) -> list[str]:
    """The folders a run trained on (from its saved configuration), for the comparison."""
    import json

    try:
        doc = json.loads(report.report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return []
    return [str(f) for f in doc.get("config", {}).get("folders", [])]
