"""Flat CSV export."""

from __future__ import annotations

import csv
import io

from wildlife_desktop.formats import CSV_COLUMNS, write_csv

from .conftest import IMG1, IMG_EMPTY, IMG_FAILED, IMG_LOW, IMG_UNICODE, IMG_VERIFIED_EMPTY, VIDEO

HEADER_START = ("file,detection_id,frame,category,confidence,x_min,y_min,bbox_width,bbox_height,"
                "label,label_confidence,verified")


def read_rows(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs a UTF-8 BOM"
    text = raw.decode("utf-8-sig")
    assert text.startswith(HEADER_START + ",") and not text.startswith("#")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_rows(site):
    path = write_csv(site.root / "detections.csv", site.bundle)
    rows = read_rows(path)
    assert list(rows[0]) == list(CSV_COLUMNS)
    by_file: dict[str, list] = {}
    for r in rows:
        by_file.setdefault(r["file"], []).append(r)
    assert set(by_file) == {it.prediction.rel_path for it in site.bundle.items}
    kept = sum(1 for it in site.bundle.items if not it.verified_empty
               for i, d in enumerate(it.prediction.detections)
               if d.confidence >= site.bundle.detection_threshold or it.is_verified(i))
    assert len([r for r in rows if r["detection_id"]]) == kept
    # IMG1: two fox boxes above 0.2 plus the verified 0.15 person box; 0.05 box dropped
    r1 = by_file[IMG1]
    assert [r["confidence"] for r in r1] == ["0.93", "0.412", "0.15"]
    assert [r["label"] for r in r1] == ["red_fox", "red_fox", ""]
    assert [r["category"] for r in r1] == ["animal", "animal", "person"]
    assert [r["verified"] for r in r1] == ["false", "false", "true"]
    assert (r1[0]["x_min"], r1[0]["y_min"], r1[0]["bbox_width"], r1[0]["bbox_height"]) == ("0.1", "0.2", "0.3", "0.25")
    assert r1[0]["label_confidence"] == "0.88" and r1[0]["datetime"] == "2024-05-01 06:00:00"
    assert r1[0]["location"] == "cam1" and r1[0]["seq_id"] == "cam1_seq_00000"
    for rel in (IMG_EMPTY, IMG_LOW, IMG_VERIFIED_EMPTY):
        (row,) = by_file[rel]
        assert row["category"] == "empty" and row["detection_id"] == row["confidence"] == row["x_min"] == ""
    assert by_file[IMG_VERIFIED_EMPTY][0]["verified"] == "true"
    (failed,) = by_file[IMG_FAILED]
    assert failed["category"] == "failed" and failed["failure"] == "Image is truncated or corrupt"
    vid = by_file[VIDEO]
    assert sorted(r["frame"] for r in vid) == ["0", "30"] and {r["video_label"] for r in vid} == {"red_fox"}
    assert all(r["frame"] == "" for r in r1)


def test_csv_unicode_path_round_trips(site):
    rows = read_rows(write_csv(site.root / "detections.csv", site.bundle))
    uni = [r for r in rows if r["file"] == IMG_UNICODE]
    assert len(uni) == 2 and uni[1]["label"] == "chevreuil européen"
    assert (site.root / uni[0]["file"]).is_file()
    assert uni[0]["location"] == "Forêt du Nord"


def test_csv_rewrite_is_atomic_and_leaves_no_temp(site):
    path = site.root / "detections.csv"
    path.write_text("old", encoding="utf-8")
    write_csv(path, site.bundle)
    assert read_rows(path)
    assert not [p for p in site.root.iterdir() if p.name.endswith(".tmp")]
