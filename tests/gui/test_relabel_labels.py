"""Relabelling on first use: labels offered from the start, keys 1-9 work out of the box, a new label is confirmed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from tests.gui.helpers import copy_lila, open_folder, press, show_window
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.gui.widgets.label_search_popup import LabelSearchPopupWidget
from wildlife_desktop.pipeline.importer import import_results


@pytest.fixture
def verify_window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    """Real MegaDetector v5a results (detector only: no species labels), no quick labels set."""
    folder = copy_lila(tmp_path / "lila")
    import_results(folder, folder / "md_v5a_reference_output.json")
    QSettings().setValue("review/reviewer", "tester")
    win = show_window(qtbot, active=True)
    open_folder(qtbot, win, folder)
    win.show_verify()
    qtbot.waitUntil(lambda: win.verify.session is not None and win.verify.session.current is not None)
    return win


def test_number_keys_pick_the_most_frequent_labels_out_of_the_box(qtbot: QtBot, verify_window: MainWindow) -> None:
    s = verify_window.verify.session
    assert s is not None
    assert s.quick_labels() and s.quick_labels()[0] == "animal"  # the queue's most frequent model label
    item = s.current
    press(qtbot, verify_window, "1")
    d = s.decision_for(item)
    assert d is not None and (d.decision, d.label) == ("relabel", "animal")
    assert verify_window.verify.decision_bar is not None


def test_relabel_offers_labels_and_asks_before_a_new_one(qtbot: QtBot, verify_window: MainWindow) -> None:
    page = verify_window.verify
    s = page.session
    assert s is not None
    item = s.current
    press(qtbot, verify_window, "R")
    popup = page.label_popup
    assert popup.isVisible() and "animal" in popup.choices()  # offered before anything is typed
    assert not popup.hint.isVisibleTo(popup)
    qtbot.keyClicks(popup.edit, "gir")
    assert popup.choices() == []  # nothing known matches
    press(qtbot, verify_window, Qt.Key.Key_Return)
    assert popup.isVisible() and popup.pending_new == "gir"  # asked, not used
    assert "Create new label “gir”?" in popup.hint.text() and s.decision_for(item) is None
    press(qtbot, verify_window, Qt.Key.Key_Escape)  # back to editing, the popup stays
    assert popup.isVisible() and popup.pending_new is None
    qtbot.keyClicks(popup.edit, "affe")
    press(qtbot, verify_window, Qt.Key.Key_Return)
    press(qtbot, verify_window, Qt.Key.Key_Return)  # "Create new label 'giraffe'?" - yes
    assert not popup.isVisible()
    d = s.decision_for(item)
    assert d is not None and (d.decision, d.label) == ("relabel", "giraffe")
    assert "giraffe" in s.labels  # known from now on: no question the next time


def test_known_label_in_other_capitals_is_taken_without_asking(qtbot: QtBot) -> None:
    popup = LabelSearchPopupWidget()
    qtbot.addWidget(popup)
    chosen: list[str] = []
    popup.sig_label_chosen.connect(chosen.append)
    labels = ("Giraffe", "zebra")
    popup.open(lambda t: tuple(x for x in labels if t.lower() in x.lower()), labels)
    popup.edit.setText("GIRAFFE")
    popup._choose(None)
    assert chosen == ["Giraffe"]


def test_empty_label_list_shows_a_hint(qtbot: QtBot) -> None:
    popup = LabelSearchPopupWidget()
    qtbot.addWidget(popup)
    popup.show()
    popup.open(lambda _t: ())
    assert popup.hint.isVisibleTo(popup) and "type a species name" in popup.hint.text()
