"""*File > Export > Camtrap DP…*: ask once what the images cannot tell, remember it, export, validate.

The fields are the folder's project settings (``formats.project``, saved in ``.wildlife/project.json``
when Export is pressed); the export and its offline validation run on a worker thread
(``pipeline.camtrap.export_camtrap_dp``), so the window stays responsive. Refusals (missing
metadata) and validation errors are shown in the dialog, which stays open.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import WildlifeError
from ...formats.camtrap_dp import CamtrapOptions
from ...formats.project import (
    LocationSettings,
    ProjectError,
    ProjectSettings,
    apply_settings,
    format_contributors,
    load_project,
    save_project,
)
from ...pipeline.camtrap import CamtrapReport, deployment_names, export_camtrap_dp, project_state_dir


class _Relay(QObject):
    done = Signal(object)  # CamtrapReport or an error message


class CamtrapDialog(QDialog):
    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Export Camtrap DP 1.0.2"))
        self.folder = Path(folder)
        self.state_dir = project_state_dir(self.folder)
        project = load_project(self.state_dir)
        self.title = QLineEdit(project.title or self.folder.name, self)
        self.contributors = QLineEdit(format_contributors(project.contributors), self)
        self.contributors.setPlaceholderText(self.tr("Name <email> (contact); Other Name"))
        self.data_licence = QLineEdit(project.data_licence, self)
        self.media_licence = QLineEdit(project.media_licence, self)
        for w in (self.data_licence, self.media_licence):
            w.setPlaceholderText("CC-BY-4.0")
        self.timezone = QLineEdit(project.timezone, self)
        self.timezone.setPlaceholderText(self.tr("+02:00 (the cameras' clock)"))
        self.decimals = QSpinBox(self)
        self.decimals.setRange(-1, 6)
        self.decimals.setSpecialValueText(self.tr("full precision"))
        self.decimals.setValue(project.coordinate_decimals)
        self.exclude_people = QCheckBox(self.tr("Leave files with people out"), self)
        self.exclude_people.setChecked(True)
        names = deployment_names(self.folder)
        self.locations = QTableWidget(len(names), 3, self)
        self.locations.setHorizontalHeaderLabels([self.tr("Location"), self.tr("Latitude"), self.tr("Longitude")])
        for row, name in enumerate(names):
            loc = project.location(name)
            cells = (name, "" if loc.latitude is None else f"{loc.latitude}",
                     "" if loc.longitude is None else f"{loc.longitude}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:  # the location's name is what the coordinates are for, not a field
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    item.setToolTip(text)
                self.locations.setItem(row, col, item)
        header = self.locations.horizontalHeader()  # names get the room, coordinates what they need
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, self.fontMetrics().horizontalAdvance("-000.000000") + 24)
        self.out = QLineEdit(str(self.folder / "camtrap-dp"), self)
        browse = QPushButton(self.tr("Choose…"), self)
        browse.clicked.connect(self._on_browse_clicked)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.tr("Project title"), self.title)
        form.addRow(self.tr("Contributors"), self.contributors)
        form.addRow(self.tr("Data licence"), self.data_licence)
        form.addRow(self.tr("Media licence"), self.media_licence)
        form.addRow(self.tr("Time zone"), self.timezone)
        form.addRow(self.tr("Round coordinates to decimals"), self.decimals)
        form.addRow("", self.exclude_people)
        form.addRow(self.tr("Package folder"), out_row)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.export_button = self.buttons.addButton(self.tr("Export"), QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("Camera locations (rounded in the package; 2 decimals is about 1 km)"), self))
        layout.addWidget(self.locations)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_export_done)
        self._base = project
        # Wide enough for the placeholders, the package path and a camera name (at 1366 px too).
        self.setMinimumWidth(min(self.fontMetrics().horizontalAdvance("x") * 100, 720))

    def project(self) -> ProjectSettings:
        """The settings as shown (raises ProjectError naming a bad field)."""
        project = apply_settings(self._base, {
            "title": self.title.text(), "contributors": self.contributors.text(),
            "data_licence": self.data_licence.text(), "media_licence": self.media_licence.text(),
            "timezone": self.timezone.text(), "coordinate_decimals": str(self.decimals.value()),
        })
        locations = dict(project.locations)
        for row in range(self.locations.rowCount()):
            name = self.locations.item(row, 0).text()
            pairs = {f"location.{name}.lat": self.locations.item(row, 1).text(),
                     f"location.{name}.lon": self.locations.item(row, 2).text()}
            loc = apply_settings(ProjectSettings(), pairs).location(name)
            locations[name] = replace(locations.get(name, LocationSettings()), latitude=loc.latitude,
                                      longitude=loc.longitude)
        return replace(project, locations=locations)

    @Slot()
    def _on_browse_clicked(self) -> None:
        d = QFileDialog.getExistingDirectory(self, self.tr("Package folder"), self.out.text())
        if d:
            self.out.setText(d)

    @Slot()
    def _on_export_clicked(self) -> None:
        try:
            project = self.project()
            save_project(self.state_dir, project)
        except ProjectError as exc:
            self.status.setText(str(exc))
            return
        self.export_button.setEnabled(False)
        self.status.setText(self.tr("Exporting…"))
        options = CamtrapOptions(exclude_people=self.exclude_people.isChecked())
        out, folder, relay = Path(self.out.text()), self.folder, self._relay

        def work() -> None:
            try:
                relay.done.emit(export_camtrap_dp(folder, out, options=options, project=project))
            except WildlifeError as exc:
                relay.done.emit(str(exc))

        threading.Thread(target=work, name="camtrap-export", daemon=True).start()

    @Slot(object)
    def _on_export_done(self, result: object) -> None:
        self.export_button.setEnabled(True)
        if not isinstance(result, CamtrapReport):
            # The core's refusal names the CLI command; here the fields are on screen.
            text = str(result).split(". Set them with: wildlife-desktop project", 1)
            self.status.setText(text[0] + (self.tr(". Fill them in above, then Export again.") if len(text) > 1
                                           else ""))
            return
        lines = [self.tr("{0} media, {1} observations written to {2}.").format(
            result.media, result.observations, result.paths[0].parent)]
        if result.validation is not None:
            lines.append(self.tr("Valid against Camtrap DP 1.0.2 (checked offline).") if result.validation.valid
                         else self.tr("NOT valid: ") + "; ".join(result.validation.errors[:5]))
        lines += result.warnings
        self.status.setText("\n".join(lines))
