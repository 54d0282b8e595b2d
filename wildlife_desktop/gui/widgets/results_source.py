"""One line above the grid: where the results on screen came from, and whether the sidecars are current.

Field users must never wonder which model drew the boxes: the line names the model and version
(or the imported file and the detector named in it), the date, and whether the results were
made here or imported. A read-only folder (a locked card) says where its outputs went.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget


def describe_source(layer: Any, models: dict[str, Any]) -> str:
    """The results' origin in words (``layer``: ``pipeline.journal.LayerInfo``; ``models``: id -> manifest)."""

    def named(model_id: str, file: str, version: str) -> str:
        m = models.get(model_id)
        if m is not None:
            return f"{m.name} {m.version}".strip()
        return " ".join(x for x in (model_id or file, version) if x) or "unknown model"

    when = f", {layer.created}" if getattr(layer, "created", "") else ""
    if layer.source == "import":
        extra = getattr(layer, "extra", {}) or {}
        file = extra.get("import_file") or "a results file"
        detector = layer.detector or "unknown detector"
        if layer.detector_version and layer.detector_version not in detector:
            detector += f" ({layer.detector_version})"
        text = f"Results imported from {file} — detector {detector}{when}"
    else:
        text = f"Results of {named(layer.detector_id, layer.detector, layer.detector_version)}"
        if layer.classifier_id or layer.classifier:
            text += f" + {named(layer.classifier_id, layer.classifier, '')}"
        text += f", run here{when}"
    if layer.random_weights:
        text += " — random weights, not a detector"
    return text


class ResultsSourceWidget(QFrame):
    """``set_source(text, note)``: the origin on the left; ``set_sidecars(text)`` on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsSource")
        self.source_label = QLabel(self)
        self.source_label.setObjectName("resultsSourceLabel")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source_label.setMinimumWidth(1)  # long paths are cut with a tooltip, never widen the window
        self.sidecar_label = QLabel(self)
        self.sidecar_label.setObjectName("sidecarState")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 2, 10, 2)
        lay.addWidget(self.source_label, 1)
        lay.addWidget(self.sidecar_label)
        self._full = ""

    def set_source(self, text: str) -> None:
        self._full = text
        self.source_label.setToolTip(text)
        self._elide()

    def source_text(self) -> str:
        return self._full

    def set_sidecars(self, text: str) -> None:
        self.sidecar_label.setText(text)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(50, self.source_label.width())
        self.source_label.setText(self.source_label.fontMetrics().elidedText(
            self._full, Qt.TextElideMode.ElideMiddle, width))


def read_only_note(out_dir: Path) -> str:
    """Where a read-only folder's outputs go (``AppPaths.fallback_output_dir``), as the CLI says."""
    return f"Read-only folder: results are kept in {out_dir}"
