"""Top strip: choose installed models and video sampling; Start / Pause / Cancel; progress."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QCoreApplication, Signal, Slot
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .elided import ElidedLabel, ElidingComboBox

_TRAILING_NOTE = re.compile(r"\s*\([^()]*\)\s*$")

def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def short_model_name(manifest: Any) -> str:
    """The name a combo shows: the manifest's ``extra.short_name``, else its name without a trailing
    "(…)" note ("MegadetectorLite + NanoDet (animal, person, vehicle)" -> "MegadetectorLite + NanoDet");
    the full name goes into the tooltip."""
    extra = manifest.extra_dict() if hasattr(manifest, "extra_dict") else {}
    short = str(extra.get("short_name") or "").strip()
    return short or _TRAILING_NOTE.sub("", manifest.name).strip() or manifest.name


def model_tooltip(manifest: Any) -> str:
    """Full name, version, licence (and the random-weights warning) of a model, for a tooltip."""
    details = QCoreApplication.translate("RunPanelWidget", "version {0} · licence {1} · id {2}")
    text = f"{manifest.name}\n" + details.format(manifest.version, manifest.licence, manifest.id)
    if manifest.random_weights:
        text += "\n" + QCoreApplication.translate(
            "RunPanelWidget", "Random weights: for speed tests only, its boxes mean nothing")
    return text


class RunPanelWidget(QWidget):
    """No business logic: reports the user's choices, shows the engine's progress."""

    sig_start_requested = Signal()
    sig_pause_toggled = Signal(bool)
    sig_cancel_requested = Signal()
    sig_import_model_requested = Signal()
    sig_detector_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runPanel")
        self._models: list[Any] = []

        # Page 0: no model installed — say so plainly, never pretend to detect.
        empty = QWidget(self)
        self.no_models_label = QLabel(self.tr(
            "No detection model is installed, so nothing can be detected yet. "
            "Import a model pack (a MegaDetector ONNX pack) to run AI on this folder. "
            "Results made elsewhere can still be opened with File ▸ Import results…"), empty)
        self.no_models_label.setWordWrap(True)
        self.import_button = QPushButton(self.tr("Import model pack…"), empty)
        self.import_button.clicked.connect(self.sig_import_model_requested)
        el = QHBoxLayout(empty)
        el.setContentsMargins(0, 0, 0, 0)
        el.addWidget(self.no_models_label, 1)
        el.addWidget(self.import_button)

        # Page 1: controls.
        ctrl = QWidget(self)
        # Sized from a number of characters, not from the longest name (which widened the window);
        # a name longer than the space is elided in the middle, the full name is in the tooltip.
        self.detector_combo = ElidingComboBox(ctrl, chars=26, min_chars=20, max_chars=48)
        self.detector_combo.setObjectName("detectorCombo")
        self.classifier_combo = ElidingComboBox(ctrl, chars=20, min_chars=14, max_chars=40)
        self.classifier_combo.setObjectName("classifierCombo")
        self.video_spin = QDoubleSpinBox(ctrl)
        self.video_spin.setRange(0.1, 60.0)
        self.video_spin.setSingleStep(0.5)
        self.video_spin.setDecimals(1)
        self.video_spin.setValue(1.0)
        self.video_spin.setSuffix(self.tr(" s"))
        self.video_spin.setToolTip(self.tr("Videos: run the detector on one frame every N seconds"))
        self.start_button = QPushButton(self.tr("Run AI"), ctrl)
        self.start_button.setObjectName("startButton")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton(self.tr("Pause"), ctrl)
        self.pause_button.setCheckable(True)
        self.cancel_button = QPushButton(self.tr("Cancel"), ctrl)
        self.progress = QProgressBar(ctrl)
        self.progress.setObjectName("runProgress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(110)
        self.rate_label = ElidedLabel(ctrl, min_text="16.5 images/s · ETA 26 s")
        self.rate_label.setObjectName("rateLabel")
        self.start_button.clicked.connect(self.sig_start_requested)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.cancel_button.clicked.connect(self.sig_cancel_requested)
        self.detector_combo.currentIndexChanged.connect(
            lambda _i: self.sig_detector_changed.emit(self.detector_combo.currentData() or ""))
        cl = QHBoxLayout(ctrl)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(QLabel(self.tr("Detector"), ctrl))
        cl.addWidget(self.detector_combo, 3)
        cl.addWidget(QLabel(self.tr("Classifier"), ctrl))
        cl.addWidget(self.classifier_combo, 3)
        video = QLabel(self.tr("Video frame every"), ctrl)
        video.setToolTip(self.video_spin.toolTip())
        cl.addWidget(video)
        cl.addWidget(self.video_spin)
        cl.addSpacing(8)
        cl.addWidget(self.start_button)
        cl.addWidget(self.pause_button)
        cl.addWidget(self.cancel_button)
        cl.addSpacing(8)
        cl.addWidget(self.progress, 1)
        cl.addWidget(self.rate_label)

        # Two pages shown one at a time; not a QStackedWidget, whose height is that of its
        # tallest page (the wrapped "no model" text), which wasted a band of the window.
        self._pages = (empty, ctrl)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.addWidget(empty)
        lay.addWidget(ctrl)
        self.set_running(False)

    # ---- public ------------------------------------------------------------------------
    def set_models(self, models: list[Any], default_detector: str | None = None,
                   classifiers: list[tuple[str, str, str]] | None = None) -> None:
        """Installed ``ModelManifest`` list (detectors and classifiers); the default detector is selected.
        ``classifiers``: the classifier entries ``(text, data, pack id)`` (runtime.stages.classifier_choices:
        a fine-tuned model by name = its production version), else one per classifier pack.

        The current choice is kept when the list is refreshed and the model is still installed.
        """
        keep = self.detector_combo.currentData()
        self._models = list(models)
        dets = [m for m in models if m.task == "detection"]
        clss = [m for m in models if m.task == "classification"]
        self.detector_combo.blockSignals(True)
        self.detector_combo.clear()
        shorts = [short_model_name(m) for m in dets]
        for m, short in zip(dets, shorts, strict=True):
            text = short if shorts.count(short) == 1 else f"{short} {m.version}"
            suffix = self.tr("  (random weights)") if m.random_weights else ""
            full = m.name if shorts.count(short) == 1 else f"{m.name} {m.version}"
            self.detector_combo.add_item(full + suffix, m.id, model_tooltip(m), short=text + suffix)
        for wanted in (keep, default_detector):
            i = self.detector_combo.findData(wanted) if wanted else -1
            if i >= 0:
                self.detector_combo.setCurrentIndex(i)
                break
        self.detector_combo.blockSignals(False)
        self.detector_combo.refresh_tooltip()
        self.classifier_combo.clear()
        self.classifier_combo.add_item(self.tr("None (detector only)"), None, self.tr(
            "No classifier: boxes keep the detector's labels (animal, person, vehicle)"))
        entries = classifiers if classifiers is not None else [
            (f"{m.name} {m.version}" + (self.tr("  (random weights)") if m.random_weights else ""), m.id, m.id)
            for m in clss]
        self._aliases = {data: model_id for _text, data, model_id in entries}
        by_id = {m.id: m for m in clss}
        for text, data, model_id in entries:
            m = by_id.get(model_id)
            tip = text.strip() if m is None else f"{text.strip()}\n{model_tooltip(m)}"
            short = ""
            if m is not None and data == model_id and text.startswith(m.name):  # a plain pack: its short name
                short = short_model_name(m) + (self.tr("  (random weights)") if m.random_weights else "")
                text = m.name + (self.tr("  (random weights)") if m.random_weights else "")
            self.classifier_combo.add_item(text, data, tip, short=short)
        self._pages[0].setVisible(not dets)
        self._pages[1].setVisible(bool(dets))
        self.sig_detector_changed.emit(self.detector_id() or "")

    def page(self) -> int:
        """0: the "no model installed" page, 1: the run controls."""
        return 1 if self._pages[1].isVisibleTo(self) else 0

    def has_detector(self) -> bool:
        return self.detector_combo.count() > 0

    def detector_id(self) -> str | None:
        return self.detector_combo.currentData()

    def classifier_id(self) -> str | None:
        return self.classifier_combo.currentData()

    def manifest(self, model_id: str | None) -> Any | None:
        """The installed ``ModelManifest`` with this id, or None."""
        model_id = getattr(self, "_aliases", {}).get(model_id, model_id)  # a model name -> its production version
        return next((m for m in self._models if m.id == model_id), None) if model_id else None

    def models(self) -> list[Any]:
        """Every installed ``ModelManifest`` the panel lists."""
        return list(self._models)

    def selected_models(self) -> list[Any]:
        ids = {self.detector_id(), getattr(self, "_aliases", {}).get(self.classifier_id(), self.classifier_id())}
        return [m for m in self._models if m.id in ids]

    def video_every_s(self) -> float:
        return float(self.video_spin.value())

    def set_running(self, running: bool) -> None:
        for w in (self.detector_combo, self.classifier_combo, self.video_spin, self.start_button):
            w.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText(self.tr("Pause"))
            self.pause_button.blockSignals(False)

    def set_progress(self, done: int, total: int, rate: float | None, eta_s: float | None) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(self.tr("{0} / {1}").format(done, total))
        if rate:
            self.rate_label.setText(self.tr("{0:.1f} images/s · ETA {1}").format(rate, format_eta(eta_s)))
        else:
            self.rate_label.setText(self.tr("loading model…") if done == 0 else "")

    def set_status(self, text: str) -> None:
        self.rate_label.setText(text)

    def set_paused(self, paused: bool) -> None:
        """Paused: the label says so instead of a rate and ETA that no longer hold."""
        if paused:
            self.rate_label.setText(self.tr("Paused"))  # the button next to it says Resume
        elif self.rate_label.text().startswith(self.tr("Paused")):
            self.rate_label.setText(self.tr("resuming…"))

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText(self.tr("Resume") if paused else self.tr("Pause"))
        self.sig_pause_toggled.emit(paused)
