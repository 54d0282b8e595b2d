"""Upkeep of a folder's decisions at export (issue 11, items 1 and 2).

Box-less decisions an older release stored (a bare six-column CSV import) get their detection's
box from the layers once, under the lock, so they survive a re-run with another model; a
history that is mostly superseded records is compacted at export.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from tests.pipeline.fixtures_layers import card_with_results, rerun_missing
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import (
    HISTORY_FILE,
    ReviewDecision,
    decisions_path,
    latest_decisions,
    load_decisions,
    save_decisions,
)
from wildlife_desktop.pipeline.results import export_folder, tend_decisions


def test_stored_boxless_decisions_get_their_box_once_and_survive_another_model(
        shared: Path, tmp_path: Path, paths: AppPaths, models: tuple[str, str]) -> None:
    card, res, rels, first = card_with_results(shared, tmp_path, paths, models)
    # what an import made before the fix stored: relabels without box, frame or model label
    bare = [ReviewDecision(rel, detection_id(rel, first[rel]), "relabel", "zebra", "bob", "2026-01-01T10:00:00")
            for rel in rels]
    (card / ".wildlife" / "decisions.json").write_text(  # the previous release's file
        json.dumps({"schema_version": 1, "decisions": [d.to_dict() for d in bare]}), encoding="utf-8")

    # another model (another layer) that misses the first file's animal
    rerun_missing(card, paths, models, res.layer_id, rels[0])

    stored = load_decisions(card / ".wildlife")
    assert [(d.bbox, d.label) for d in stored] == [(first[rel].bbox, "zebra") for rel in rels]
    assert all(d.model_label for d in stored)
    path = decisions_path(card / ".wildlife")
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0]).get("boxes_filled") is True
    rows = list(csv.DictReader((card / "detections.csv").read_text(encoding="utf-8-sig").splitlines()))
    zebras = sorted((r["file"], r["category"], r["verified"]) for r in rows if r["label"] == "zebra")
    assert zebras == [(rels[0], "animal", "true"), (rels[1], "animal", "true")]  # the missed one stays
    # once: the next export leaves the file alone
    ident = os.stat(path).st_ino, os.stat(path).st_mtime_ns
    export_folder(card, paths=paths)
    assert (os.stat(path).st_ino, os.stat(path).st_mtime_ns) == ident


def test_a_mostly_superseded_history_is_compacted_at_export(tmp_path: Path) -> None:
    state = tmp_path / ".wildlife"
    history = [ReviewDecision(f"cam/{i % 300:03d}.jpg", "d1", "relabel", f"label{i}", "ana",
                              f"2026-01-01T10:00:{i % 60:02d}") for i in range(12_000)]
    save_decisions(state, history)
    tended = tend_decisions(state)
    assert len(tended) == 300 and latest_decisions(tended) == latest_decisions(history)
    assert len(load_decisions(state)) == 300 and (state / HISTORY_FILE).is_file()
