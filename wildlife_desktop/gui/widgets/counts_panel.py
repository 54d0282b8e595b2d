"""The review pane's counts: per label in the shown image, its count (editable) and its event's count.

The figures come from ``review.counts.image_counts`` (boxes above the display thresholds, or a
person's ``count`` decision, which wins) over the frames of the shown file's event; the event
count is the maximum over those frames, as in the analysis tables and Camtrap DP. Changing a
spin box emits ``sig_count_edited(rel_path, label, n)``; :class:`gui.counts_controller.CountsController`
writes the ``count`` decision. There is no undo in the review pane: a later edit overrides.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSpinBox, QWidget

MAX_COUNT = 999


class CountsPanel(QWidget):
    """Rows ``label | [spin] | event: N``; hidden when the image has no label to count."""

    sig_count_edited = Signal(str, str, int)  # rel_path, label, count

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("countsPanel")
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._rel: str | None = None
        self.spins: dict[str, QSpinBox] = {}
        self.event_labels: dict[str, QLabel] = {}
        self._widgets: list[QWidget] = []
        self.hide()

    def show_counts(self, rel_path: str | None, image: Mapping[str, tuple[int, bool, bool]],
                    event: Mapping[str, int]) -> None:
        """``image``: label -> (count, verified, edited) of the shown file; ``event``: label -> event count."""
        if rel_path is not None and rel_path == self._rel and set(image) == set(self.spins):
            for label, spin in self.spins.items():  # same rows (after an edit): keep the focus
                spin.blockSignals(True)
                spin.setValue(image[label][0])
                spin.setSuffix(self.tr(" ✎") if image[label][2] else "")
                spin.blockSignals(False)
                self.event_labels[label].setText(self.tr("event: {0}").format(event.get(label, image[label][0])))
            return
        for w in self._widgets:
            self._grid.removeWidget(w)
            w.deleteLater()
        self._widgets, self.spins, self.event_labels = [], {}, {}
        self._rel = rel_path
        if rel_path is None or not image:
            self.hide()
            return
        head = QLabel(self.tr("Count"), self)
        self._add(head, 0, 0)
        for row, label in enumerate(sorted(image), start=1):
            n, _verified, edited = image[label]
            name = QLabel(label, self)
            spin = QSpinBox(self)
            spin.setRange(0, MAX_COUNT)
            spin.setValue(n)
            spin.setKeyboardTracking(False)  # typing "12" is one edit
            spin.setToolTip(self.tr("Individuals of {0} in this image (a person's count)").format(label) if edited
                            else self.tr("Boxes of {0} in this image; change it to record your count").format(label))
            if edited:
                spin.setSuffix(self.tr(" ✎"))
            spin.valueChanged.connect(lambda value, lab=label: self._edited(lab, value))
            ev = QLabel(self.tr("event: {0}").format(event.get(label, n)), self)
            ev.setToolTip(self.tr("The most individuals in any one frame of this event"))
            self._add(name, row, 0)
            self._add(spin, row, 1)
            self._add(ev, row, 2)
            self.spins[label], self.event_labels[label] = spin, ev
        self.show()

    def _add(self, w: QWidget, row: int, col: int) -> None:
        self._grid.addWidget(w, row, col)
        self._widgets.append(w)

    def _edited(self, label: str, value: int) -> None:
        if self._rel is not None:
            self.sig_count_edited.emit(self._rel, label, int(value))
