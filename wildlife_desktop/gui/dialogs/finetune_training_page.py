"""Fine-tune wizard, page 3: the run itself — stage, progress, crops/s or epochs, Cancel.

Training starts when the page is shown (after the Options page's "Start training"). On
success the wizard moves on to the results; on cancel or failure the page says what happened
and offers to start over from the Data page.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget, QWizardPage

from ..finetune_controller import FinetuneController, TrainingProgress
from ..widgets.run_panel import format_eta
from .finetune_options_page import split_by_text


class FinetuneTrainingPage(QWizardPage):
    """Complete once the fine-tune finished and its model is registered."""

    def __init__(self, controller: FinetuneController, make_config: Callable[[], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Training"))
        self.setSubTitle(self.tr("The classifier's features are computed for every crop, then a new last layer "
                                 "learns your labels. Everything runs on this computer."))
        self.controller = controller
        self._make_config = make_config
        self.report: Any = None
        self.stage_names = {"features": self.tr("Reading the crops"), "training": self.tr("Training the new layer"),
                            "export": self.tr("Exporting and checking the model"),
                            "search": self.tr("Optimising the settings (cross-validation by site)")}

        self.stage_label = QLabel(self)
        self.stage_label.setObjectName("finetuneStage")
        font = QFont(self.stage_label.font())
        font.setBold(True)
        self.stage_label.setFont(font)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("finetuneProgress")
        self.progress.setTextVisible(True)
        self.rate_label = QLabel(self)
        self.rate_label.setObjectName("finetuneRate")
        self.rate_label.setWordWrap(True)  # a long stage message wraps instead of widening the wizard
        self.info_label = QLabel(self)
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("finetuneStatus")
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton(self.tr("&Cancel training"), self)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.restart_button = QPushButton(self.tr("&Back to the start"), self)
        self.restart_button.setToolTip(self.tr("Change the folders, the classifier or the options and try again"))
        self.restart_button.clicked.connect(self._on_restart_button_clicked)

        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        restart = QHBoxLayout()
        restart.addWidget(self.restart_button)
        restart.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.stage_label)
        lay.addLayout(bar)
        lay.addWidget(self.rate_label)
        lay.addSpacing(8)
        lay.addWidget(self.info_label)
        lay.addWidget(self.status_label)
        lay.addLayout(restart)
        lay.addStretch(1)

        controller.sig_started.connect(self._on_controller_started)
        controller.sig_progress.connect(self._on_controller_progress)
        controller.sig_finished.connect(self._on_controller_finished)
        controller.sig_cancelled.connect(self._on_controller_cancelled)
        controller.sig_failed.connect(self._on_controller_failed)
        controller.sig_running_changed.connect(self._on_controller_running_changed)
        self._on_controller_running_changed(False)

    # ---- QWizardPage ----------------------------------------------------------------------
    def initializePage(self) -> None:
        self.report = None
        self.info_label.clear()
        self.status_label.clear()
        self.rate_label.clear()
        self.stage_label.setText(self.tr("Loading the classifier…"))
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.progress.show()
        if not self.controller.start(self._make_config()):
            self._show_stopped(self.tr("Another fine-tune is still stopping; try again in a moment."))

    def isComplete(self) -> bool:
        return self.report is not None

    # ---- slots ----------------------------------------------------------------------------
    @Slot(object)
    def _on_controller_started(self, ev: Any) -> None:
        text = self.tr("Learning {0} labels from {1} crops; {2} crops held back for validation (split by {3}).").format(
            len(ev.labels), ev.n_train, ev.n_val, split_by_text(ev.split_by))
        if ev.dropped:
            text += " " + self.tr("Left out (too few crops): {0}.").format(", ".join(ev.dropped))
        self.info_label.setText(text)

    @Slot(object)
    def _on_controller_progress(self, prog: TrainingProgress) -> None:
        self.stage_label.setText(self.stage_names.get(prog.stage, prog.stage))
        self.progress.setRange(0, max(1, prog.total))
        self.progress.setValue(min(prog.done, prog.total))
        if prog.stage == "features":
            self.progress.setFormat(self.tr("{0} / {1} crops").format(prog.done, prog.total))
            rate = ""
            if prog.rate:
                rate = self.tr("{0:.1f} crops/s · about {1} left").format(prog.rate, format_eta(prog.eta_s))
        elif prog.stage == "training":  # the core ends the stage with done == total, also after an early stop
            done = prog.done >= prog.total
            self.progress.setFormat(self.tr("trained") if done else self.tr("epoch {0} / {1}").format(
                prog.done, prog.total))
            rate = self.tr("Stops early when the validation loss stops improving.")
        else:
            self.progress.setFormat(self.tr("{0} / {1}").format(prog.done, prog.total))
            rate = ""
        self.rate_label.setText(" · ".join(x for x in (rate, prog.message) if x))

    @Slot(object)
    def _on_controller_finished(self, report: Any) -> None:
        self.report = report
        self.stage_label.setText(self.tr("Done"))
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(self.tr("done"))
        self.rate_label.clear()
        self.status_label.setText(html.escape(self.tr("Registered as {0}.").format(report.model_id)))
        self.completeChanged.emit()
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            QTimer.singleShot(0, wizard.next)

    @Slot()
    def _on_controller_cancelled(self) -> None:
        self._show_stopped(self.tr("Training was cancelled. Nothing was registered."))

    @Slot(str)
    def _on_controller_failed(self, message: str) -> None:
        self._show_stopped(self.tr("Training stopped: {0}").format(message), error=True)

    @Slot(bool)
    def _on_controller_running_changed(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.cancel_button.setVisible(running)
        self.restart_button.setVisible(not running and self.report is None and self.status_label.text() != "")

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        self.controller.cancel()
        self.cancel_button.setEnabled(False)
        self.stage_label.setText(self.tr("Cancelling…"))

    @Slot()
    def _on_restart_button_clicked(self) -> None:
        wizard = self.wizard()
        if wizard is not None and not self.controller.running:
            wizard.restart()

    def _show_stopped(self, text: str, *, error: bool = False) -> None:
        self.stage_label.setText(self.tr("Stopped"))
        self.progress.hide()
        self.rate_label.clear()
        self.status_label.setText(f"<b>{html.escape(text)}</b>" if error else html.escape(text))
        self._on_controller_running_changed(self.controller.running)
