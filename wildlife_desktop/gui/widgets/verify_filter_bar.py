"""Filters of the Verify queue (label, folder/camera, dates, review state, confidence) and the accept threshold.

The label filter means the verified label, else the model's (``QueueFilter.matches``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from ...pipeline.sequences import ROOT_LOCATION
from ...review.queue import QueueFilter, QueueItem
from .elided import ElidingComboBox
from .thumbnail_grid import band_of, confidence_filter_combo, date_range_edits, state_filter_combo

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class VerifyFilterBarWidget(QWidget):
    """``sig_filter_changed(QueueFilter)``; ``sig_accept_changed(float)`` when "ask below" changes.

    The controls take focus only by click, so the review keys keep working; the page takes the
    focus back after each change.
    """

    sig_filter_changed = Signal(object)
    sig_accept_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Sized in characters, never by the longest species or folder name; longer ones are elided.
        self.class_combo = ElidingComboBox(self, chars=14, min_chars=9, max_chars=30)
        self.place_combo = ElidingComboBox(self, chars=18, min_chars=9, max_chars=36)
        self.state_combo = state_filter_combo(self)
        self.state_combo.setToolTip(self.tr("Review state: what you or others decided"))
        self.conf_combo = confidence_filter_combo(self)
        self.conf_combo.setToolTip(self.tr("Confidence band of the model (the certainty \"Ask me below\" uses)"))
        self.date_from, self.date_to = date_range_edits(self, self._on_control_changed)
        self.accept_spin = QDoubleSpinBox(self)
        self.accept_spin.setRange(0.0, 100.0)
        self.accept_spin.setDecimals(0)
        self.accept_spin.setSuffix(" %")
        self.accept_spin.setToolTip(self.tr("Detections the model is at least this sure about are accepted "
                                            "without asking you"))
        for w in (self.class_combo, self.place_combo, self.state_combo, self.conf_combo, self.date_from,
                  self.date_to, self.accept_spin):
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for combo in (self.class_combo, self.place_combo, self.state_combo, self.conf_combo):
            combo.currentIndexChanged.connect(self._on_control_changed)
        self.accept_spin.editingFinished.connect(self._on_accept_spin_finished)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel(self.tr("Class"), self))
        lay.addWidget(self.class_combo)
        lay.addWidget(QLabel(self.tr("Place"), self))
        lay.addWidget(self.place_combo)
        lay.addWidget(QLabel(self.tr("Date"), self))
        lay.addWidget(self.date_from)
        lay.addWidget(self.date_to)
        lay.addWidget(self.state_combo)
        lay.addWidget(self.conf_combo)
        lay.addStretch(1)
        lay.addWidget(QLabel(self.tr("Ask me below"), self))
        lay.addWidget(self.accept_spin)
        self._accept = 0.98
        self._quiet = False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter confirms a field here and stops: spin boxes and line edits pass it on to their
        parent, where the Verify page would take it as "accept this crop"."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    def set_items(self, items: Iterable[QueueItem], accept: float, root_name: str = "",
                  verified_labels: Iterable[str] = ()) -> None:
        """Fill the choices from the (unfiltered) queue; keeps nothing selected.

        ``root_name``: the open folder's name, shown for the images that sit directly in it
        (the location ``(root)`` of the core). ``verified_labels``: labels people gave, offered too."""
        items = list(items)
        self._quiet = True
        try:
            self.class_combo.clear()
            self.class_combo.addItem(self.tr("All classes"), "")
            labels = {it.model_label for it in items}
            lower = {x.lower() for x in labels}
            labels |= {x for x in verified_labels if x and x.lower() not in lower}
            for label in sorted(labels):
                self.class_combo.addItem(label, label)
            self.place_combo.clear()
            self.place_combo.addItem(self.tr("All places"), None)
            for loc in sorted({it.location for it in items if it.location}):
                if loc == ROOT_LOCATION:
                    text = self.tr("{0} (top folder)").format(root_name) if root_name else self.tr("top folder")
                    tip = self.tr("Images directly in the open folder, not in a subfolder")
                else:
                    text = self.tr("camera {0}").format(loc)
                    tip = self.tr("Camera {0}: its folder, overflow folders such as 100RECNX included").format(loc)
                self.place_combo.add_item(text, ("location", loc), tip)
            for folder in sorted({it.folder for it in items if it.folder}):
                self.place_combo.add_item(self.tr("folder {0}").format(folder), ("folder", folder),
                                          self.tr("Folder {0} and its subfolders").format(folder))
            self.date_from.clear()
            self.date_to.clear()
            self.state_combo.setCurrentIndex(0)
            self.conf_combo.setCurrentIndex(0)
            self.set_accept(accept)
        finally:
            self._quiet = False

    def set_accept(self, accept: float) -> None:
        self._accept = accept
        self.accept_spin.blockSignals(True)
        self.accept_spin.setValue(round(accept * 100))
        self.accept_spin.blockSignals(False)

    def current_filter(self) -> QueueFilter:
        label = self.class_combo.currentData() or ""
        place = self.place_combo.currentData()
        d0, d1 = self.date_from.text().strip(), self.date_to.text().strip()
        state, band = self.state_combo.currentData(), band_of(self.conf_combo.currentData())
        return QueueFilter(
            labels=frozenset({label}) if label else frozenset(),
            folder=place[1] if place and place[0] == "folder" else "",
            location=place[1] if place and place[0] == "location" else "",
            date_from=d0 if _DATE.match(d0) else "",
            date_to=d1 if _DATE.match(d1) else "",
            states=frozenset({state}) if state else frozenset(),
            min_certainty=band[0] if band else 0.0,
            max_certainty=band[1] if band else 1.0,
        )

    def _on_control_changed(self) -> None:
        if not self._quiet:
            self.sig_filter_changed.emit(self.current_filter())

    def _on_accept_spin_finished(self) -> None:
        value = self.accept_spin.value() / 100.0
        if abs(value - self._accept) > 1e-9:
            self._accept = value
            self.sig_accept_changed.emit(value)
