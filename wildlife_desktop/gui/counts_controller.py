"""Counts in the review pane: what :class:`widgets.counts_panel.CountsPanel` shows, and its edits.

For the shown file, ``review.counts.image_counts`` runs on the frames of its event only (a
handful of predictions and their decisions: well under a millisecond, so on the GUI thread).
An edit appends a ``count`` decision (``review.counts.count_record``, the reviewer name asked
once as elsewhere) through ``formats.decisions.DecisionLog``, adds it to the folder's history in
memory and asks for the sidecars to be rewritten (``sig_decisions_changed``); the exports and
analysis tables read ``count`` records. No undo: a later edit of the same label overrides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core.errors import WildlifeError
from .folder_controller import FolderController
from .view_state import Thresholds
from .widgets.counts_panel import CountsPanel


class CountsController(QObject):
    """Fills ``panel`` for the shown file; writes its edits. ``sig_decisions_changed``, ``sig_status(str)``."""

    sig_decisions_changed = Signal()
    sig_status = Signal(str)

    def __init__(self, folders: FolderController, panel: CountsPanel, thresholds: Callable[[], Thresholds],
                 reviewer: Callable[[], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folders, self.panel = folders, panel
        self._thresholds, self._reviewer = thresholds, reviewer
        self._groups: tuple[int, int, dict[tuple[str, str], list[str]]] | None = None
        self._log: Any = None  # formats.decisions.DecisionLog of the open folder
        self._log_dir: Path | None = None
        self.rel_path: str | None = None
        panel.sig_count_edited.connect(self.set_count)

    def _event_members(self, rel: str) -> list[str]:
        seqs = self.folders.sequences
        seq = seqs.get(rel)
        if seq is None:
            return [rel]
        key = (id(seqs), len(seqs))
        if self._groups is None or self._groups[:2] != key:  # grouped once per loaded folder
            groups: dict[tuple[str, str], list[str]] = {}
            for r, s in seqs.items():
                groups.setdefault((s.location, s.seq_id), []).append(r)
            self._groups = (*key, groups)
        return self._groups[2].get((seq.location, seq.seq_id), [rel])

    def show(self, rel_path: str | None) -> None:
        """Show the counts of ``rel_path`` (None or no results: nothing)."""
        from ..review.counts import image_counts

        self.rel_path = rel_path or None
        res = self.folders.results
        if not rel_path or res is None or rel_path not in res.predictions:
            self.panel.show_counts(None, {}, {})
            return
        members = set(self._event_members(rel_path))
        preds = {r: res.predictions[r] for r in members if r in res.predictions}
        decs = [d for d in self.folders.decisions if d.file in members]
        th = self._thresholds()
        per_image = image_counts(preds, decs, detection_threshold=th.detection,
                                 classification_threshold=th.classification)
        event: dict[str, int] = {}
        for counts in per_image.values():
            for label, (n, _v, _e) in counts.items():
                event[label] = max(event.get(label, 0), n)
        self.panel.show_counts(rel_path, per_image.get(rel_path, {}), event)

    def refresh(self, *_args: Any) -> None:
        self.show(self.rel_path)

    def set_count(self, rel_path: str, label: str, count: int) -> bool:
        """Record a person's ``count`` of ``label`` in ``rel_path``; False when not written."""
        from ..formats.decisions import DecisionLog
        from ..pipeline.journal import STATE_DIRNAME
        from ..review.counts import count_record

        res = self.folders.results
        reviewer = self._reviewer() if res is not None else ""
        if res is None or not reviewer:
            self.sig_status.emit(self.tr("A count needs results and a reviewer name."))
            self.refresh()
            return False
        state_dir = Path(res.output_dir) / STATE_DIRNAME
        if self._log is None or self._log_dir != state_dir:
            self._log, self._log_dir = DecisionLog(state_dir), state_dir
        rec = count_record(rel_path, label, count, reviewer=reviewer,
                           time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"))
        try:
            self._log.append([rec])  # one line under the folder's lock
        except WildlifeError as exc:
            self.sig_status.emit(str(exc))
            self.refresh()
            return False
        self.folders.decisions = (*self.folders.decisions, rec)
        self.sig_status.emit(self.tr("{0}: {1} × {2} (your count)").format(rel_path.rsplit("/", 1)[-1], count, label))
        self.sig_decisions_changed.emit()
        self.refresh()
        return True
