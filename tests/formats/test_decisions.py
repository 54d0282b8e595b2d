"""The human-decision layer: decisions.jsonl, CSV exchange and the export merge rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats import build_coco, build_csv_rows, build_md_batch
from wildlife_desktop.formats.bundle import ExportBundle, ExportItem, ModelInfo, SequenceInfo, detection_id
from wildlife_desktop.formats.decisions import (
    ReviewDecision,
    apply_decisions,
    latest_decisions,
    load_decisions,
    merge_decisions,
    save_decisions,
)
from wildlife_desktop.formats.decisions_csv import read_decisions_csv, write_decisions_csv

FOX = Detection("1", 0.6, BBox(0.1, 0.1, 0.2, 0.2), (Classification("red_fox", 0.7), Classification("badger", 0.2)))
DEER = Detection("1", 0.9, BBox(0.6, 0.5, 0.3, 0.3), (Classification("roe_deer", 0.55),))
GHOST = Detection("1", 0.3, BBox(0.4, 0.0, 0.1, 0.1), (Classification("badger", 0.4),))


def _bundle(dets: tuple[Detection, ...] = (FOX, DEER, GHOST), rel: str = "a.jpg") -> ExportBundle:
    pred = Prediction(rel, "image", MediaMeta(width=640, height=480), dets)
    item = ExportItem(pred, SequenceInfo("cam", "cam#1", 0, 1), tuple(detection_id(rel, d) for d in dets))
    model = ModelInfo(detector="md.onnx", classifier="cls.onnx", classifier_labels=("red_fox", "badger", "roe_deer"))
    return ExportBundle((item,), model, "0.1", detection_threshold=0.2, classification_threshold=0.8)


def _dec(det: Detection, kind: str, label: str = "", t: str = "2026-01-01T10:00:00", who: str = "ana",
         rel: str = "a.jpg") -> ReviewDecision:
    did = detection_id(rel, det) if kind != "empty" else ""
    return ReviewDecision(rel, did, kind, label, who, t, det.bbox, det.frame, det.top_label or "", det.confidence)  # type: ignore[arg-type]


def test_save_load_round_trip_is_atomic_and_versioned(tmp_path: Path) -> None:
    decs = (_dec(FOX, "accept", "red_fox"), _dec(DEER, "relabel", "badger"), _dec(FOX, "empty"))
    path = save_decisions(tmp_path / ".wildlife", decs)
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(header) == {"header": True, "schema_version": 2} and len(lines) == 3
    assert all(set(json.loads(ln)) == {"crc", "d"} for ln in lines)  # one checksummed record per line
    assert load_decisions(tmp_path / ".wildlife") == decs
    assert load_decisions(tmp_path / "nowhere") == ()
    assert not list((tmp_path / ".wildlife").glob("*.tmp"))
    path.write_text(json.dumps({"header": True, "schema_version": 99}) + "\n")
    with pytest.raises(DatasetError, match="newer"):
        load_decisions(tmp_path / ".wildlife")


def test_latest_wins_and_clear_tombstone_removes() -> None:
    first, second = _dec(FOX, "accept", "red_fox"), _dec(FOX, "reject", t="2026-01-01T10:01:00")
    assert list(latest_decisions([first, second]).values()) == [second]
    assert latest_decisions([first, ReviewDecision("a.jpg", first.detection_id, "clear")]) == {}


def test_merge_rules_accept_relabel_reject_unknown() -> None:
    out = apply_decisions(_bundle(), [_dec(FOX, "accept", "red_fox"), _dec(DEER, "relabel", "badger"),
                                      _dec(GHOST, "reject")]).items[0]
    fox, deer = out.prediction.detections
    assert fox.classifications == FOX.classifications  # accepted: model label (and scores) kept
    assert deer.classifications == (Classification("badger", 1.0),)
    assert out.verified == (True, True) and out.detection_ids == (detection_id("a.jpg", FOX),
                                                                   detection_id("a.jpg", DEER))
    unk = apply_decisions(_bundle(), [_dec(FOX, "unknown", "unknown")]).items[0]
    assert unk.prediction.detections[0].top_label == "unknown" and unk.verified == (True, False, False)
    # accept carrying another label (a re-run model changed its mind): the verified label wins
    acc = apply_decisions(_bundle(), [_dec(DEER, "accept", "red_deer")]).items[0]
    assert acc.prediction.detections[1].top_label == "red_deer"


def test_verified_labels_reach_every_writer() -> None:
    bundle = apply_decisions(_bundle(), [_dec(DEER, "relabel", "badger"), _dec(GHOST, "reject")])
    md = build_md_batch(bundle)
    dets = md["images"][0]["detections"]
    names = md["classification_categories"]
    assert [(names[d["classifications"][0][0]], d.get("verified", False)) for d in dets] == [
        ("badger", True), ("red_fox", False)]
    coco = build_coco(bundle)
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted((cats[a["category_id"]], a["verified"]) for a in coco["annotations"]) == [
        ("animal", False), ("badger", True)]  # the fox is below the 0.8 label threshold, unverified
    rows = build_csv_rows(bundle)
    assert sorted((r["label"], r["verified"]) for r in rows) == [("", "false"), ("badger", "true")]


def test_empty_file_drops_every_box_unless_a_later_box_decision() -> None:
    decs = [_dec(FOX, "accept", "red_fox"), _dec(FOX, "empty", t="2026-01-01T11:00")]
    item = apply_decisions(_bundle(), decs).items[0]
    assert item.verified_empty and item.prediction.detections == ()
    assert build_md_batch(_with(item))["images"][0]["detections"] == []
    coco = build_coco(_with(item))
    assert coco["annotations"] == [{"id": 1, "image_id": "a.jpg", "category_id": 0, "verified": True}]
    later = apply_decisions(_bundle(), [_dec(FOX, "empty"), _dec(FOX, "accept", "red_fox")]).items[0]
    assert not later.verified_empty and len(later.prediction.detections) == 3


def _with(item: ExportItem) -> ExportBundle:
    b = _bundle()
    return ExportBundle((item,), b.model, b.app_version, b.detection_threshold, b.classification_threshold)


def test_rerun_with_another_model_keeps_decisions_by_iou() -> None:
    # model B: slightly shifted boxes (new ids), other scores and labels, plus an extra box
    fox_b = Detection("1", 0.5, BBox(0.11, 0.1, 0.2, 0.21), (Classification("badger", 0.6),))
    deer_b = Detection("1", 0.95, BBox(0.6, 0.51, 0.3, 0.29), (Classification("roe_deer", 0.9),))
    far_b = Detection("1", 0.4, BBox(0.8, 0.0, 0.1, 0.1))
    decs = [_dec(FOX, "accept", "red_fox"), _dec(DEER, "reject")]
    assert detection_id("a.jpg", fox_b) != decs[0].detection_id
    item = apply_decisions(_bundle((fox_b, deer_b, far_b)), decs).items[0]
    assert [d.top_label for d in item.prediction.detections] == ["red_fox", None]
    assert item.verified == (True, False)


def test_csv_round_trip_and_merge_conflicts(tmp_path: Path) -> None:
    ana = [_dec(FOX, "accept", "red_fox"), _dec(DEER, "relabel", "badger"), _dec(FOX, "empty")]
    path = write_decisions_csv(tmp_path / "ana.csv", ana)
    head = path.read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("file,detection_id,decision,label,reviewer,time")
    back = read_decisions_csv(path)
    assert {d.key: d for d in back} == latest_decisions(ana)
    bob = [_dec(FOX, "relabel", "badger", t="2026-01-02T09:00:00", who="bob"),   # later: wins
           _dec(DEER, "accept", "roe_deer", t="2025-12-31T09:00:00", who="bob")]  # earlier: loses
    merged = merge_decisions(list(back), bob)
    eff = latest_decisions(merged.decisions)
    assert eff[_dec(FOX, "accept").key].reviewer == "bob" and eff[_dec(DEER, "accept").key].label == "badger"
    assert merged.added == 1 and len(merged.conflicts) == 2
    assert {(c.kept.reviewer, c.overruled.reviewer) for c in merged.conflicts} == {("bob", "ana"), ("ana", "bob")}
    again = merge_decisions(merged.decisions, bob)
    assert again.added == 0


def test_csv_with_only_required_columns_and_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("file,detection_id,decision,label,reviewer,time\r\nx.jpg,,EMPTY,,,2026-01-01\r\n", encoding="utf-8")
    (d,) = read_decisions_csv(p, default_reviewer="cli")
    assert (d.file, d.detection_id, d.decision, d.reviewer, d.bbox) == ("x.jpg", "", "empty", "cli", None)
    p.write_text("file,detection_id,decision,label,reviewer,time\nx.jpg,d1,maybe,,,\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2"):
        read_decisions_csv(p)
    p.write_text("file,decision\nx.jpg,accept\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="detection_id"):
        read_decisions_csv(p)


PERSON = Detection("2", 0.8, BBox(0.3, 0.3, 0.2, 0.4))


def _outputs(bundle: ExportBundle) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(category, labels, verified, bbox) per box of MD JSON, COCO and CSV, sorted."""
    md = build_md_batch(bundle)
    mds = sorted((md["detection_categories"][d["category"]], tuple(md["classification_categories"][c]
                  for c, _ in d.get("classifications", [])), d.get("verified", False), tuple(d["bbox"]))
                 for d in md["images"][0]["detections"])
    coco = build_coco(bundle)
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    cocos = sorted((cats[a["category_id"]], a["verified"], tuple(round(v / 640, 4) for v in a["bbox"][:1]))
                   for a in coco["annotations"])
    rows = sorted((r["category"], r["label"], r["verified"], r["x_min"]) for r in build_csv_rows(bundle))
    return mds, cocos, rows


