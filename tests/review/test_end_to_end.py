"""End to end on REAL MegaDetector v5a results: import, review headless, export, validate, re-run, merge."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.md_validator import assert_valid_md
from wildlife_desktop.cli import main as cli_main
from wildlife_desktop.formats.decisions import load_decisions
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.results import export_folder, load_results
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.queue import QueueThresholds
from wildlife_desktop.review.session import ReviewSession

REF = "md_v5a_reference_output.json"


def _sidecars(folder: Path) -> tuple[dict, dict, list[dict[str, str]]]:
    md = json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))
    coco = json.loads((folder / "coco_cameratraps.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader((folder / "detections.csv").read_text(encoding="utf-8-sig").splitlines()))
    return md, coco, rows


def _md_verified(md: dict) -> dict[tuple[str, tuple[float, ...]], str | None]:
    names = md.get("classification_categories", {})
    return {(im["file"], tuple(d["bbox"])): (names[d["classifications"][0][0]] if d.get("classifications") else None)
            for im in md["images"] for d in im["detections"] or () if d.get("verified")}


@pytest.fixture()
def folder(shared: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "lila copy"
    shutil.copytree(shared / "samples" / "lila_test_images", dst)
    dst.chmod(0o755)  # the shared samples are read-only; copies keep that mode
    import_results(dst, dst / REF)
    return dst


def test_review_real_md_results_then_export_merge_rerun_and_csv(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = load_results(folder)
    assert res is not None
    seqs = assign_sequences((r, p.meta.datetime) for r, p in res.predictions.items())
    s = ReviewSession.from_results(res, reviewer="ana", sequences=seqs, thresholds=QueueThresholds(0.98, 0.2))
    total = s.progress().total
    n_queued = sum(1 for p in res.predictions.values() for d in p.detections if 0.2 <= d.confidence < 0.98)
    assert total == n_queued > 3
    margins = [it.margin for it in s.items]
    assert margins == sorted(margins)

    accepted, rejected, relabelled = s.items[0], s.items[1], s.items[2]
    assert s.accept() and s.reject() and s.relabel("impala")
    export_folder(folder)
    md, coco, rows = _sidecars(folder)
    assert_valid_md(folder)

    box = {it.detection_id: (it.file, tuple(round(v, 4) for v in it.detection.bbox.as_list()))
           for it in (accepted, rejected, relabelled)}
    assert _md_verified(md) == {box[accepted.detection_id]: None, box[relabelled.detection_id]: "impala"}
    md_boxes = {(im["file"], tuple(d["bbox"])) for im in md["images"] for d in im["detections"] or ()}
    assert box[rejected.detection_id] not in md_boxes
    ref_total = sum(len(im.get("detections") or ()) for im in json.loads((folder / REF).read_text())["images"])
    assert len(md_boxes) == ref_total - 1  # only the rejected box is gone

    cats = {c["id"]: c["name"] for c in coco["categories"]}
    got = {a["detection_id"]: cats[a["category_id"]] for a in coco["annotations"] if a.get("verified")}
    assert got == {accepted.detection_id: "animal", relabelled.detection_id: "impala"}
    assert rejected.detection_id not in {a.get("detection_id") for a in coco["annotations"]}
    csv_verified = {r["detection_id"]: r["label"] for r in rows if r["verified"] == "true"}
    assert csv_verified == {accepted.detection_id: "", relabelled.detection_id: "impala"}

    # restart: the decisions are still there and the session resumes after them
    again = ReviewSession.from_results(load_results(folder), reviewer="ana", sequences=seqs,
                                       thresholds=QueueThresholds(0.98, 0.2))
    assert again.progress().done == 3 and again.current == s.items[3]

    # re-run with "another model": same boxes nudged (new detection ids), new layer; decisions follow by IoU
    other = json.loads((folder / REF).read_text(encoding="utf-8"))
    other["info"]["detector"] = "another_detector_v2"
    for im in other["images"]:
        for d in im.get("detections") or ():
            d["bbox"] = [round(min(v + 0.003, 0.99), 4) if i < 2 else v for i, v in enumerate(d["bbox"])]
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    rep = import_results(folder, tmp_path / "other.json")
    assert rep.results.layer_id != res.layer_id
    md2, _, rows2 = _sidecars(folder)
    assert_valid_md(folder)
    assert sorted(_md_verified(md2).values(), key=str) == [None, "impala"]
    assert sum(len(im["detections"] or ()) for im in md2["images"]) == ref_total - 1
    assert {r["label"] for r in rows2 if r["verified"] == "true"} == {"", "impala"}

    # a second reviewer's CSV, merged: a later decision wins, the conflict is listed
    mine = tmp_path / "ana.csv"
    assert cli_main(["decisions", "export", str(folder), str(mine)]) == 0
    with mine.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert {(r["detection_id"], r["decision"], r["label"]) for r in table} == {
        (accepted.detection_id, "accept", ""), (rejected.detection_id, "reject", ""),
        (relabelled.detection_id, "relabel", "impala")}
    bob = tmp_path / "bob.csv"
    bob.write_text("file,detection_id,decision,label,reviewer,time\n"
                   f"{accepted.file},{accepted.detection_id},reject,,bob,2999-01-01T00:00:00+00:00\n",
                   encoding="utf-8")
    capsys.readouterr()
    assert cli_main(["decisions", "import", str(folder), str(bob)]) == 0
    out = capsys.readouterr().out
    assert "1 conflict(s)" in out and "kept reject//bob" in out and "overruled accept//ana" in out
    md3, coco3, _ = _sidecars(folder)
    assert_valid_md(folder)
    assert list(_md_verified(md3).values()) == ["impala"]
    assert sum(len(im["detections"] or ()) for im in md3["images"]) == ref_total - 2
    assert load_decisions(res.output_dir / ".wildlife")[-1].reviewer == "bob"


def test_cli_thresholds_from_decisions(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``decisions thresholds``: the window's *Thresholds from review*, worked out by hand here."""
    from wildlife_desktop.formats.decisions import ReviewDecision, save_decisions

    res = load_results(folder)
    assert res is not None
    decided = [ReviewDecision(f"f{i}.jpg", f"d{i}", "accept", reviewer="ana", time=f"2026-01-01T00:00:0{i}+00:00",
                              model_label="animal", confidence=0.9) for i in range(6)]
    decided.append(ReviewDecision("g.jpg", "d9", "reject", reviewer="ana", time="2026-01-01T00:00:09+00:00",
                                  model_label="animal", confidence=0.3))
    save_decisions(res.output_dir / ".wildlife", decided)
    capsys.readouterr()
    assert cli_main(["decisions", "thresholds", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    animal = out["classes"]["animal"]
    assert animal["precision"]["0.20"] == pytest.approx(6 / 7) and animal["support"]["0.20"] == 7
    assert animal["precision"]["0.40"] == 1.0 and animal["support"]["0.40"] == 6
    assert animal["suggested"] == 0.9 and out["suggested_accept"] == 0.9  # 6 right of 6 from 0.9 up
    assert cli_main(["decisions", "thresholds", str(folder), "--target", "80"]) == 0
    text = capsys.readouterr().out
    assert "86% (7)" in text and "Suggested accept threshold for 80% precision in every class: 30%" in text
