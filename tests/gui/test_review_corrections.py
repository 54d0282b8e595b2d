"""Issue 14 in the window: counts edited in the review pane, Review > Cameras and time…, and the
empty-image audit dialog (state-level)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from tests.gui.helpers import open_folder, show_window
from tests.review.season import write_season
from wildlife_desktop.formats.decisions import load_decisions
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.review.counts import event_counts


def _window(qtbot: QtBot, tmp_path: Path) -> tuple[MainWindow, Path]:
    QSettings().setValue("review/reviewer", "ana")
    folder = write_season(tmp_path / "season")
    win = show_window(qtbot)
    open_folder(qtbot, win, folder)
    return win, folder


def _select(qtbot: QtBot, win: MainWindow, rel: str) -> None:
    win.grid.select_row(win.model.row_of(rel))
    qtbot.waitUntil(lambda: win.review.current_rel_path() == rel, timeout=5000)


def test_counts_edited_in_the_review_pane(qtbot: QtBot, tmp_path: Path) -> None:
    win, folder = _window(qtbot, tmp_path)
    _select(qtbot, win, "cam1/IMG_0001.JPG")
    panel = win.review.counts
    assert panel.isVisible() and set(panel.spins) >= {"zebra", "deer"}
    assert panel.spins["zebra"].value() == 1 and panel.event_labels["zebra"].text() == "event: 1"
    panel.spins["zebra"].setValue(3)  # a person counts three zebras in this frame
    recs = [d for d in load_decisions(folder / ".wildlife") if d.decision == "count"]
    assert [(d.file, d.label, d.count, d.reviewer) for d in recs] == [("cam1/IMG_0001.JPG", "zebra", 3, "ana")]
    assert panel.spins["zebra"].value() == 3 and panel.event_labels["zebra"].text() == "event: 3"
    _select(qtbot, win, "cam1/IMG_0002.JPG")  # another frame of the same event: its own count, the event's 3
    assert panel.spins["zebra"].value() == 1 and panel.event_labels["zebra"].text() == "event: 3"
    # what the exports and tables compute from the stored decisions
    c = win.controller
    rows = event_counts(c.results.predictions, c.sequences, load_decisions(folder / ".wildlife"))
    zebra = [r for r in rows if r.label == "zebra" and c.sequences["cam1/IMG_0001.JPG"].seq_id == r.seq_id]
    assert zebra and zebra[0].count == 3 and zebra[0].edited
    _select(qtbot, win, "cam1/IMG_0001.JPG")  # a later edit overrides (no undo in the pane)
    panel.spins["zebra"].setValue(2)
    assert panel.event_labels["zebra"].text() == "event: 2"


def test_cameras_and_time_dialog_moves_capture_times(qtbot: QtBot, tmp_path: Path) -> None:
    from PIL import Image

    from wildlife_desktop.formats.corrections import load_corrections

    win, folder = _window(qtbot, tmp_path)
    for rel, serial in (("cam2/IMG_0000.JPG", "SN-A"), ("cam2/IMG_0019.JPG", "SN-B")):  # a swapped card
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0xA431] = serial  # BodySerialNumber
        Image.new("RGB", (64, 48)).save(folder / rel, exif=exif)
    rel = "cam2/IMG_0005.JPG"
    _select(qtbot, win, rel)
    assert win.review.date_label.text() == "2024-06-01 08:00:00"
    seq_before = win.controller.sequences[rel]
    win.show_cameras_time()
    dlg = win.cameras_dialog
    qtbot.waitUntil(lambda: not dlg.loading, timeout=10000)
    assert dlg.table.rowCount() == 2 and set(dlg.offset_edits) == {"cam1", "cam2"}
    row = [dlg.table.item(r, 0).text() for r in range(2)].index("cam2")
    assert "SN-A" in dlg.table.item(row, 2).text() and "swapped" in dlg.table.item(row, 3).text()
    dlg.offset_edits["cam2"].setText("banana")
    dlg.apply()
    assert "not a time offset" in dlg.status.text() and not dlg.saving
    dlg.offset_edits["cam2"].setText("+1h30m")
    dlg.deployment_edits["cam2"].setText("Waterhole 2024")
    with qtbot.waitSignal(dlg.sig_applied, timeout=10000):
        dlg.apply()
    c = load_corrections(folder / ".wildlife")
    assert c.offset("cam2") == 5400 and c.deployment("cam2", "") == "Waterhole 2024" and c.log[-1]["who"] == "ana"
    qtbot.waitUntil(lambda: bool(win.controller.corrections) and win.controller.corrections.offset("cam2") == 5400,
                    timeout=10000)
    qtbot.waitUntil(lambda: win.review.date_label.text() == "2024-06-01 09:30:00", timeout=10000)
    assert win.controller.sequences[rel] is not seq_before  # sequences recomputed on the corrected times
    _select(qtbot, win, "cam1/IMG_0005.JPG")  # another camera: unchanged
    assert win.review.date_label.text() == "2024-06-01 08:00:00"


def _audit_season() -> dict:
    """Two cameras of 10 images: 4 with a zebra at 0.9, 6 "empty" (one box at 0.15, below 0.2)."""
    from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction

    out = {}
    for cam in ("cam1", "cam2"):
        for i in range(10):
            rel = f"{cam}/IMG_{i:04d}.JPG"
            conf = 0.9 if i < 4 else 0.15
            det = Detection("1", conf, BBox(0.2, 0.2, 0.2, 0.2), (Classification("zebra", 0.9),))
            out[rel] = Prediction(rel, "image", MediaMeta(640, 480, f"2024-06-0{1 + i % 3} 0{i % 10}:00:00"), (det,))
    return out


def test_empty_image_audit_dialog(qtbot: QtBot, tmp_path: Path) -> None:
    import json

    from wildlife_desktop.formats.methods import load_methods

    QSettings().setValue("review/reviewer", "ana")
    folder = write_season(tmp_path / "season", _audit_season())
    win = show_window(qtbot)
    open_folder(qtbot, win, folder)
    win.adopt_detection_threshold(0.2)
    win.show_audit()
    dlg = win.audit_dialog
    dlg.per_camera.setValue(3)
    dlg.start()
    qtbot.waitUntil(lambda: not dlg.busy and dlg.current is not None, timeout=10000)
    assert {k: len(v) for k, v in dlg.sample.items()} == {"cam1": 3, "cam2": 3} and len(dlg.pending) == 6
    qtbot.waitUntil(lambda: dlg.image.pixmap() is not None and not dlg.image.pixmap().isNull(), timeout=10000)
    first = dlg.current
    assert first.startswith("cam1/")
    dlg.missed_button.click()  # an animal the detector saw at 0.15 only
    for _ in range(5):
        qtbot.waitUntil(lambda: not dlg.busy, timeout=10000)
        dlg.empty_button.click()
    qtbot.waitUntil(lambda: not dlg.busy and dlg.current is None, timeout=10000)
    decs = [d for d in load_decisions(folder / ".wildlife") if d.source == "audit"]
    assert len(decs) == 6 and {d.decision for d in decs} == {"empty", "missed"} and decs[0].file == first
    rep = {c.location: c for c in dlg.report.cameras}
    assert (rep["cam1"].answered, rep["cam1"].missed, rep["cam2"].missed) == (3, 1, 0)
    assert rep["cam1"].miss_rate_low < 1 / 3 < rep["cam1"].miss_rate_high
    assert rep["cam1"].suggested_threshold == 0.15 and "cam2" not in dlg.adopt_buttons
    saved = json.loads((folder / ".wildlife" / "audit.json").read_text())
    assert saved["sample"] == {k: list(v) for k, v in dlg.sample.items()}
    assert load_methods(folder / ".wildlife")["empty_image_audit"]["cameras"][0]["missed"] == 1
    dlg.adopt_buttons["cam1"].click()  # through the folder's thresholds for this model
    assert win.review.thresholds.detection == 0.15
    from wildlife_desktop.pipeline.view_settings import model_key

    assert win.view_settings.get(folder, model_key(win.controller.results.layer)).detection == 0.15
