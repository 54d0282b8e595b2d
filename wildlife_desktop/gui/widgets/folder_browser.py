"""Left pane: places (home, removable drives, recent folders) over a tree of the chosen place's folders.

Selecting a folder in the tree, or a recent folder, opens it in the grid. The tree never starts
at ``/`` (``/proc``, ``/sys`` and temp folders mean nothing to a field user): it shows one place
at a time, the one holding the open folder, with that folder revealed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir, QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QListWidget, QListWidgetItem, QStyle, QTreeView, QVBoxLayout, QWidget

from ..item_models.folder_model import FolderModel
from .folder_badge_delegate import FolderBadgeDelegate
from .places import Place, build_places, mounted_roots, place_for, recent_folders, remember_folder, removable_roots

PLACE_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_PLACE_ROWS = 9


class FolderBrowserWidget(QWidget):
    """Emits ``sig_folder_selected(Path)`` when the user picks a folder."""

    sig_folder_selected = Signal(Path)

    def __init__(self, model: FolderModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.places_list = QListWidget(self)
        self.places_list.setObjectName("folderPlaces")
        self.places_list.setFrameShape(QFrame.Shape.NoFrame)
        self.places_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.places_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree = QTreeView(self)
        self.tree.setObjectName("folderTree")
        self.tree.setModel(model)
        self.tree.setHeaderHidden(True)
        for column in range(1, model.columnCount()):  # name only: no size, type, date
            self.tree.hideColumn(column)
        self.tree.setUniformRowHeights(True)
        self.tree.setItemDelegate(FolderBadgeDelegate(self.tree))
        # Open on a click or Enter only: the view moves its current index by itself (first
        # focus, model loading), and opening a folder because the tree got focus would be absurd.
        self.tree.clicked.connect(self._on_tree_activated)
        self.tree.activated.connect(self._on_tree_activated)
        self.places_list.itemClicked.connect(self._on_place_clicked)
        self.places_list.itemActivated.connect(self._on_place_clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.places_list)
        lay.addWidget(self.tree, 1)
        self._quiet = False
        self._last: Path | None = None
        self.places: list[Place] = []
        self.current_place: Place | None = None
        self.refresh_places()
        self.show_place(self.places[0])

    # ---- places ------------------------------------------------------------------------
    def refresh_places(self) -> None:
        """Rebuild the list: home, removable drives (mounted now), recent folders."""
        self.places = build_places(Path.home(), removable_roots(mounted_roots()), recent_folders())
        style = self.style()
        icons = {"home": QStyle.StandardPixmap.SP_DirHomeIcon, "drive": QStyle.StandardPixmap.SP_DriveHDIcon,
                 "recent": QStyle.StandardPixmap.SP_DirIcon}
        self.places_list.clear()
        for place in self.places:
            text = place.label if place.kind != "recent" else self.tr("{0}  (recent)").format(place.label)
            item = QListWidgetItem(style.standardIcon(icons[place.kind]), text)
            item.setToolTip(str(place.folder or place.root))
            item.setData(PLACE_ROLE, place)
            self.places_list.addItem(item)
        rows = min(len(self.places), MAX_PLACE_ROWS)
        self.places_list.setFixedHeight(rows * max(self.places_list.sizeHintForRow(0), 18) + 4)
        self._select_place_row(self.current_place)

    def show_place(self, place: Place) -> None:
        """Show ``place``'s folders in the tree (no folder is opened)."""
        self.current_place = place
        root = QDir.fromNativeSeparators(str(place.root))
        self.model.setRootPath(root)
        self.tree.setRootIndex(self.model.index(root))
        self._select_place_row(place)

    def _select_place_row(self, place: Place | None) -> None:
        for row in range(self.places_list.count()):
            if self.places_list.item(row).data(PLACE_ROLE) == place:
                self.places_list.setCurrentRow(row)
                return
        self.places_list.clearSelection()

    @Slot(QListWidgetItem)
    def _on_place_clicked(self, item: QListWidgetItem) -> None:
        place = item.data(PLACE_ROLE)
        if not isinstance(place, Place):
            return
        if place.kind == "recent" and place.folder is not None:
            self.sig_folder_selected.emit(place.folder)  # the window reveals it when it opens
        else:
            self.show_place(place)

    # ---- the open folder ---------------------------------------------------------------
    def reveal(self, folder: Path) -> None:
        """Show ``folder`` selected in its place's tree, without emitting ``sig_folder_selected``.

        The window calls this when it opens a folder, which also puts the folder first in the
        recent list (kept in the settings).
        """
        folder = Path(folder)
        remember_folder(folder)
        self.refresh_places()
        place = place_for(folder, self.places)
        if place is not None:
            self.show_place(place)
        idx = self.model.index(QDir.fromNativeSeparators(str(folder)))
        if not idx.isValid():
            return
        self._quiet = True
        self._last = folder
        try:
            self.tree.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.tree.expand(idx)
            self.tree.scrollTo(idx)
        finally:
            self._quiet = False

    def root_path(self) -> Path:
        """The folder the tree starts at."""
        return Path(self.model.filePath(self.tree.rootIndex()))

    @Slot(QModelIndex)
    def _on_tree_activated(self, index: QModelIndex) -> None:
        if self._quiet or not index.isValid():
            return
        path = Path(self.model.filePath(index))
        if path != self._last:
            self._last = path
            self.sig_folder_selected.emit(path)
