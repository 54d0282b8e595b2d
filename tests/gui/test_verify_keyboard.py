"""Keyboard verification on REAL MegaDetector v5a results: keys only, then export and validate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from tests.fixtures.md_validator import assert_valid_md
from tests.gui.helpers import copy_lila, open_verify, press
from wildlife_desktop.gui.item_models.thumbnail_model import ThumbRole
from wildlife_desktop.pipeline.importer import import_results

REF = "md_v5a_reference_output.json"
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def lila_folder(tmp_path: Path) -> Path:
    dst = copy_lila(tmp_path / "lila copy")
    import_results(dst, dst / REF)
    return dst


def _focus(win: QWidget) -> QWidget:
    return QApplication.focusWidget() or win


def _md_verified(md: dict) -> dict[tuple[str, tuple[float, ...]], str | None]:
    names = md.get("classification_categories", {})
    return {(im["file"], tuple(d["bbox"])): (names[d["classifications"][0][0]] if d.get("classifications") else None)
            for im in md["images"] for d in im["detections"] or () if d.get("verified")}


def test_scripted_keyboard_session_then_export(qtbot: QtBot, lila_folder: Path) -> None:
    win = open_verify(qtbot, lila_folder)
    page = win.verify
    s = page.session
    assert s is not None and s.reviewer == "tester" and s.quick_labels()[:2] == ("zebra", "impala")
    assert QApplication.focusWidget() is page
    picked = []

    def decide(key: Qt.Key | str, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        picked.append(s.current)
        press(qtbot, win, key, mods)

    decide(Qt.Key.Key_Return)  # accept
    decide("X")  # false detection
    picked.append(s.current)
    press(qtbot, win, "R")  # relabel: type-ahead
    assert page.label_popup.isVisible() and QApplication.focusWidget() is page.label_popup.edit
    qtbot.keyClicks(_focus(win), "imp")
    assert page.label_popup.choices()[0] == "impala"
    press(qtbot, win, Qt.Key.Key_Return)
    assert not page.label_popup.isVisible() and QApplication.focusWidget() is page
    decide("1")  # quick label 1 = zebra
    zebra = picked[-1]
    press(qtbot, win, "Z", CTRL)  # undo the zebra
    assert s.decision_for(zebra) is None and s.current == zebra
    press(qtbot, win, "Z", CTRL | SHIFT)  # redo it
    assert s.decision_for(zebra) is not None
    decide("U")  # unknown

    a, x, r, q, u = picked
    assert len({it.detection_id for it in picked}) == 5
    got = {d.detection_id: (d.decision, d.label) for d in s.decisions()}
    assert got == {a.detection_id: ("accept", a.detection.top_label or ""), x.detection_id: ("reject", ""),
                   r.detection_id: ("relabel", "impala"), q.detection_id: ("relabel", "zebra"),
                   u.detection_id: ("unknown", "unknown")}
    assert {d.reviewer for d in s.decisions()} == {"tester"}

    # the grid's "reviewed" badge and filter follow the decisions
    reviewed = {it.file for it in picked}
    rows = {win.model.data(win.model.index(i), ThumbRole.MEDIA).rel_path:
            win.model.data(win.model.index(i), ThumbRole.REVIEWED) for i in range(win.model.rowCount())}
    assert {rel for rel, flag in rows.items() if flag} == reviewed

    with qtbot.waitSignal(win.controller.sig_exported, timeout=20_000):
        win.export_action.trigger()
    md = json.loads((lila_folder / "recognitions.json").read_text(encoding="utf-8"))
    coco = json.loads((lila_folder / "coco_cameratraps.json").read_text(encoding="utf-8"))
    table = list(csv.DictReader((lila_folder / "detections.csv").read_text(encoding="utf-8-sig").splitlines()))

    def box(it: object) -> tuple[str, tuple[float, ...]]:
        return (it.file, tuple(round(v, 4) for v in it.detection.bbox.as_list()))  # type: ignore[attr-defined]

    assert _md_verified(md) == {box(a): None, box(r): "impala", box(q): "zebra", box(u): "unknown"}
    md_boxes = {(im["file"], tuple(d["bbox"])) for im in md["images"] for d in im["detections"] or ()}
    assert box(x) not in md_boxes
    ref_total = sum(len(im.get("detections") or ()) for im in json.loads((lila_folder / REF).read_text())["images"])
    assert len(md_boxes) == ref_total - 1
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    coco_verified = {an["detection_id"]: cats[an["category_id"]] for an in coco["annotations"] if an.get("verified")}
    assert coco_verified == {a.detection_id: "animal", r.detection_id: "impala", q.detection_id: "zebra",
                             u.detection_id: "unknown"}
    assert x.detection_id not in {an.get("detection_id") for an in coco["annotations"]}
    assert {row["detection_id"]: row["label"] for row in table if row["verified"] == "true"} == {
        a.detection_id: "", r.detection_id: "impala", q.detection_id: "zebra", u.detection_id: "unknown"}

    assert_valid_md(lila_folder)

    # back in Browse, the review pane ticks the verified boxes of a decided file
    press(qtbot, win, Qt.Key.Key_F3)
    assert win.stack.currentWidget() is win.splitter
    win.grid.select_row(win.model.row_of(r.file))
    qtbot.waitUntil(lambda: win.review.current_rel_path() == r.file, timeout=5_000)
    assert any("impala" in t for t in win.review.verified_texts())


def test_quick_label_editor_rebinds_number_keys_without_losing_undo(qtbot: QtBot, lila_folder: Path) -> None:
    win = open_verify(qtbot, lila_folder)
    s = win.verify.session
    assert s is not None
    press(qtbot, win, Qt.Key.Key_Return)  # one decision, so there is something to undo
    win.verifier.edit_quick_labels()
    dlg = win.verifier.quick_labels_dialog
    assert dlg is not None and [e.text() for e in dlg.edits[:3]] == ["zebra", "impala", "bird"]
    dlg.edits[0].setText("warthog")
    dlg.edits[1].setText("")  # an empty key is left out; the next label moves up
    dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert win.verify.session is s  # same session: its undo history is kept
    assert s.quick_labels()[:2] == ("warthog", "bird")
    assert QSettings().value("review/quick_labels") == ["warthog", "bird"]
    from wildlife_desktop.review.actions import ReviewAction

    assert "warthog" in win.verify.decision_bar.button(ReviewAction.QUICK_LABEL_1).text()
    item = s.current
    press(qtbot, win, "1")
    assert s.decision_for(item) is not None and s.decision_for(item).label == "warthog"
    press(qtbot, win, Qt.Key.Key_Z, CTRL)
    press(qtbot, win, Qt.Key.Key_Z, CTRL)  # both decisions undone, the one from before the edit too
    assert len([d for d in s.decisions() if d.decision != "clear"]) == 0
    win.verifier.edit_quick_labels()
    win.verifier.quick_labels_dialog.automatic_button.click()
    assert not QSettings().value("review/quick_labels") and "warthog" not in s.quick_labels()[:1]


def test_accept_threshold_change_keeps_the_session_and_its_undo(qtbot: QtBot, lila_folder: Path) -> None:
    win = open_verify(qtbot, lila_folder)
    s = win.verify.session
    assert s is not None
    n_before = len(s.items)
    press(qtbot, win, Qt.Key.Key_Return)
    assert len(s.decisions()) == 1
    win.verifier.set_accept_threshold(0.5)
    assert win.verify.session is s and s.thresholds.accept == 0.5 and len(s.items) < n_before
    press(qtbot, win, Qt.Key.Key_Z, CTRL)
    assert all(d.decision == "clear" for d in s.decisions()) or not s.decisions()
