"""Spreadsheet formula injection (issue 11, item 9): every CSV we write is safe to open in Excel."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats import write_csv
from wildlife_desktop.formats.bundle import ExportBundle, ExportItem, ModelInfo, SequenceInfo, detection_id
from wildlife_desktop.formats.csv_safe import FORMULA_TRIGGERS, csv_cell, csv_uncell
from wildlife_desktop.formats.decisions import ReviewDecision
from wildlife_desktop.formats.decisions_csv import read_decisions_csv, write_decisions_csv

HOSTILE = ("=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-33.9_18.4", "@SUM(A1)", "\t=1", "\r=1",
           "'=already quoted", "''-two quotes", "'plain", "plain", "", "a=b", "ö-1")


@pytest.mark.parametrize("value", HOSTILE)
def test_cell_is_neutralised_and_round_trips(value: str) -> None:
    cell = csv_cell(value)
    assert not cell.startswith(FORMULA_TRIGGERS)
    assert csv_uncell(cell) == value


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def _assert_no_formula(rows: list[dict[str, str]], numeric: set[str]) -> None:
    for row in rows:
        for col, value in row.items():
            if col not in numeric:
                assert not value.startswith(FORMULA_TRIGGERS), (col, value)


def test_detections_csv_quotes_file_location_label_failure(tmp_path: Path) -> None:
    rel, bad = "-33.9_18.4/IMG_0001.JPG", "=cmd|' /C calc'!A0/IMG_0002.JPG"
    det = Detection("1", 0.9, BBox(0.1, 0.1, 0.2, 0.2), (Classification("@fox", 0.9),))
    ok = Prediction(rel, "image", MediaMeta(width=64, height=48), (det,))
    failed = Prediction(bad, "image", failure="+failure")
    items = (ExportItem(ok, SequenceInfo("-33.9_18.4", "-33.9_18.4_seq_00000", 0, 1), (detection_id(rel, det),)),
             ExportItem(failed, SequenceInfo("=cmd|' /C calc'!A0", "=s", 0, 1), ()))
    bundle = ExportBundle(items, ModelInfo(detector="md.onnx", classifier="c", classifier_labels=("@fox",)),
                          "0.1", detection_threshold=0.2, classification_threshold=0.5)
    rows = _rows(write_csv(tmp_path / "detections.csv", bundle))
    _assert_no_formula(rows, {"confidence", "x_min", "y_min", "bbox_width", "bbox_height", "label_confidence", "frame"})
    by_file = {csv_uncell(r["file"]): r for r in rows}
    assert set(by_file) == {rel, bad}
    assert by_file[rel]["file"] == "'" + rel and by_file[rel]["location"] == "'-33.9_18.4"
    assert by_file[rel]["label"] == "'@fox" and by_file[rel]["confidence"] == "0.9"
    assert by_file[bad]["failure"] == "'+failure"


def test_decisions_csv_neutralises_and_reader_undoes_it(tmp_path: Path) -> None:
    rel = "-33.9_18.4/IMG_0001.JPG"
    det = Detection("1", 0.9, BBox(0.1, 0.1, 0.2, 0.2))
    decs = [ReviewDecision(rel, detection_id(rel, det), "relabel", "=1+1", "+ana", "2026-01-01T10:00:00",
                           det.bbox, None, "@fox", 0.9),
            ReviewDecision("=HYPERLINK(1)/x.jpg", "", "empty", "", "-bob", "2026-01-01T11:00:00")]
    path = write_decisions_csv(tmp_path / "d.csv", decs)
    _assert_no_formula(_rows(path), {"frame", "x_min", "y_min", "width", "height", "confidence"})
    back = {d.file: d for d in read_decisions_csv(path)}
    assert back[rel] == decs[0] and back["=HYPERLINK(1)/x.jpg"] == decs[1]
