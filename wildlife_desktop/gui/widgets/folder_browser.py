"""Left pane: the file system's folders; selecting one opens it in the grid."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir, QItemSelectionModel, QModelIndex, Signal, Slot
from PySide6.QtWidgets import QTreeView, QVBoxLayout, QWidget

from ..item_models.folder_model import FolderModel
from .folder_badge_delegate import FolderBadgeDelegate


class FolderBrowserWidget(QWidget):
    """Emits ``sig_folder_selected(Path)`` when the user picks a folder."""

    sig_folder_selected = Signal(Path)

    def __init__(self, model: FolderModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.tree = QTreeView(self)
        self.tree.setObjectName("folderTree")
        self.tree.setModel(model)
        self.tree.setHeaderHidden(True)
        for column in range(1, model.columnCount()):  # name only: no size, type, date
            self.tree.hideColumn(column)
        self.tree.setUniformRowHeights(True)
        self.tree.setItemDelegate(FolderBadgeDelegate(self.tree))
        model.setRootPath(QDir.rootPath())
        # Open on a click or Enter only: the view moves its current index by itself (first
        # focus, model loading), and opening /bin because the tree got focus would be absurd.
        self.tree.clicked.connect(self._on_tree_activated)
        self.tree.activated.connect(self._on_tree_activated)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tree)
        self._quiet = False
        self._last: Path | None = None

    def reveal(self, folder: Path) -> None:
        """Select and scroll to ``folder`` without emitting ``sig_folder_selected``."""
        idx = self.model.index(QDir.fromNativeSeparators(str(folder)))
        if not idx.isValid():
            return
        self._quiet = True
        self._last = Path(folder)
        try:
            self.tree.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.tree.expand(idx)
            self.tree.scrollTo(idx)
        finally:
            self._quiet = False
        self._last: Path | None = None

    @Slot(QModelIndex)
    def _on_tree_activated(self, index: QModelIndex) -> None:
        if self._quiet or not index.isValid():
            return
        path = Path(self.model.filePath(index))
        if path != self._last:
            self._last = path
            self.sig_folder_selected.emit(path)
