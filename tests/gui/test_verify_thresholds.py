"""Thresholds from the review (dialog + adopt), the reviewer name asked once, typical display threshold."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QInputDialog
from pytestqt.qtbot import QtBot

from tests.gui.conftest import LILA_DIR
from wildlife_desktop.core.records import BBox
from wildlife_desktop.formats.decisions import ReviewDecision
from wildlife_desktop.gui.dialogs.threshold_dialog import ThresholdDialog
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.pipeline.importer import import_results


def _decision(i: int, kind: str, conf: float) -> ReviewDecision:
    return ReviewDecision(f"f{i}.jpg", f"d{i}", kind, label="deer" if kind == "accept" else "", reviewer="t",
                          time=f"2026-01-01T00:00:{i:02d}+00:00", bbox=BBox(0.1, 0.1, 0.2, 0.2),
                          model_label="deer", confidence=conf)


def test_threshold_dialog_suggests_and_adopts(qtbot: QtBot) -> None:
    decisions = [_decision(i, "accept", 0.5 + i * 0.04) for i in range(10)]
    decisions += [_decision(20, "reject", 0.3), _decision(21, "reject", 0.45)]
    dlg = ThresholdDialog(decisions, 0.98)
    qtbot.addWidget(dlg)
    assert dlg.table.rowCount() == 1 and dlg.table.item(0, 0).text() == "deer"
    assert dlg.suggested_threshold() == pytest.approx(0.5)  # every accept is at or above 0.5
    dlg.target.setValue(99.0)
    assert dlg.suggested_threshold() == pytest.approx(0.5)
    with qtbot.waitSignal(dlg.sig_adopted) as blocker:
        dlg.adopt_button.click()
    assert blocker.args == [pytest.approx(0.5)]


def test_adopt_sets_the_sessions_accept_threshold_and_reviewer_is_asked_once(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "lila"
    shutil.copytree(LILA_DIR, folder)
    folder.chmod(0o755)
    import_results(folder, folder / "md_v5a_reference_output.json")
    asked: list[int] = []

    def fake_get_text(*_args: object, **_kw: object) -> tuple[str, bool]:
        asked.append(1)
        return "ana", True

    monkeypatch.setattr(QInputDialog, "getText", fake_get_text)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    win.open_folder(folder)
    qtbot.waitUntil(lambda: win._results_loaded, timeout=15_000)
    assert win.review.thresholds.detection == pytest.approx(win.results.layer.typical_threshold)
    win.show_verify()
    s = win.verify.session
    assert s is not None and s.reviewer == "ana" and asked == [1]
    assert QSettings().value("review/reviewer") == "ana"
    win.show_browse()
    win.show_verify()
    assert asked == [1]
    total = s.progress().total
    win.verifier.show_threshold_dialog()
    dlg = win.verifier.threshold_dialog
    assert dlg is not None
    dlg.sig_adopted.emit(0.6)  # what "Adopt" emits
    s2 = win.verify.session
    assert s2 is not None and s2.thresholds.accept == pytest.approx(0.6)
    assert s2.progress().total < total
    assert win.verify.filter_bar.accept_spin.value() == 60
    dlg.close()