def test_a_verified_label_sets_the_category_in_every_output() -> None:
    bundle = _bundle((PERSON, FOX, DEER))
    decs = [_dec(PERSON, "relabel", "zebra"), _dec(FOX, "relabel", "person"), _dec(DEER, "relabel", "car")]
    md, coco, csv_rows = _outputs(apply_decisions(bundle, decs))
    assert [m[:3] for m in md] == [("animal", ("zebra",), True), ("person", (), True), ("vehicle", ("car",), True)]
    assert [c[:2] for c in coco] == [("car", True), ("person", True), ("zebra", True)]
    assert [r[:3] for r in csv_rows] == [("animal", "zebra", "true"), ("person", "", "true"),
                                         ("vehicle", "car", "true")]
    # an accepted species on a person box is an animal too; "unknown" keeps the detector's category
    person_as_fox = Detection("2", 0.8, PERSON.bbox, (Classification("red_fox", 0.9),))
    out = apply_decisions(_bundle((person_as_fox,)), [_dec(person_as_fox, "accept", "red_fox")])
    assert out.items[0].prediction.detections[0].category == "1"
    out = apply_decisions(_bundle((PERSON,)), [_dec(PERSON, "unknown", "unknown")])
    assert out.items[0].prediction.detections[0].category == "2"


