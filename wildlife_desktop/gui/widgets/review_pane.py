"""Right pane: the selected image with boxes, its metadata, and the display thresholds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtGui import QFont, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.records import MediaMeta, Prediction
from ...formats.bundle import SequenceInfo
from ...formats.decisions import ReviewDecision
from ...pipeline.sequences import ROOT_LOCATION
from ..style import label_color
from ..view_state import Thresholds
from .counts_panel import CountsPanel
from .elided import ElidedLabel
from .image_canvas import BoxOverlay, ImageCanvasWidget


def _clock(value: str | None) -> str:
    """``"YYYY-MM-DD HH:MM:SS"`` -> ``"HH:MM:SS"`` ("" when unknown)."""
    return value[11:19] if value and len(value) >= 19 else ""


def describe_sequence(seq: SequenceInfo | None, first: str | None = None, last: str | None = None) -> str:
    """The review pane's sequence line: "frame 2 of 5 (this folder, 14:03:12–14:03:20)".

    ``first``/``last``: capture times of the sequence's first and last frames. The core's
    location ``(root)`` (images directly in the open folder) reads "this folder"; ids such as
    ``(root)/seq_00024`` are never shown.
    """
    def tr(text: str) -> str:
        return QCoreApplication.translate("ReviewPaneWidget", text)

    if seq is None:
        return ""
    place = tr("this folder") if seq.location == ROOT_LOCATION else tr("camera {0}").format(seq.location)
    t0, t1 = _clock(first), _clock(last)
    when = t0 if t0 == t1 or not t1 else (f"{t0}–{t1}" if t0 else t1)
    where = f"{place}, {when}" if when else place
    if seq.seq_num_frames <= 1:
        return tr("single image ({0})").format(where)
    return tr("frame {0} of {1} ({2})").format(seq.frame_num + 1, seq.seq_num_frames, where)


def camera_text(meta: MediaMeta | None) -> str:
    """The camera from EXIF make and model ("Reconyx RC55 RAPIDFIRE"); a model that already
    names its maker ("Canon EOS 5D" by "Canon") is not repeated."""
    if meta is None:
        return ""
    make, model = (meta.make or "").strip(), (meta.model or "").strip()
    if make and model.lower().startswith(make.lower()):
        return model
    return " ".join(x for x in (make, model) if x)


class ReviewPaneWidget(QWidget):
    """Shows one file. ``sig_step(delta)`` asks for next/previous; thresholds are sliders.

    The thresholds only change what is shown (and exported); they never touch stored output.
    """

    sig_step = Signal(int)
    sig_thresholds_changed = Signal(object)  # Thresholds
    sig_thresholds_edited = Signal(object)  # Thresholds: the user moved a slider (not set_thresholds)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thresholds = Thresholds()
        self._prediction: Prediction | None = None
        self._rel_path: str | None = None
        self._settled = False
        self._verified: dict[int, ReviewDecision] = {}
        self._verified_empty = False
        self._setting = False  # inside set_thresholds: a change that is not the user's
        self._meta: MediaMeta | None = None
        self._seq_groups: tuple[int, int, dict[tuple[str, str], list[str]]] | None = None
        # (rel_path, capture time) -> the time shown: the camera's time offset (formats/corrections.py)
        self.time_of: Callable[[str, str | None], str | None] | None = None

        # Elided in the middle (the end of a camera file name tells frames apart): a long name
        # must not make the window wider than the screen; the whole path is the tooltip.
        self.title = ElidedLabel(self, mode=Qt.TextElideMode.ElideMiddle, auto_tooltip=False)
        self.title.setObjectName("reviewTitle")
        f = QFont(self.title.font())
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.title.setText(self.tr("No image selected"))
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position = QLabel(self)
        self.prev_button = QPushButton(self.tr("◀ Previous"), self)
        self.next_button = QPushButton(self.tr("Next ▶"), self)
        self.prev_button.setToolTip(self.tr("Previous image (Left arrow)"))
        self.next_button.setToolTip(self.tr("Next image (Right arrow)"))
        self.prev_button.clicked.connect(lambda: self.sig_step.emit(-1))
        self.next_button.clicked.connect(lambda: self.sig_step.emit(1))

        self.canvas = ImageCanvasWidget(self)
        self.canvas.setMinimumHeight(200)
        self.canvas.set_pixmap(None, self.tr("Select an image in the grid"))

        self.date_label = QLabel("—", self)
        self.camera_label = QLabel("—", self)
        self.sequence_label = QLabel("—", self)
        self.sequence_label.setObjectName("sequenceLabel")
        self.status_label = QLabel("—", self)
        self.status_label.setWordWrap(True)
        info = QFormLayout()
        info.setContentsMargins(0, 0, 0, 0)
        info.addRow(self.tr("Date/time"), self.date_label)
        info.addRow(self.tr("Camera"), self.camera_label)
        info.addRow(self.tr("Sequence"), self.sequence_label)
        info.addRow(self.tr("Result"), self.status_label)

        self.detections = QListWidget(self)
        self.detections.setObjectName("detectionList")
        self.detections.setMaximumHeight(self.fontMetrics().height() * 5 + 8)
        self.detections.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.counts = CountsPanel(self)  # per label: the count (editable) and the event's (gui/counts_controller.py)

        self.det_slider, self.det_value = self._slider(self.thresholds.detection)
        self.cls_slider, self.cls_value = self._slider(self.thresholds.classification)
        self.det_slider.setObjectName("detectionThreshold")
        self.cls_slider.setObjectName("classificationThreshold")
        self.det_value.setObjectName("detectionThresholdValue")
        self.cls_value.setObjectName("classificationThresholdValue")
        self.det_value.setToolTip(self.tr("Boxes the detector is less sure about are hidden (type a value "
                                          "or drag the slider)"))
        self.cls_value.setToolTip(self.tr("Species labels the classifier is less sure about are not used "
                                          "(type a value or drag the slider)"))
        self.det_slider.valueChanged.connect(self._on_slider_changed)
        self.cls_slider.valueChanged.connect(self._on_slider_changed)
        for slider, spin in ((self.det_slider, self.det_value), (self.cls_slider, self.cls_value)):
            spin.valueChanged.connect(slider.setValue)  # the slider's change does the rest
        sliders = QFormLayout()
        sliders.setContentsMargins(0, 0, 0, 0)
        sliders.addRow(self.tr("Detection ≥"), self._row(self.det_slider, self.det_value))
        sliders.addRow(self.tr("Classification ≥"), self._row(self.cls_slider, self.cls_value))

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.position)
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addStretch(1)
        nav.addWidget(self.next_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.addLayout(head)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(nav)
        lay.addLayout(info)
        lay.addWidget(self.detections)
        lay.addWidget(self.counts)
        lay.addLayout(sliders)

        for key, delta in ((Qt.Key.Key_Right, 1), (Qt.Key.Key_Left, -1), (Qt.Key.Key_Space, 1),
                           (Qt.Key.Key_Backspace, -1)):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(lambda d=delta: self.sig_step.emit(d))
        for keys, slot in (("+", lambda: self.canvas.zoom(1.25)), ("=", lambda: self.canvas.zoom(1.25)),
                           ("-", lambda: self.canvas.zoom(0.8)), ("0", self.canvas.fit)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

    # ---- public ------------------------------------------------------------------------
    def show_file(self, rel_path: str | None, prediction: Prediction | None, position: str = "") -> None:
        """Switch to another file; the image itself comes later via :meth:`set_image`."""
        self._rel_path = rel_path
        self._prediction = prediction
        self._settled = False
        self._verified, self._verified_empty = {}, False
        self.title.setText(rel_path.rsplit("/", 1)[-1] if rel_path else self.tr("No image selected"))
        self.title.setToolTip(rel_path or "")
        self.position.setText(position)
        hint = self.tr("Loading…") if rel_path else self.tr("Select an image in the grid")
        self.canvas.set_pixmap(None, hint)
        self._meta = None
        self.date_label.setText("—")
        self.camera_label.setText("—")
        self.set_meta(prediction.meta if prediction else None)
        self._refresh_detections()

    def set_prediction(self, prediction: Prediction | None) -> None:
        """New result for the shown file (arrived during a run)."""
        self._prediction = prediction
        if prediction is not None:
            self.set_meta(prediction.meta)
        self._refresh_detections()

    def set_image(self, rel_path: str, pixmap: QPixmap | None, error: str = "") -> None:
        if rel_path != self._rel_path:
            return  # a stale load for a file the user already left
        self.canvas.set_pixmap(pixmap, error or self.tr("Cannot show this file"))
        self._settled = True
        self._refresh_detections()

    def set_meta(self, meta: MediaMeta | None, rel_path: str | None = None) -> None:
        """Date/time and camera of the shown file. Metadata arriving later (the file's own EXIF,
        read when the results lack it, e.g. imported MegaDetector files carry no camera) fills
        in what is unknown and never blanks what is known."""
        if meta is None or (rel_path is not None and rel_path != self._rel_path):
            return
        old = self._meta
        if old is not None:
            meta = replace(meta, datetime=meta.datetime or old.datetime, make=meta.make or old.make,
                           model=meta.model or old.model)
        self._meta = meta
        shown = self.time_of(self._rel_path, meta.datetime) if self.time_of and self._rel_path else meta.datetime
        self.date_label.setText(shown or self.tr("unknown"))
        self.date_label.setToolTip(self.tr("Corrected from {0} (the camera's time offset)").format(meta.datetime)
                                   if shown != meta.datetime else "")
        self.camera_label.setText(camera_text(meta) or self.tr("unknown"))

    def set_verified(self, decisions: dict[int, ReviewDecision], empty: bool = False) -> None:
        """A person's decisions on the shown file (detection index → decision; ``empty``: whole file)."""
        self._verified, self._verified_empty = dict(decisions), empty
        self._refresh_detections()

    def verified_texts(self) -> list[str]:
        """The detection list's lines that carry a verification tick (tests)."""
        return [self.detections.item(i).text() for i in range(self.detections.count())
                if "✔" in self.detections.item(i).text()]

    def set_sequence_text(self, text: str) -> None:
        self.sequence_label.setText(text or "—")

    def show_sequence(self, rel_path: str, sequences: Mapping[str, SequenceInfo],
                      datetime_of: Callable[[str], str | None]) -> None:
        """The shown file's place in its sequence, in words (see :func:`describe_sequence`)."""
        seq = sequences.get(rel_path)
        if seq is None:
            self.set_sequence_text("")
            return
        key = (id(sequences), len(sequences))
        if self._seq_groups is None or self._seq_groups[:2] != key:  # grouped once per folder's sequences
            groups: dict[tuple[str, str], list[str]] = {}
            for rel, s in sequences.items():
                groups.setdefault((s.location, s.seq_id), []).append(rel)
            for members in groups.values():
                members.sort(key=lambda r: sequences[r].frame_num)
            self._seq_groups = (*key, groups)
        members = self._seq_groups[2].get((seq.location, seq.seq_id), [rel_path])
        self.set_sequence_text(describe_sequence(seq, datetime_of(members[0]), datetime_of(members[-1])))

    def image_settled(self) -> bool:
        """The image (or the reason it cannot be shown) is on screen for the current file."""
        return self._rel_path is None or self._settled

    def current_rel_path(self) -> str | None:
        return self._rel_path

    def visible_detection_count(self) -> int:
        """Boxes currently drawn (for tests and the status line)."""
        return self.canvas.box_count()

    # ---- internals ---------------------------------------------------------------------
    def _slider(self, value: float) -> tuple[QSlider, QSpinBox]:
        """A slider and a spin box to type the value in (kept in step; the slider reports changes)."""
        s = QSlider(Qt.Orientation.Horizontal, self)
        s.setRange(0, 100)
        s.setValue(round(value * 100))
        s.setPageStep(5)
        spin = QSpinBox(self)
        spin.setRange(0, 100)
        spin.setSuffix(" %")
        spin.setValue(round(value * 100))
        spin.setKeyboardTracking(False)  # typing "35" is one change to 35, not 3 then 35
        spin.setAccelerated(True)
        return s, spin

    @staticmethod
    def _row(a: QWidget, b: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(a, 1)
        row.addWidget(b)
        return row

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """Show ``thresholds`` (the folder's and model's); not reported as the user's edit."""
        self._setting = True
        try:
            self.det_slider.setValue(round(thresholds.detection * 100))
            self.cls_slider.setValue(round(thresholds.classification * 100))
        finally:
            self._setting = False

    @Slot()
    def _on_slider_changed(self) -> None:
        self.thresholds = Thresholds(self.det_slider.value() / 100.0, self.cls_slider.value() / 100.0)
        for slider, spin in ((self.det_slider, self.det_value), (self.cls_slider, self.cls_value)):
            if spin.value() != slider.value():
                spin.blockSignals(True)
                spin.setValue(slider.value())
                spin.blockSignals(False)
        self._refresh_detections()
        self.sig_thresholds_changed.emit(self.thresholds)
        if not self._setting:
            self.sig_thresholds_edited.emit(self.thresholds)

    def _refresh_detections(self) -> None:
        self.detections.clear()
        self.detections.hide()
        p = self._prediction
        if p is None:
            self.status_label.setText(self.tr("not processed yet") if self._rel_path else "—")
            self.canvas.set_boxes([])
            return
        if p.failed:
            self.status_label.setText(self.tr("failed: {0}").format(p.failure or ""))
            self.canvas.set_boxes([])
            return
        dets = self.thresholds.visible(p)
        hidden = len(p.detections) - len(dets)
        boxes: list[BoxOverlay] = []
        for d in dets:
            label = self.thresholds.label(d)
            color = label_color(label if label != d.category_name else d.category_name)
            caption = f"{label} {d.confidence * 100:.0f}%"
            if d.frame is not None:
                caption += self.tr(" · frame {0}").format(d.frame)
            boxes.append(BoxOverlay(d.bbox, caption, color))
            text = f"●  {label}   {self.tr('detector')} {d.confidence * 100:.0f}%"
            if d.top_label and d.top_label_confidence is not None:
                text += f"   {d.top_label} {d.top_label_confidence * 100:.0f}%"
            text += self._verified_suffix(p.detections.index(d))
            item = QListWidgetItem(text)
            item.setForeground(color)
            self.detections.addItem(item)
        self.canvas.set_boxes(boxes)
        self.detections.setVisible(bool(dets))
        if self._verified_empty:
            status = self.tr("✔ verified empty by a person")
        elif dets:
            status = self.tr("%n detection(s) shown", "", len(dets))
        else:
            status = self.tr("empty at this threshold")
        if hidden:
            status += self.tr(" (%n below threshold)", "", hidden)
        self.status_label.setText(status)

    def _verified_suffix(self, index: int) -> str:
        d = self._verified.get(index)
        if d is None:
            return ""
        if d.decision == "reject":
            return self.tr("   ✘ false detection")
        return self.tr("   ✔ {0}").format(d.label or self.tr("verified"))
