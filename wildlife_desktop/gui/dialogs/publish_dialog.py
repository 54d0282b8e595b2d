"""*File > Export > Analysis tables…* and *Species folders…*: choose, then export on a worker thread.

The work is ``pipeline.analysis.export_tables`` / ``pipeline.species_folders.export_species_folders``
run on the global pool (:func:`workers.run_in_pool`); progress comes back through a queued
signal, Cancel sets the job's :class:`CancelToken` (files already written stay, each whole).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import WildlifeError
from ...core.paths import AppPaths
from ...core.progress import CancelToken
from ..workers import run_in_pool


class _Progress(QObject):
    sig_progress = Signal(int, int)  # done, total: emitted on the pool thread, delivered queued


class PublishDialog(QDialog):
    """``kind`` ``"tables"`` or ``"species"``; thresholds are the window's, so the export matches the screen."""

    sig_finished = Signal(str)  # the summary line (or the error)

    def __init__(self, kind: str, folder: Path, paths: AppPaths, thresholds: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ...formats.tables import XLSX_HINT, xlsx_available

        self.kind, self.folder, self.paths, self.thresholds = kind, Path(folder), paths, thresholds
        self.token: CancelToken | None = None
        self.setWindowTitle(self.tr("Analysis tables") if kind == "tables" else self.tr("Species folders"))
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(self.tr(
            "events.csv: one row per species per event, with the most individuals in any one frame; "
            "deployments.csv: effort per camera location.") if kind == "tables" else self.tr(
            "Copies the images into species/<label>, people, vehicles, empty and failed folders by their "
            "verified or top label. The originals are never moved or changed."), wordWrap=True))
        row = QHBoxLayout()
        default = self.folder.parent / f"{self.folder.name}_{'tables' if kind == 'tables' else 'sorted'}"
        self.out_edit = QLineEdit(str(default), self)
        browse = QPushButton(self.tr("Browse…"), self)
        browse.clicked.connect(self._on_browse)
        row.addWidget(QLabel(self.tr("Output folder:")))
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        lay.addLayout(row)
        self.xlsx = QCheckBox(self.tr("Also write an XLSX workbook (one table per sheet)"), self)
        self.annotated = QCheckBox(self.tr("Draw boxes and labels (annotated copies)"), self)
        self.link = QCheckBox(self.tr("Hard-link instead of copying (not possible for blurred or annotated copies)"),
                              self)
        self.blur_people = QCheckBox(self.tr("Blur people (recommended)"), self)
        self.blur_people.setChecked(True)
        self.blur_vehicles = QCheckBox(self.tr("Blur vehicles too"), self)
        boxes = [self.xlsx] if kind == "tables" else [self.annotated, self.link, self.blur_people, self.blur_vehicles]
        for box in boxes:
            lay.addWidget(box)
        if kind == "tables" and not xlsx_available():
            self.xlsx.setEnabled(False)
            self.xlsx.setToolTip(XLSX_HINT)
            self.xlsx.setText(self.xlsx.text() + " — " + XLSX_HINT)
        self.progress = QProgressBar(self)
        self.progress.hide()
        lay.addWidget(self.progress)
        self.status = QLabel("", self, wordWrap=True)
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = self.buttons.addButton(self.tr("Export"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self._on_cancel)
        lay.addWidget(self.buttons)
        self._relay = _Progress(self)
        self._relay.sig_progress.connect(self._on_progress)

    @Slot()
    def _on_browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, self.tr("Output folder"), self.out_edit.text())
        if d:
            self.out_edit.setText(d)

    def _threshold_kwargs(self) -> dict[str, float | None]:
        th = self.thresholds
        return {"detection_threshold": getattr(th, "detection", None),
                "classification_threshold": getattr(th, "classification", None)}

    @Slot()
    def start(self) -> None:
        """Export on the pool (the dialog stays open, with progress and Cancel)."""
        if self.token is not None:
            return
        out = Path(self.out_edit.text().strip()).expanduser()
        if not self.out_edit.text().strip():
            self.status.setText(self.tr("Choose an output folder."))
            return
        folder, paths, kwargs, relay = self.folder, self.paths, self._threshold_kwargs(), self._relay
        token = self.token = CancelToken()
        self.export_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText(self.tr("Exporting…"))
        if self.kind == "tables":
            from ...pipeline.analysis import export_tables

            xlsx = self.xlsx.isChecked()

            def job() -> str:
                rep = export_tables(folder, out, xlsx=xlsx, paths=paths, **kwargs)
                return f"{rep.events} species-event rows, {rep.deployments} deployments: " + ", ".join(
                    p.name for p in rep.paths) + f" in {out}"
        else:
            from ...pipeline.species_folders import CopyOptions, export_species_folders

            opts = CopyOptions(link=self.link.isChecked(), annotated=self.annotated.isChecked(),
                               blur=self.blur_people.isChecked(), blur_vehicles=self.blur_vehicles.isChecked())

            def job() -> str:
                rep = export_species_folders(folder, out, opts, paths=paths, cancel=token,
                                             progress=lambda d, t, _r: relay.sig_progress.emit(d, t), **kwargs)
                folders = ", ".join(f"{k} {n}" for k, n in rep.per_folder.items()) or "none"
                text = f"{rep.files} files in {out}: {folders}"
                text += f"; {rep.blurred} with people blurred" if rep.blurred else ""
                text += f"; {len(rep.skipped)} left out ({rep.skipped[0][1]})" if rep.skipped else ""
                return ("Cancelled: " if rep.cancelled else "") + text

        run_in_pool(job, self._on_done, self._on_error, self)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _on_done(self, text: str) -> None:
        self.token = None
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.status.setText(text)
        self.sig_finished.emit(text)

    def _on_error(self, exc: BaseException) -> None:
        self.token = None
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.status.setText(str(exc) if isinstance(exc, WildlifeError | OSError) else repr(exc))
        self.sig_finished.emit(self.status.text())

    @Slot()
    def _on_cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()  # the job stops before its next file and reports
            self.status.setText(self.tr("Cancelling…"))
            return
        self.reject()
