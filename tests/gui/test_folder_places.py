"""The folder tree starts at home, drives and recent folders (never at /), with the open folder revealed."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.item_models.folder_model import FolderModel
from wildlife_desktop.gui.widgets.folder_browser import FolderBrowserWidget
from wildlife_desktop.gui.widgets.places import build_places, place_for, recent_folders, removable_roots


def _browser(qtbot: QtBot) -> FolderBrowserWidget:
    w = FolderBrowserWidget(FolderModel(AppPaths.default()))
    qtbot.addWidget(w)
    w.resize(260, 600)
    w.show()
    return w


def test_tree_starts_at_home_not_at_the_file_system_root(qtbot: QtBot) -> None:
    home = Path.home()
    home.mkdir(parents=True, exist_ok=True)
    (home / "Pictures").mkdir()
    w = _browser(qtbot)
    assert w.root_path() == home
    assert [p.kind for p in w.places][0] == "home"
    root = w.tree.rootIndex()
    qtbot.waitUntil(lambda: w.model.rowCount(root) == 1)
    assert w.model.fileName(w.model.index(0, 0, root)) == "Pictures"  # not bin, proc, sys


def test_opened_folders_are_recent_persisted_and_revealed(qtbot: QtBot, tmp_path: Path) -> None:
    card = tmp_path / "cards" / "site_A"
    card.mkdir(parents=True)
    inside_home = Path.home() / "surveys" / "2024"
    inside_home.mkdir(parents=True)
    w = _browser(qtbot)
    w.reveal(card)  # what the window does when it opens a folder
    assert recent_folders() == [card]
    assert w.current_place is not None and w.current_place.kind == "recent"
    assert w.root_path() == card.parent
    assert Path(w.model.filePath(w.tree.currentIndex())) == card
    w.reveal(inside_home)
    assert w.root_path() == Path.home()  # under home: the home tree, expanded to it
    assert Path(w.model.filePath(w.tree.currentIndex())) == inside_home
    assert recent_folders() == [inside_home, card]

    again = _browser(qtbot)  # a new window lists them from the settings
    assert [p.folder for p in again.places if p.kind == "recent"] == [inside_home, card]


def test_clicking_a_recent_folder_opens_it(qtbot: QtBot, tmp_path: Path) -> None:
    card = tmp_path / "card"
    card.mkdir()
    w = _browser(qtbot)
    w.reveal(card)
    row = next(i for i, p in enumerate(w.places) if p.kind == "recent")
    with qtbot.waitSignal(w.sig_folder_selected) as blocker:
        w.places_list.itemClicked.emit(w.places_list.item(row))
    assert blocker.args == [card]


def test_removable_drives_and_place_rules() -> None:
    mounts = [("/", ""), ("/proc", "proc"), ("/sys", "sysfs"), ("/media/anna/CARD_01", "CARD_01"),
              ("/run/media/anna/NIKON", "/run/media/anna/NIKON"), ("/boot/efi", "")]
    assert removable_roots(mounts, "linux") == [("/media/anna/CARD_01", "CARD_01"),
                                                ("/run/media/anna/NIKON", "NIKON")]
    assert removable_roots([("E:/", ""), ("C:/", "Windows")], "win32") == [("C:/", "Windows (C:)"), ("E:/", "E:")]
    home = Path("/home/anna")
    places = build_places(home, [("/media/anna/CARD_01", "CARD_01")], [Path("/data/x"), home / ".cache" / "d"])
    assert place_for(Path("/media/anna/CARD_01/DCIM"), places).label == "CARD_01"  # type: ignore[union-attr]
    assert place_for(home / "a", places).kind == "home"  # type: ignore[union-attr]
    hidden = place_for(home / ".cache" / "d", places)  # the tree does not list dot folders
    assert hidden is not None and hidden.kind == "recent" and hidden.root == home / ".cache"
    assert place_for(Path("/elsewhere"), places) is None
