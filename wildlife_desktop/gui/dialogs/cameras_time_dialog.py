"""Review > Cameras and time…: per camera location, its serial numbers (swapped cards flagged),
its time offset and its deployment name; what ``review cameras|time-offset|deployment`` do.

The serials (``pipeline.cameras.camera_serials``: EXIF of a sample of each location) and the
stored corrections are read on the pool. *Apply* parses every offset first (``+2h``, ``-30m``,
``+1h30m``, ``+01:00`` or seconds; a bad one stops it with the reason), then writes the changed
ones through ``formats.corrections`` (atomic, under the folder's lock, logged) on the pool and
emits ``sig_applied``: the window reloads the results, so sequences and dates move, and rewrites
the sidecars. The originals are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import WildlifeError
from ...formats.corrections import Corrections, format_offset, parse_offset
from ...pipeline.cameras import CameraReport
from ..workers import run_in_pool

COLUMNS = ("Location", "Files", "Serial numbers", "Warning", "Time offset", "Deployment")
COL_OFFSET, COL_DEPLOYMENT = 4, 5


def _read(folder: Path, rel_paths: Sequence[str], state_dir: Path, per_location: int) -> tuple[CameraReport,
                                                                                                   Corrections]:
    from ...formats.corrections import load_corrections
    from ...pipeline.cameras import camera_serials

    return camera_serials(folder, rel_paths, per_location=per_location), load_corrections(state_dir)


def _write(state_dir: Path, offsets: dict[str, int], deployments: dict[str, str], who: str) -> Corrections:
    from ...formats.corrections import load_corrections, set_deployment, set_time_offset

    c = load_corrections(state_dir)
    for loc, seconds in offsets.items():
        c = set_time_offset(state_dir, loc, seconds, who=who)
    for loc, name in deployments.items():
        c = set_deployment(state_dir, loc, name, who=who)
    return c


class CamerasTimeDialog(QDialog):
    """See the module docstring. ``sig_applied(Corrections)`` after a write."""

    sig_applied = Signal(object)

    def __init__(self, folder: Path, rel_paths: Sequence[str], state_dir: Path, reviewer: str, *,
                 per_location: int = 40, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Cameras and time"))
        self.resize(820, 420)
        self._folder, self._rels = Path(folder), tuple(rel_paths)
        self._state_dir, self._reviewer = Path(state_dir), reviewer
        self.report: CameraReport | None = None
        self.corrections = Corrections()
        self.loading = self.saving = False
        self.offset_edits: dict[str, QLineEdit] = {}
        self.deployment_edits: dict[str, QLineEdit] = {}
        lay = QVBoxLayout(self)
        self.status = QLabel(self.tr("Reading the cameras' serial numbers…"))
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table, 1)
        hint = QLabel(self.tr("Time offset: added to every capture time of the camera, e.g. +2h, -30m, +1h30m, "
                              "-1d or +01:00 (0 removes it). Corrections are kept in .wildlife/corrections.json; "
                              "the images are never changed."))
        hint.setWordWrap(True)
        lay.addWidget(hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Close)
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.loading = True
        folder_, rels, sd = self._folder, self._rels, self._state_dir
        run_in_pool(lambda: _read(folder_, rels, sd, per_location), self._on_loaded, self._on_error, self)

    def _on_error(self, exc: BaseException) -> None:
        self.loading = self.saving = False
        self.status.setText(str(exc) if isinstance(exc, WildlifeError) else
                            self.tr("Could not read the cameras or the corrections (see the log)."))

    def _on_loaded(self, out: Any) -> None:
        self.loading = False
        self.report, self.corrections = out
        rep = self.report
        self.table.setRowCount(len(rep.locations))
        moved = {loc: serial for serial, locs in rep.shared.items() for loc in locs}
        for row, loc in enumerate(rep.locations):
            named = {s: len(v) for s, v in loc.serials.items() if s}
            serials = ", ".join(f"{s} ({n})" for s, n in named.items()) or self.tr("none in EXIF")
            warn = []
            if loc.mixed:
                warn.append(self.tr("several cameras: a swapped card?"))
            if loc.location in moved:
                warn.append(self.tr("serial {0} is also in {1}").format(
                    moved[loc.location], ", ".join(x for x in rep.shared[moved[loc.location]] if x != loc.location)))
            for col, text in enumerate((loc.location, self.tr("{0} ({1} read)").format(loc.files, loc.read), serials,
                                        "; ".join(warn))):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, col, item)
            off = QLineEdit(format_offset(self.corrections.offset(loc.location)))
            dep = QLineEdit(self.corrections.deployments.get(loc.location, ""))
            dep.setPlaceholderText(loc.location)
            self.table.setCellWidget(row, COL_OFFSET, off)
            self.table.setCellWidget(row, COL_DEPLOYMENT, dep)
            self.offset_edits[loc.location], self.deployment_edits[loc.location] = off, dep
        self.table.resizeColumnsToContents()
        flagged = sum(1 for loc in rep.locations if loc.mixed) + len(rep.shared)
        self.status.setText(self.tr("%n camera location(s).", "", len(rep.locations))
                            + (self.tr(" Check the flagged ones: a card may have been swapped.") if flagged else ""))
        self.apply_button.setEnabled(True)

    def changes(self) -> tuple[dict[str, int], dict[str, str]]:
        """The offsets (seconds) and deployment names that differ from the stored ones.

        Raises:
            CorrectionError: an offset is not one (the message names it).
        """
        offsets: dict[str, int] = {}
        deps: dict[str, str] = {}
        for loc, edit in self.offset_edits.items():
            text = edit.text().strip() or "0"
            seconds = parse_offset(text)
            if seconds != self.corrections.offset(loc):
                offsets[loc] = seconds
        for loc, edit in self.deployment_edits.items():
            name = edit.text().strip()
            if name != self.corrections.deployments.get(loc, ""):
                deps[loc] = name
        return offsets, deps

    def apply(self) -> None:
        """Write the changed corrections on the pool; ``sig_applied`` when done."""
        if self.report is None or self.saving:
            return
        try:
            offsets, deps = self.changes()
        except WildlifeError as exc:
            self.status.setText(str(exc))
            return
        if not offsets and not deps:
            self.status.setText(self.tr("Nothing changed."))
            return
        self.saving = True
        self.apply_button.setEnabled(False)
        sd, who = self._state_dir, self._reviewer
        run_in_pool(lambda: _write(sd, offsets, deps, who), self._on_written, self._on_error, self)

    def _on_written(self, c: Corrections) -> None:
        self.saving = False
        self.corrections = c
        self.apply_button.setEnabled(True)
        shifted = ", ".join(f"{loc} {format_offset(s)}" for loc, s in sorted(c.time_offsets.items()))
        self.status.setText(self.tr("Saved. Time offsets: {0}. Sequences, dates and exports now use them.")
                            .format(shifted or self.tr("none")))
        self.sig_applied.emit(c)
