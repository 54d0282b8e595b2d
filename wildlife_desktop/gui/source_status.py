"""What the window shows above the grid: where the results come from, and whether the sidecars
hold the review yet.

Review decisions reach the sidecars SIDECARS_DEBOUNCE_MS after the last one (on the pool, by
``FolderController.write_sidecars``); during a run, its last checkpoint merges them instead.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot

from .widgets.results_source import describe_source, read_only_note

SIDECARS_DEBOUNCE_MS = 2000  # sidecars are rewritten this long after the last review decision


class SourceStatus(QObject):
    """Fills the results-source strip (``source``) for ``controller``'s folder; schedules sidecar writes."""

    def __init__(self, paths: Any, controller: Any, engine: Any, source: Any, run_panel: Any, review: Any,
                 parent: QObject) -> None:
        super().__init__(parent)
        self.paths, self.controller, self.engine = paths, controller, engine
        self.source, self.run_panel, self.review = source, run_panel, review
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SIDECARS_DEBOUNCE_MS)
        self.timer.timeout.connect(self.write_sidecars)

    def show_source(self) -> None:
        c = self.controller
        if c.folder is None or c.problem:
            return
        res = c.results
        if res is None:
            text = self.tr("No results for this folder yet: choose a detector and press Run AI, "
                           "or use File ▸ Import results…")
            if not c.writable:
                text += "  ·  " + read_only_note(self.paths.fallback_output_dir(c.folder))
        else:
            text = describe_source(res.layer, {m.id: m for m in self.run_panel.models()})
            if Path(res.output_dir) != Path(c.folder):
                text += "  ·  " + read_only_note(res.output_dir)
        self.source.set_source(text)

    def import_text(self, imp: Any) -> str:
        text = self.tr("Imported {0} file(s) with {1} detection(s) from {2} (detector {3}).").format(
            imp.files, imp.detections, imp.file, imp.detector or self.tr("unknown"))
        if imp.missing:
            text += self.tr(" {0} file(s) it names are not in this folder.").format(imp.missing)
        if imp.unmatched:
            text += self.tr(" {0} file(s) here are not in it.").format(imp.unmatched)
        if imp.warnings:
            text += " " + imp.warnings[0]
        return text

    @Slot(set)
    def review_changed(self, _files: set[str]) -> None:
        """Decisions changed: the sidecars are rewritten when they stop coming (or when the run ends)."""
        if self.controller.results is None:
            return
        if self.engine.running:  # the run's last checkpoint merges every decision stored by then
            self.source.set_sidecars(self.tr("Review: into the sidecars when the run ends"))
            return
        self.source.set_sidecars(self.tr("Sidecars: saving your review…"))
        self.timer.start()

    @Slot()
    def write_sidecars(self) -> None:
        if not self.engine.running:
            self.controller.write_sidecars(self.review.thresholds)

    @Slot(tuple)
    def sidecars_written(self, out: tuple[Path, ...]) -> None:
        if self.timer.isActive():
            return  # newer decisions are waiting: still out of date
        self.source.set_sidecars(self.tr("Sidecars up to date ({0})").format(time.strftime("%H:%M")))
        self.source.sidecar_label.setToolTip("\n".join(str(p) for p in out))

    def flush(self) -> None:
        """Write the decisions that wait for the timer now."""
        if self.timer.isActive():
            self.timer.stop()
            self.write_sidecars()
