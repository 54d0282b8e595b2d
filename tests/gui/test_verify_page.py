"""Verify page: help overlay from the key map, keymap overrides, pace/ETA, crop prefetch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.gui.conftest import LILA_DIR
from tests.gui.helpers import open_verify
from wildlife_desktop.core.records import BBox, Detection, Prediction
from wildlife_desktop.gui.widgets.verify_page import VerifyPageWidget, item_key
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.results import load_results
from wildlife_desktop.review.actions import ReviewAction
from wildlife_desktop.review.keymap import DEFAULT_KEYMAP, normalize_key
from wildlife_desktop.review.session import ReviewSession

QUICK = ("zebra", "impala", "gazelle", "wildebeest", "bird", "hare", "lion", "hyena", "elephant")


@pytest.fixture
def lila_folder(tmp_path: Path) -> Path:
    dst = tmp_path / "lila"
    shutil.copytree(LILA_DIR, dst)
    dst.chmod(0o755)
    import_results(dst, dst / "md_v5a_reference_output.json")
    return dst


def _synthetic_session(tmp_path: Path, n: int, clock: list[float]) -> ReviewSession:
    preds = {f"cam/img_{i:03d}.jpg": Prediction(f"cam/img_{i:03d}.jpg", "image", detections=(
        Detection("1", 0.5 + i / 1000, BBox(0.1, 0.1, 0.3, 0.3)),)) for i in range(n)}
    return ReviewSession(preds, tmp_path / "state", reviewer="tester", quick_labels=QUICK,
                         clock=lambda: clock[0])


def _page(qtbot: QtBot) -> VerifyPageWidget:
    page = VerifyPageWidget()
    qtbot.addWidget(page)
    page.resize(1366, 700)
    with qtbot.waitActive(page):
        page.show()
        page.activateWindow()
    page.setFocus()
    return page


def test_help_overlay_lists_every_default_binding(qtbot: QtBot, tmp_path: Path) -> None:
    page = _page(qtbot)
    page.set_session(_synthetic_session(tmp_path, 3, [0.0]), tmp_path)
    qtbot.keyClick(page, "?")
    assert page.help_overlay.isVisible()
    listed = {k for keys, _ in page.help_overlay.rows() for k in keys.split(" / ")}
    assert {normalize_key(k) for k in DEFAULT_KEYMAP} <= listed
    assert any("zebra" in text for _, text in page.help_overlay.rows())
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not page.help_overlay.isVisible() and QApplication.focusWidget() is page
    qtbot.keyClick(page, Qt.Key.Key_F1)
    assert page.help_overlay.isVisible()


def test_keymap_override_file_rebinds_accept(qtbot: QtBot, lila_folder: Path, app_home: Path) -> None:
    config = app_home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "keymap.json").write_text(json.dumps({"Space": "accept", "Return": None}), encoding="utf-8")
    win = open_verify(qtbot, lila_folder)
    s = win.verify.session
    assert s is not None
    first = s.current
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)  # unbound now
    assert s.decision_for(first) is None
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    d = s.decision_for(first)
    assert d is not None and d.decision == "accept"
    assert "Space" in win.verify.decision_bar.button(ReviewAction.ACCEPT).text()


def test_pace_and_eta_update_over_25_decisions(qtbot: QtBot, tmp_path: Path) -> None:
    clock = [100.0]
    page = _page(qtbot)
    page.set_session(_synthetic_session(tmp_path, 30, clock), tmp_path)
    assert page.progress_label.text() == "0 done / 30 remaining"
    assert "after a few" in page.eta_label.text()
    keys = [Qt.Key.Key_Return, "X", "U", "1", "2"]
    for i in range(25):
        clock[0] += 3.0
        with qtbot.waitSignal(page.sig_decisions_changed, timeout=1000):
            qtbot.keyClick(page, keys[i % len(keys)])
    p = page.session.progress()  # type: ignore[union-attr]
    assert (p.done, p.remaining, p.pace_s) == (25, 5, 3.0)
    assert page.progress_label.text() == "25 done / 5 remaining"
    assert page.eta_label.text() == "ETA 15 s at your pace (3.0 s per crop)"
    assert page.progress_bar.value() == 25 and page.progress_bar.maximum() == 30


def test_next_crop_is_prefetched_and_shown_at_once(qtbot: QtBot, lila_folder: Path, tmp_path: Path) -> None:
    res = load_results(lila_folder)
    assert res is not None
    session = ReviewSession.from_results(res, reviewer="tester", state_dir=tmp_path / "state")
    page = _page(qtbot)
    page.set_session(session, lila_folder)
    for _ in range(3):
        nxt = page._upcoming(2)
        assert len(nxt) == 2
        qtbot.waitUntil(lambda nxt=nxt: page.crop_view.key == page.current_key()
                        and all(page.loader.get(item_key(it)) is not None for it in nxt), timeout=10_000)
        qtbot.keyClick(page, Qt.Key.Key_Return)
        # no waiting: the crop on screen is already the new current item's
        assert page.current_key() == item_key(nxt[0])
        assert page.crop_view.key == item_key(nxt[0]) and page.crop_view.has_image()
        assert page.frame_view.key == item_key(nxt[0])


def test_sequence_neighbours_are_listed(qtbot: QtBot, tmp_path: Path) -> None:
    from wildlife_desktop.pipeline.sequences import assign_sequences

    session = _synthetic_session(tmp_path, 4, [0.0])
    times = {f"cam/img_{i:03d}.jpg": f"2024-05-01 10:00:{i * 5:02d}" for i in range(4)}
    seqs = assign_sequences(times.items())
    page = _page(qtbot)
    page.set_session(session, tmp_path, seqs)
    assert page.sequence_strip.frame_paths() == sorted(times)
    assert "of 4" in page.sequence_label.text()