def test_a_verified_animal_the_new_model_missed_stays_in_every_export() -> None:
    # decided on model A's boxes; model B finds only the deer (shifted) and a new far box
    decs = [_dec(FOX, "relabel", "badger"), _dec(DEER, "accept", "roe_deer"), _dec(GHOST, "reject")]
    deer_b = Detection("1", 0.95, BBox(0.6, 0.51, 0.3, 0.29), (Classification("roe_deer", 0.9),))
    far_b = Detection("1", 0.4, BBox(0.8, 0.0, 0.1, 0.1))
    item = apply_decisions(_bundle((deer_b, far_b)), decs).items[0]
    fox_out = item.prediction.detections[-1]
    assert (fox_out.bbox, fox_out.top_label, fox_out.category) == (FOX.bbox, "badger", "1")
    assert item.verified == (True, False, True) and item.detection_ids[-1] == decs[0].detection_id
    md, coco, csv_rows = _outputs(apply_decisions(_bundle((deer_b, far_b)), decs))
    assert ("animal", ("badger",), True, tuple(FOX.bbox.as_list())) in md
    assert ("badger", True, (0.1,)) in coco
    assert [r for r in csv_rows if r[1] == "badger"] == [("animal", "badger", "true", "0.1")]
    # the rejected ghost never comes back, and a later decision on the same animal is not doubled
    assert len(item.prediction.detections) == 3
    fox_b = Detection("1", 0.7, BBox(0.11, 0.1, 0.2, 0.2), (Classification("red_fox", 0.8),))
    again = apply_decisions(_bundle((fox_b, deer_b)), [*decs, _dec(fox_b, "accept", "red_fox",
                                                                    t="2026-01-02T10:00:00")]).items[0]
    assert [d.top_label for d in again.prediction.detections] == ["red_fox", "roe_deer"]


def test_bare_csv_rows_get_the_box_of_their_detection(tmp_path: Path) -> None:
    from wildlife_desktop.formats.decisions import attach_boxes

    p = tmp_path / "d.csv"
    did = detection_id("a.jpg", DEER)
    p.write_text(f"file,detection_id,decision,label,reviewer,time\r\na.jpg,{did},relabel,badger,bob,2026-01-01\r\n"
                 "a.jpg,,empty,,bob,2026-01-01\r\nb.jpg,dnope,reject,,bob,2026-01-01\r\n", encoding="utf-8")
    rows = read_decisions_csv(p)
    pred = _bundle().items[0].prediction
    boxed, n = attach_boxes(rows, {"a.jpg": pred})
    assert n == 1 and boxed[0].bbox == DEER.bbox and boxed[0].model_label == "roe_deer"
    assert boxed[0].confidence == 0.55 and boxed[1:] == rows[1:]
