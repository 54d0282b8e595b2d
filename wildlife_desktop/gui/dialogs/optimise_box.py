"""The fine-tune wizard's "Optimise" option: search the training settings first (Optuna), within a budget.

Checked, the run first tries ``trials`` settings (learning rate, weight decay, class balancing,
mirrored crops; the defaults first) by site-aware cross-validation of the crops' features, within
the time budget, and trains the new layer with the best (:mod:`training.lab.search`). Without
Optuna (the ``[lab]`` extra) the option is disabled and says what to install.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget


class OptimiseBox(QWidget):
    """``trials()`` (0 = no search) and ``time_budget_s()`` for ``FinetuneConfig.search_trials/search_time_s``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ...training.lab import search

        self.available = search.available()
        self.check = QCheckBox(self.tr("&Optimise the settings first"), self)
        self.check.setObjectName("finetuneOptimise")
        self.trials_spin = QSpinBox(self)
        self.trials_spin.setRange(2, 200)
        self.trials_spin.setValue(20)
        self.trials_spin.setSuffix(self.tr(" trials"))
        self.minutes_spin = QSpinBox(self)
        self.minutes_spin.setRange(1, 120)
        self.minutes_spin.setValue(2)
        self.minutes_spin.setPrefix(self.tr("at most "))
        self.minutes_spin.setSuffix(self.tr(" min"))
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        if self.available:
            self.note.setText(self.tr("Tries learning rates, weight decay, class balancing and mirrored crops, "
                                      "scored by holding out whole camera sites in turn; the default settings are "
                                      "tried first, so the result is never worse than them on that score."))
        else:
            self.note.setText(self.tr("Not available: {0}").format(search.unavailable_reason()))
        self.check.setEnabled(self.available)
        self.check.toggled.connect(self._sync)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check)
        row.addWidget(self.trials_spin)
        row.addWidget(self.minutes_spin)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.note)
        self._sync(False)

    def _sync(self, checked: bool) -> None:
        self.trials_spin.setEnabled(checked)
        self.minutes_spin.setEnabled(checked)

    def trials(self) -> int:
        return self.trials_spin.value() if self.available and self.check.isChecked() else 0

    def time_budget_s(self) -> float:
        return float(self.minutes_spin.value() * 60) if self.trials() else 0.0
