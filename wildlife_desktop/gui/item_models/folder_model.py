"""File-system tree of folders with per-folder result badges (images, done, animals, failures).

Badges come from ``pipeline.results.folder_summary`` computed on the pool for folders that
are painted, cached, and refreshed with :meth:`FolderModel.invalidate`. The open folder's badge
is set from the results the window already loaded (:meth:`FolderModel.set_summary`): a
``folder_summary`` rescans the folder and reloads its journal, seconds of pure-Python work on
a 100k folder that competes for the GIL with the GUI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QDir, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QFileSystemModel

from ...core.paths import AppPaths
from ..workers import run_in_pool

BADGE_ROLE = Qt.ItemDataRole.UserRole + 40
_PENDING = object()


class FolderModel(QFileSystemModel):
    """Directories only. ``data(index, BADGE_ROLE)`` → ``FolderSummary | None``.

    The view hides the size/type/date columns; ``columnCount`` is not overridden because Qt
    calls it twice per painted row, and every call into Python waits for the GIL.
    """

    def __init__(self, paths: AppPaths | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._paths = paths
        self.setFilter(QDir.Filter.Dirs | QDir.Filter.NoDotAndDotDot | QDir.Filter.Drives)
        self.setReadOnly(True)
        self._badges: dict[str, Any] = {}

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == BADGE_ROLE:
            path = self.filePath(index)
            cached = self._badges.get(path, None)
            if cached is None and path not in self._badges:
                self._badges[path] = _PENDING
                self._request(path)
                return None
            return None if cached is _PENDING else cached
        return super().data(index, role)

    def hold(self, folder: Path) -> None:
        """Do not compute the badge of ``folder``: :meth:`set_summary` will bring it."""
        path = QDir.fromNativeSeparators(str(folder))
        if self._badges.get(path, None) is None:
            self._badges[path] = _PENDING

    def set_summary(self, folder: Path, summary: Any) -> None:
        """Show ``summary`` (a ``FolderSummary`` or None) as the badge of ``folder``."""
        path = QDir.fromNativeSeparators(str(folder))
        self._badges[path] = summary
        idx = self.index(path)
        if idx.isValid():
            self.dataChanged.emit(idx, idx, [BADGE_ROLE])

    def invalidate(self, folder: Path) -> None:
        """Recompute the badge of ``folder`` (after a run, an import or an export)."""
        path = QDir.fromNativeSeparators(str(folder))
        self._badges.pop(path, None)
        idx = self.index(path)
        if idx.isValid():
            self.dataChanged.emit(idx, idx, [BADGE_ROLE])

    def _request(self, path: str) -> None:
        from ...pipeline.results import folder_summary

        paths = self._paths

        def work() -> Any:
            return folder_summary(Path(path), paths)

        def done(summary: Any) -> None:
            self._badges[path] = summary
            idx = self.index(path)
            if idx.isValid():
                self.dataChanged.emit(idx, idx, [BADGE_ROLE])

        def failed(_exc: BaseException) -> None:
            self._badges[path] = None

        run_in_pool(work, done, failed, self)
