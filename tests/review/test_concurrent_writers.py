"""Two real processes writing one folder's decisions at once: every decision is kept.

CLI + CLI (two ``decisions import`` started together) and a review session (this process,
one key press after another) + a ``decisions import`` in another process. Before the
append-only store, the last writer's rewrite of ``decisions.json`` erased the other's records.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import ReviewDecision, latest_decisions, load_decisions
from wildlife_desktop.pipeline.journal import LayerInfo, Workspace
from wildlife_desktop.pipeline.results import load_results
from wildlife_desktop.pipeline.scan import scan_folder
from wildlife_desktop.review.queue import QueueThresholds
from wildlife_desktop.review.session import ReviewSession

REPO = Path(__file__).resolve().parents[2]
FILES, BOXES = 30, 60  # 1,800 detections


def _site(root: Path) -> tuple[Path, list[tuple[str, str]]]:
    """A folder with one result layer of FILES x BOXES detections; returns it and every (file, id)."""
    folder = root / "site"
    for i in range(FILES):
        (folder / "cam").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (90, 110, 70)).save(folder / "cam" / f"{i:03d}.jpg", "JPEG")
    ws = Workspace.locate(folder, AppPaths.default(), create=True)
    assert ws is not None
    lid = ws.ensure_layer(LayerInfo(source="run", detector="md.onnx", classifier="cls.onnx"))
    ws.set_active(lid)
    journal, keys = ws.journal(lid), []
    for f in scan_folder(folder).files:
        dets = tuple(Detection("1", 0.5, BBox((b % 10) / 10, (b // 10) / 10, 0.05, 0.05),
                               (Classification("red_fox", 0.5),)) for b in range(BOXES))
        journal.append(f.key, Prediction(f.rel_path, "image", MediaMeta(width=64, height=48), dets))
        keys += [(f.rel_path, detection_id(f.rel_path, d)) for d in dets]
    journal.close()
    return folder, keys


def _csv(path: Path, keys: list[tuple[str, str]], who: str, label: str) -> Path:
    """The six-column CSV a colleague sends (no boxes), decided before any key press of this test."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "detection_id", "decision", "label", "reviewer", "time"])
        w.writerows([rel, did, "relabel", label, who, "2020-01-01T10:00:00+00:00"] for rel, did in keys)
    return path


def _import(folder: Path, csv_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "wildlife_desktop", "decisions", "import", str(folder),
                             str(csv_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen[str]) -> str:
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return out


def _old_history(folder: Path, n: int = 20_000) -> list[ReviewDecision]:
    """A season of earlier review in the previous release's decisions.json (migrated on first open)."""
    old = [ReviewDecision(f"2025/{i:05d}.jpg", f"d{i:012x}", "accept", "red_fox", "eve", "2025-06-01T10:00:00+00:00",
                          BBox(0.1, 0.1, 0.2, 0.2), None, "red_fox", 0.7) for i in range(n)]
    (folder / ".wildlife" / "decisions.json").write_text(
        json.dumps({"schema_version": 1, "decisions": [d.to_dict() for d in old]}, indent=1), encoding="utf-8")
    return old


def test_two_decisions_imports_at_once_keep_both(tmp_path: Path) -> None:
    folder, keys = _site(tmp_path)
    old = _old_history(folder)  # a long history: each writer spends a while between reading and writing
    a = _csv(tmp_path / "ana.csv", keys[0::2], "ana", "badger")
    b = _csv(tmp_path / "bob.csv", keys[1::2], "bob", "roe_deer")
    procs = [_import(folder, a), _import(folder, b)]
    for p in procs:
        _finish(p)
    eff = latest_decisions(load_decisions(folder / ".wildlife"))
    assert set(eff) == set(keys) | {d.key for d in old}  # neither import erased the other, nor the history
    assert {d.reviewer for d in eff.values()} == {"ana", "bob", "eve"}
    assert all(eff[k].bbox is not None for k in keys)  # bare rows got their boxes on the way in
    # the sidecars written last include both reviewers' labels
    text = (folder / "detections.csv").read_text(encoding="utf-8-sig")
    assert text.count(",badger,") == len(keys) // 2 and text.count(",roe_deer,") == len(keys) // 2


def test_a_review_session_and_an_import_at_once_keep_both(tmp_path: Path) -> None:
    folder, keys = _site(tmp_path)
    res = load_results(folder)
    assert res is not None
    session = ReviewSession.from_results(res, reviewer="ana", thresholds=QueueThresholds(accept=0.98, ignore=0.2))
    theirs = keys[len(keys) // 2:]
    mine: set[tuple[str, str]] = set()
    proc = _import(folder, _csv(tmp_path / "bob.csv", theirs, "bob", "roe_deer"))
    while proc.poll() is None or len(mine) < 3:  # key presses while the import runs, and after it
        item = session.current
        if item is None:  # every crop decided before the import ended (a slow machine): wait for it
            break
        mine.add((item.file, item.detection_id))
        session.relabel("badger")
        time.sleep(0.01)  # a person's pace: the presses spread over the import
    _finish(proc)
    assert len(mine) >= 3
    eff = latest_decisions(load_decisions(folder / ".wildlife"))
    theirs_kept = {k for k in theirs if k not in mine}
    assert mine <= set(eff) and theirs_kept <= set(eff)
    assert {k for k, d in eff.items() if d.reviewer == "bob"} == theirs_kept
    # the open session has taken the import in (with its last save, and on reload)
    session.reload()
    assert {k for k, d in latest_decisions(session.history()).items() if d.reviewer == "bob"} == theirs_kept
    decided = {(it.file, it.detection_id) for it in session.items if session.decision_for(it) is not None}
    assert decided == mine | theirs_kept
