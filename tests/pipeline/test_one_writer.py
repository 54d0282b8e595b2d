"""One writer per folder, and no damaged file that bricks it (issue 11, items 1, 2 and 5)."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.folders import make_card
from tests.pipeline.fixtures_layers import card_with_results, rerun_missing
from wildlife_desktop.cli import main
from wildlife_desktop.core.locks import FolderBusyError, run_lock
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.formats.decisions import load_decisions
from wildlife_desktop.pipeline.job import JobConfig, JobFinished, JobStarted, run_job
from wildlife_desktop.pipeline.journal import Journal, Workspace
from wildlife_desktop.pipeline.results import export_folder, load_results

REPO = Path(__file__).resolve().parents[2]


def test_a_second_detect_on_a_busy_folder_says_so_and_exits_non_zero(
        shared: Path, tmp_path: Path, paths: AppPaths, models: tuple[str, str]) -> None:
    card = make_card(shared, tmp_path / "card", n_good=2, bad=False)
    first = run_job(JobConfig(card, models[0]), paths=paths)
    assert isinstance(next(first), JobStarted)  # the first run is under way (holds the folder)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    second = subprocess.run([sys.executable, "-m", "wildlife_desktop", "detect", str(card), "--detector", models[0]],
                            env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1, second.stderr
    assert "already being processed" in second.stderr and "Traceback" not in second.stderr
    # the same refusal for the window's run (same job, same process or not)
    with pytest.raises(FolderBusyError, match="already being processed"):
        next(run_job(JobConfig(card, models[0]), paths=paths))
    events = list(first)
    assert isinstance(events[-1], JobFinished) and events[-1].summary.processed == 2
    with run_lock(Workspace.locate(card, paths, create=False).state_dir, card):  # released at the end
        pass


def test_garbled_state_and_damaged_decisions_never_brick_a_folder(
        shared: Path, tmp_path: Path, paths: AppPaths, models: tuple[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    card = make_card(shared, tmp_path / "card", n_good=2, bad=False)
    list(run_job(JobConfig(card, models[0]), paths=paths))
    state = card / ".wildlife" / "state.json"
    layer_id = json.loads(state.read_text(encoding="utf-8"))["active_layer"]
    state.write_bytes(b'{"schema_version": 1, "active_la\x00\xff')  # a garbled write
    decisions = card / ".wildlife" / "decisions.jsonl"
    decisions.write_text('{"header": true, "schema_version": 2}\n{"crc": 1, "d": {"file": "x.jpg", "decis',
                         encoding="utf-8")  # truncated
    with caplog.at_level(logging.WARNING):
        res = load_results(card, paths)
        assert res is not None and res.layer_id == layer_id and len(res.predictions) == 2
        assert export_folder(card, paths=paths)  # export works
    assert "state.json" in caplog.text and "decisions.jsonl" in caplog.text
    assert (card / ".wildlife" / "state.json.damaged").read_bytes().endswith(b"\x00\xff")  # the damaged copy kept
    assert json.loads(state.read_text(encoding="utf-8"))["active_layer"] == layer_id  # rebuilt from layers/
    # an unknown decision kind in the file: skipped and counted, the rest kept, detect runs
    with open(decisions, "a", encoding="utf-8") as fh:
        fh.write('\n{"crc": 0, "d": {"file": "y.jpg", "detection_id": "d1", "decision": "maybe"}}\n')
    state.write_text("[1, 2]", encoding="utf-8")
    events = list(run_job(JobConfig(card, models[0]), paths=paths))
    warnings = events[0].warnings
    assert any("state.json" in w for w in warnings) and any("decisions.jsonl" in w and "2" in w for w in warnings)
    assert load_decisions(card / ".wildlife") == ()


def test_a_corrupt_journal_line_names_the_file_it_held(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.pipeline.test_journal import _pred

    j = Journal(tmp_path / "journal.jsonl")
    for rel in ("cam/a.jpg", "cam/b.jpg", "cam/c.jpg"):
        j.append((rel, 10, 1), _pred(rel))
    j.close()
    lines = (tmp_path / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("0.9", "0.1")  # cam/b.jpg: CRC mismatch
    (tmp_path / "journal.jsonl").write_text("\n".join(lines) + "\n" + lines[3][:30], encoding="utf-8")  # torn c
    with caplog.at_level(logging.WARNING):
        j2 = Journal(tmp_path / "journal.jsonl")
        assert set(j2.load()) == {"cam/a.jpg", "cam/c.jpg"}
    assert len(j2.warnings) == 1 and "cam/b.jpg" in j2.warnings[0] and "cam/b.jpg" in caplog.text
    assert "cam/c.jpg" not in j2.warnings[0]  # its good line is there: nothing lost


def test_a_csv_relabel_follows_its_animal_to_another_model_and_a_missed_one_stays(
        shared: Path, tmp_path: Path, paths: AppPaths, models: tuple[str, str]) -> None:
    """Decisions imported from a bare six-column CSV, then ``detect`` with another model."""
    from wildlife_desktop.formats.bundle import detection_id

    card, res, rels, first = card_with_results(shared, tmp_path, paths, models)
    with open(tmp_path / "bob.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "detection_id", "decision", "label", "reviewer", "time"])
        for rel in rels:
            w.writerow([rel, detection_id(rel, first[rel]), "relabel", "zebra", "bob", "2026-01-01T10:00:00"])
    assert main(["decisions", "import", str(card), str(tmp_path / "bob.csv")]) == 0
    stored = load_decisions(card / ".wildlife")
    assert [d.bbox for d in stored] == [first[rel].bbox for rel in rels]  # the box came with the decision
    # another model: the same detector file at another confidence floor is another layer; then
    # the journal of the new layer loses its first file's boxes (the model missed that animal)
    rerun_missing(card, paths, models, res.layer_id, rels[0])
    rows = list(csv.DictReader((card / "detections.csv").read_text(encoding="utf-8-sig").splitlines()))
    zebras = sorted((r["file"], r["category"], r["verified"]) for r in rows if r["label"] == "zebra")
    assert zebras == [(rels[0], "animal", "true"), (rels[1], "animal", "true")]
    md = json.loads((card / "recognitions.json").read_text(encoding="utf-8"))
    names = md["classification_categories"]
    for im in md["images"]:
        dets = [d for d in im["detections"] if any(names[c] == "zebra" for c, _ in d.get("classifications", []))]
        assert len(dets) == 1 and dets[0]["verified"] is True and dets[0]["category"] == "1"
        assert dets[0]["bbox"] == pytest.approx(first[im["file"]].bbox.as_list(), abs=1e-3)
    coco = json.loads((card / "coco_cameratraps.json").read_text(encoding="utf-8"))
    zebra_id = next(c["id"] for c in coco["categories"] if c["name"] == "zebra")
    assert sorted(a["image_id"] for a in coco["annotations"] if a["category_id"] == zebra_id) == rels
