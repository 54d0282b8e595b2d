"""Review ▸ Fine-tune classifier…: Data → Options → Training → Results.

The wizard only gathers a ``training.finetune.FinetuneConfig`` and shows what the run reports;
the run itself is :func:`training.finetune.run_finetune` in :class:`FinetuneController`'s thread.
Closing the wizard while training cancels the run and closes once it has stopped (the core
checks the cancel between crops and epochs, and registers nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QWidget, QWizard

from ...core.paths import AppPaths
from ..finetune_controller import FinetuneController
from ..widgets.run_panel import short_model_name
from .finetune_data_page import FinetuneDataPage
from .finetune_options_page import FinetuneOptionsPage
from .finetune_results_page import FinetuneResultsPage
from .finetune_training_page import FinetuneTrainingPage

if TYPE_CHECKING:
    from ...training.finetune import FinetuneConfig


def _config_defaults() -> dict[str, Any]:
    from ...training.finetune import FinetuneConfig

    return {f.name: f.default for f in fields(FinetuneConfig)}


def installed_classifiers(paths: AppPaths) -> list[Any]:
    """Installed classification packs (``ModelManifest``), the default fine-tuning base first (the wizard's choice).

    The default base is the stored choice, else MobileNetV2 ImageNet when installed
    (:func:`training.finetune.registry.default_base_id`); the others follow as the run panel lists them.
    """
    from ...runtime.store import ModelStore
    from ...training.finetune.registry import default_base_id

    store = ModelStore(paths)
    models = [m for m in store.list() if m.task == "classification"]
    first = default_base_id(store)
    return sorted(models, key=lambda m: m.id != first)  # stable: the rest keep their order


class FinetuneWizard(QWizard):
    """Signals: ``sig_model_registered(str model_id)`` as soon as a fine-tuned model is registered."""

    sig_model_registered = Signal(str)

    def __init__(self, paths: AppPaths, folders: Sequence[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fine-tune a classifier"))
        self.setObjectName("finetuneWizard")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.paths = paths
        self._close_when_idle = False
        defaults = _config_defaults()
        self.controller = FinetuneController(paths, self)
        self.data_page = FinetuneDataPage(self.controller, installed_classifiers(paths), folders,
                                          int(defaults["min_per_class"]), self)
        self.options_page = FinetuneOptionsPage(self.default_name, float(defaults["val_fraction"]),
                                                str(defaults["split"]), bool(defaults["quantize"]), self)
        self.training_page = FinetuneTrainingPage(self.controller, self.config, self)
        self.results_page = FinetuneResultsPage(self)
        for page in (self.data_page, self.options_page, self.training_page, self.results_page):
            self.addPage(page)
        self.controller.sig_finished.connect(self._on_controller_finished)
        self.results_page.adoption.sig_adopted.connect(self.sig_model_registered)
        self.controller.sig_cancelled.connect(self._close_if_asked)
        self.controller.sig_failed.connect(lambda _message: self._close_if_asked())
        self.resize(920, 660)
        self.setMinimumSize(720, 520)

    def default_name(self) -> str:
        """``"<base short name> – <first folder's name>"``."""
        base = self.data_page.base_model()
        folders = self.data_page.folders()
        # the base's short name: "MobileNetV2 ImageNet", not its "(feature extractor; …)" note
        parts = [short_model_name(base) if base is not None else self.tr("Classifier")]
        if folders:
            parts.append(folders[0].name)
        return " – ".join(parts)

    def config(self) -> FinetuneConfig:
        from ...training.finetune import FinetuneConfig

        base = self.data_page.base_model()
        return FinetuneConfig(folders=self.data_page.folders(), base_model_id=base.id if base is not None else "",
                              name=self.options_page.model_name(), val_fraction=self.options_page.val_fraction(),
                              split=self.options_page.split(),  # type: ignore[arg-type]
                              min_per_class=self.data_page.min_per_class, quantize=self.options_page.quantize(),
                              search_trials=self.options_page.optimise.trials(),
                              search_time_s=self.options_page.optimise.time_budget_s())

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel a run and stop the worker thread, waiting for it (application exit)."""
        return self.controller.shutdown(timeout_ms)

    # ---- QDialog --------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Close; while training, cancel first and close when the run has stopped."""
        if self.controller.running:
            self._close_when_idle = True
            self.controller.cancel()
            self.training_page.stage_label.setText(self.tr("Cancelling, then closing…"))
            return
        self.controller.shutdown()
        super().done(result)

    # ---- slots ----------------------------------------------------------------------------
    @Slot(object)
    def _on_controller_finished(self, report: Any) -> None:
        self.results_page.set_report(report)
        self.results_page.adoption.set_report(self.paths, report)
        self.sig_model_registered.emit(report.model_id)
        self._close_if_asked()

    @Slot()
    def _close_if_asked(self) -> None:
        if self._close_when_idle:
            self._close_when_idle = False
            self.reject()
