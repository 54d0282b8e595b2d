"""Crop grid (issue 14): crops of one label side by side, keyboard multi-select, bulk accept /
relabel / reject as one undo step, Ctrl+Z undoes the whole step; crops decoded on the pool."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import LILA_DIR
from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.decisions import load_decisions
from wildlife_desktop.gui.dialogs.crop_grid_dialog import CropGridDialog
from wildlife_desktop.review.queue import QueueThresholds
from wildlife_desktop.review.session import ReviewSession


def _folder(tmp_path: Path) -> tuple[Path, ReviewSession]:
    """8 copies of one real JPEG: 5 'zebra' boxes, 3 'impala' boxes, all uncertain."""
    src = next(p for p in sorted(LILA_DIR.glob("*")) if p.suffix.lower() in (".jpg", ".jpeg"))
    folder = tmp_path / "imgs"
    folder.mkdir()
    preds = {}
    for i in range(8):
        rel = f"img_{i}.jpg"
        shutil.copy(src, folder / rel)
        label = "zebra" if i < 5 else "impala"
        det = Detection("1", 0.7, BBox(0.2, 0.2, 0.3, 0.3), (Classification(label, 0.6),))
        preds[rel] = Prediction(rel, "image", MediaMeta(datetime=f"2024-06-01 06:0{i}:00"), (det,))
    s = ReviewSession(preds, folder / ".wildlife", reviewer="ana", thresholds=QueueThresholds(0.99, 0.1))
    return folder, s


def _dialog(qtbot: QtBot, tmp_path: Path) -> tuple[CropGridDialog, ReviewSession, Path]:
    folder, s = _folder(tmp_path)
    d = CropGridDialog(s, folder)
    qtbot.addWidget(d)
    with qtbot.waitExposed(d):
        d.show()
    d.activateWindow()
    d.view.setFocus()
    return d, s, folder


def test_crops_of_one_label_decoded_on_the_pool(qtbot: QtBot, tmp_path: Path) -> None:
    d, _s, _f = _dialog(qtbot, tmp_path)
    assert d.model.rowCount() == 8
    d.select_label("zebra")
    assert d.model.rowCount() == 5 and {it.model_label for it in d.model.items} == {"zebra"}
    qtbot.waitUntil(lambda: all(d.model.has_crop(r) for r in range(5)), timeout=15000)
    assert d.model.decoded >= 5


def test_keyboard_multiselect_bulk_relabel_and_one_step_undo(qtbot: QtBot, tmp_path: Path) -> None:
    d, s, folder = _dialog(qtbot, tmp_path)
    d.select_label("zebra")
    changes: list[int] = []
    d.sig_decisions_changed.connect(lambda: changes.append(1))
    view = d.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert len(d.selected_items()) == 3
    assert d.relabel_selected("wildebeest") == 3
    recs = load_decisions(folder / ".wildlife")
    assert [r.label for r in recs] == ["wildebeest"] * 3 and changes == [1]
    assert d.model.data(d.model.index(0)) == "✔ wildebeest"
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    assert len(d.selected_items()) == 5
    qtbot.keyClick(view, Qt.Key.Key_X)  # false detection, all five: one step
    assert all(s.decision_for(it).decision == "reject" for it in d.model.items)  # type: ignore[union-attr]
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the whole bulk step
    got = [s.decision_for(it) for it in d.model.items]
    assert [g.label if g else None for g in got] == ["wildebeest"] * 3 + [None, None]
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all(s.decision_for(it) is None for it in d.model.items)
    assert d.redo() and sum(s.decision_for(it) is not None for it in d.model.items) == 3


def test_bulk_accept_keeps_each_model_label(qtbot: QtBot, tmp_path: Path) -> None:
    d, s, _f = _dialog(qtbot, tmp_path)
    d.view.setFocus()
    qtbot.keyClick(d.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(d.view, Qt.Key.Key_A)
    assert sorted(s.decision_for(it).label for it in d.model.items) == ["impala"] * 3 + ["zebra"] * 5  # type: ignore[union-attr]
    assert s.progress().remaining == 0


def test_window_opens_the_crop_grid_and_the_verify_page_follows(qtbot: QtBot, tmp_path: Path) -> None:
    from tests.gui.helpers import open_verify
    from wildlife_desktop.pipeline.importer import import_results

    dst = tmp_path / "lila"
    shutil.copytree(LILA_DIR, dst)
    dst.chmod(0o755)
    import_results(dst, dst / "md_v5a_reference_output.json")
    win = open_verify(qtbot, dst)
    assert win.crop_grid_action in win.menuBar().actions()[2].menu().actions()  # Review menu
    win.crop_grid_action.trigger()
    grid = win.crop_grid
    qtbot.waitUntil(lambda: grid.isVisible() and grid.model.rowCount() > 0, timeout=5000)
    session = win.verify.session
    assert session is not None and grid.session is session
    before = session.progress().done
    grid.view.selectAll()
    n = grid.decide_selected("accept")
    assert n == grid.model.rowCount() and session.progress().done == before + n
    assert win.verify.label_title.text() in ("All crops verified", "Nothing to verify") or session.current is None
    assert len(win.controller.decisions) >= n  # the window's history (sidecars, grid badges) has them
    assert grid.undo() and session.progress().done == before
