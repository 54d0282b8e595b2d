"""The window's thresholds: the user's, per image folder and per model (pipeline/view_settings.py).

The sliders show the thresholds stored for the open folder and the model of the shown results
(else the selected detector), or that model's typical ones. Only a change of folder or of model
moves them; an edit is stored and written SETTINGS_SAVE_MS after the slider stops, on the pool.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..pipeline.view_settings import ViewSettingsStore, ViewThresholds, model_key
from .view_state import Thresholds
from .workers import run_in_pool

logger = logging.getLogger(__name__)

SETTINGS_SAVE_MS = 500  # the folder's thresholds are written this long after the slider stops


class FolderThresholds(QObject):
    """Restores and stores the review pane's thresholds for ``controller``'s folder."""

    sig_status = Signal(str)  # a failed save

    def __init__(self, config: Path, controller: Any, run_panel: Any, review: Any, parent: QObject) -> None:
        super().__init__(parent)
        self.store = ViewSettingsStore(config)
        self.controller, self.run_panel, self.review = controller, run_panel, review
        self.key: str | None = None  # the model whose thresholds the sliders show
        self._doc: dict[str, Any] | None = None  # not yet written
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SETTINGS_SAVE_MS)
        self.timer.timeout.connect(self.save)

    def current_model_key(self) -> str | None:
        """The model whose thresholds apply: the shown results' model, else the selected detector."""
        res = self.controller.results
        return model_key(res.layer) if res is not None else self.run_panel.detector_id()

    def default_for(self, key: str) -> Thresholds:
        """A folder's starting thresholds for a model: its manifest's (or the imported file's) typical ones."""
        res = self.controller.results
        if res is not None and model_key(res.layer) == key:
            return Thresholds(res.layer.typical_threshold, res.layer.typical_classification_threshold)
        det = self.run_panel.manifest(key)
        cls = self.run_panel.manifest(self.run_panel.classifier_id())
        return Thresholds(float(det.typical_threshold) if det is not None else Thresholds().detection,
                          float(cls.typical_threshold) if cls is not None else Thresholds().classification)

    def for_detector(self, detector_id: str) -> Thresholds:
        """The thresholds a run of ``detector_id`` on the open folder uses (what the user chose for it)."""
        if detector_id == self.key:
            return self.review.thresholds
        folder = self.controller.folder
        stored = self.store.get(folder, detector_id) if folder is not None else None
        if stored is not None:
            return Thresholds(stored.detection, stored.classification)
        return self.default_for(detector_id)

    def restore(self) -> None:
        """Show the folder's thresholds for the current model (stored, else the model's defaults).

        Only a change of folder or of model moves the sliders; a run ending, a cancel or an import
        of the same model leave them where the user put them.
        """
        key = self.current_model_key()
        folder = self.controller.folder
        if folder is None or key is None or key == self.key:
            return
        stored = self.store.get(folder, key)
        th = Thresholds(stored.detection, stored.classification) if stored is not None else self.default_for(key)
        self.key = key
        self.review.set_thresholds(th)

    @Slot(object)
    def edited(self, th: Thresholds) -> None:
        """The user moved a slider: kept for this folder and model, written when the slider stops."""
        key = self.key or self.current_model_key()
        folder = self.controller.folder
        if folder is None or key is None:
            return
        self.key = key
        self._doc = self.store.put(folder, key, ViewThresholds(th.detection, th.classification))
        self.timer.start()

    @Slot()
    def save(self, *, wait: bool = False) -> None:
        doc, self._doc = self._doc, None
        if doc is None:
            return
        store = self.store
        if wait:
            try:
                store.save(doc)
            except OSError as exc:  # SidecarWriteError is an OSError too: a full disk must not stop closing
                logger.warning("cannot save the view settings: %s", exc)
            return
        run_in_pool(lambda: store.save(doc), lambda _r: None, lambda exc: self.sig_status.emit(
            self.tr("Cannot save the thresholds: {0}").format(exc)), self)

    def flush(self, *, wait: bool = False) -> None:
        """Write an edit that waits for the timer now."""
        if self.timer.isActive():
            self.timer.stop()
        self.save(wait=wait)
