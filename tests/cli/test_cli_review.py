"""``wildlife-desktop review ...`` on a real folder (tiny JPEGs + imported results)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.review.season import planted_season, write_season
from wildlife_desktop.cli import main
from wildlife_desktop.formats.decisions import REASON_REPEAT, load_decisions


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _csv(folder: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((folder / "detections.csv").read_text(encoding="utf-8-sig").splitlines()))


@pytest.fixture()
def season(tmp_path: Path) -> Path:
    return write_season(tmp_path / "season")


def test_rde_lists_suppresses_and_restores(season: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "review", "rde", str(season), "--json")
    assert rc == 0
    (cluster,) = json.loads(out)["clusters"]
    assert cluster["location"] == "cam1" and cluster["images"] == 30 and cluster["events"] == 8
    n_before = len(_csv(season))
    rc, out, _ = _run(capsys, "review", "rde", str(season), "--suppress", cluster["cluster_id"], "--reviewer", "ana")
    assert rc == 0 and "30 box(es)" in out
    recs = load_decisions(season / ".wildlife")
    assert len(recs) == 30 and {(d.reason, d.group, d.reviewer) for d in recs} == {
        (REASON_REPEAT, cluster["cluster_id"], "ana")}
    assert len(_csv(season)) == n_before - 30  # the sidecars dropped them
    rc, out, _ = _run(capsys, "review", "rde", str(season))
    assert "suppressed" in out
    rc, out, _ = _run(capsys, "review", "rde", str(season), "--restore", cluster["cluster_id"])
    assert rc == 0 and len(_csv(season)) == n_before
    rc, _, err = _run(capsys, "review", "rde", str(season), "--suppress", "rde-nothere")
    assert rc == 1 and err.startswith("error: No repeat-detection cluster") and len(err.splitlines()) == 1


def test_time_offset_moves_sequences_and_dates_in_every_export(season: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    def facts() -> tuple[dict, dict, dict]:
        rows = {r["file"]: (r["datetime"], r["seq_id"]) for r in _csv(season)}
        md = {im["file"]: im.get("datetime") for im in
              json.loads((season / "recognitions.json").read_text(encoding="utf-8"))["images"]}
        coco = json.loads((season / "coco_cameratraps.json").read_text(encoding="utf-8"))
        return rows, md, {im["file_name"]: (im.get("datetime"), im.get("seq_id")) for im in coco["images"]}

    rows, md, coco = facts()
    assert rows["cam2/IMG_0004.JPG"][0] == "2024-06-01 06:00:40"
    rc, out, _ = _run(capsys, "review", "time-offset", str(season), "cam2", "+1h30m")
    assert rc == 0 and "+1h30m" in out
    rows2, md2, coco2 = facts()
    assert rows2["cam2/IMG_0004.JPG"][0] == "2024-06-01 07:30:40"
    assert md2["cam2/IMG_0004.JPG"] == "2024-06-01 07:30:40"
    assert coco2["cam2/IMG_0004.JPG"][0].startswith("2024-06-01") and "07:30:40" in coco2["cam2/IMG_0004.JPG"][0]
    assert rows2["cam1/IMG_0004.JPG"] == rows["cam1/IMG_0004.JPG"]  # another camera is untouched
    # the original files are never rewritten
    assert not any(p.stat().st_mtime_ns > (season / ".wildlife" / "corrections.json").stat().st_mtime_ns
                   for p in season.rglob("*.JPG"))
    corr = json.loads((season / ".wildlife" / "corrections.json").read_text(encoding="utf-8"))
    assert corr["time_offsets"] == {"cam2": 5400} and corr["log"][-1]["what"] == "time offset cam2 +1h30m"


def test_bad_locations_and_offsets_are_one_line_errors(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    preds = {r: p for r, p in planted_season().items() if r in ("cam2/IMG_0000.JPG", "cam2/IMG_0005.JPG")}
    folder = write_season(tmp_path / "two", preds)
    seqs = {r["file"]: r["seq_id"] for r in _csv(folder)}
    assert len(set(seqs.values())) == 2
    rc, _, err = _run(capsys, "review", "time-offset", str(folder), "nowhere", "+2h")
    assert rc == 1 and "No camera location 'nowhere'" in err
    rc, _, err = _run(capsys, "review", "time-offset", str(folder), "cam2", "two hours")
    assert rc == 1 and "is not a time offset" in err


def test_smooth_counts_audit_and_deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import replace

    from wildlife_desktop.core.records import Classification

    preds = planted_season()
    odd = preds["cam2/IMG_0002.JPG"]  # event 0 of cam2: 5 zebras; this frame says wildebeest at 0.3
    preds["cam2/IMG_0002.JPG"] = replace(odd, detections=(replace(
        odd.detections[0], classifications=(Classification("wildebeest", 0.3),)),))
    folder = write_season(tmp_path / "s", preds)
    rc, out, _ = _run(capsys, "review", "smooth", str(folder), "--json")
    sugg = json.loads(out)["suggestions"]
    # cam1's rock (impala at 0.4) sits in events of zebras: proposed too, as a suggestion only
    assert {s["current"] for s in sugg if s["file"].startswith("cam1/")} == {"impala"}
    assert [(s["file"], s["current"], s["suggested"]) for s in sugg if s["file"].startswith("cam2/")] == [
        ("cam2/IMG_0002.JPG", "wildebeest", "zebra")]
    rc, out, _ = _run(capsys, "review", "smooth", str(folder), "--accept-all")
    row = next(r for r in _csv(folder) if r["file"] == "cam2/IMG_0002.JPG")
    assert (row["label"], row["verified"], row["label_source"]) == ("zebra", "true", "smoothing")

    rc, out, _ = _run(capsys, "review", "counts", str(folder), "--set", "cam2/IMG_0001.JPG", "zebra", "4", "--json")
    ev = next(e for e in json.loads(out)["events"] if e["seq_id"] == "cam2/seq_00000" and e["label"] == "zebra")
    assert ev["count"] == 4 and ev["edited"]

    rc, out, _ = _run(capsys, "review", "deployment", str(folder), "cam1", "Kafue-A 2024")
    corr = json.loads((folder / ".wildlife" / "corrections.json").read_text(encoding="utf-8"))
    assert corr["deployments"] == {"cam1": "Kafue-A 2024"}

    # every image has an animal at 0.9: at threshold 0.95 all are "empty", a sample of 4 per camera
    rc, out, _ = _run(capsys, "review", "audit", str(folder), "--per-camera", "4", "--threshold", "0.95", "--json")
    sample = json.loads(out)["sample"]
    assert sorted(sample) == ["cam1", "cam2"] and all(len(v) == 4 for v in sample.values())
    answers = [f"{r}=animal" for r in sample["cam1"][:1]] + [f"{r}=empty" for r in sample["cam1"][1:]]
    rc, out, _ = _run(capsys, "review", "audit", str(folder), "--per-camera", "4", "--threshold", "0.95",
                      *(x for a in answers for x in ("--answer", a)), "--json")
    cam1 = next(c for c in json.loads(out)["report"]["cameras"] if c["location"] == "cam1")
    assert cam1["answered"] == 4 and cam1["missed"] == 1 and cam1["miss_rate"] == 0.25
    saved = json.loads((folder / ".wildlife" / "audit.json").read_text(encoding="utf-8"))
    assert saved["sample"] == sample and saved["report"]["cameras"][0]["missed"] == 1
    rc, _, err = _run(capsys, "review", "audit", str(folder), "--per-camera", "4", "--threshold", "0.95",
                      "--answer", "cam1/nope.JPG=animal")
    assert rc == 1 and "audit sample" in err


def test_cameras_flags_a_swapped_card(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def jpeg(path: Path, serial: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0xA431] = serial  # BodySerialNumber
        Image.new("RGB", (32, 24)).save(path, exif=exif)

    for i in range(4):
        jpeg(tmp_path / "f" / "camA" / f"{i}.jpg", "SN-A")
        jpeg(tmp_path / "f" / "camB" / f"{i}.jpg", "SN-B" if i < 2 else "SN-A")
    rc, out, _ = _run(capsys, "review", "cameras", str(tmp_path / "f"), "--json")
    rep = json.loads(out)
    by = {loc["location"]: loc for loc in rep["locations"]}
    assert by["camA"]["serials"] == {"SN-A": 4} and not by["camA"]["mixed"]
    assert by["camB"]["serials"] == {"SN-B": 2, "SN-A": 2} and by["camB"]["mixed"]
    assert rep["shared"] == {"SN-A": ["camA", "camB"]}
