"""The Repeat detections dialog: one card for the planted rock, Suppress and Restore write decisions."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.review.season import planted_season
from wildlife_desktop.formats.decisions import REASON_REPEAT, latest_decisions, load_decisions
from wildlife_desktop.gui.dialogs.repeat_detections_dialog import RepeatDetectionsDialog
from wildlife_desktop.pipeline.sequences import assign_sequences


def test_cards_suppress_and_restore(qtbot, tmp_path: Path) -> None:
    preds = planted_season()
    for rel in preds:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (120, 100, 80)).save(tmp_path / rel)
    seqs = assign_sequences((r, p.meta.datetime) for r, p in preds.items())
    state = tmp_path / ".wildlife"
    state.mkdir()
    dlg = RepeatDetectionsDialog(tmp_path, preds, seqs, state, "ana")
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: not dlg.loading, timeout=10000)
    assert len(dlg.cards) == 1
    card = dlg.cards[0]
    assert "30 of 40 images" in card.title.text() and card.suppress_button.isEnabled()
    assert not card.restore_button.isEnabled()
    assert all(lab.pixmap() is not None and not lab.pixmap().isNull() for lab in card.crop_labels)
    with qtbot.waitSignal(dlg.sig_decisions_changed):
        card.suppress_button.click()
    qtbot.waitUntil(lambda: not dlg.loading, timeout=10000)
    eff = latest_decisions(load_decisions(state))
    assert len(eff) == 30 and {d.reason for d in eff.values()} == {REASON_REPEAT}
    card = dlg.cards[0]
    assert "suppressed" in card.title.text() and card.restore_button.isEnabled()
    assert not card.suppress_button.isEnabled()
    card.restore_button.click()
    qtbot.waitUntil(lambda: not dlg.loading and dlg.cards and dlg.cards[0].suppress_button.isEnabled(), timeout=10000)
    assert latest_decisions(load_decisions(state)) == {}
    assert len(load_decisions(state)) == 60  # both steps stay in the history
