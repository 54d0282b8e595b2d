"""The job on a private Ray cluster (127.0.0.1): the same journal and sidecars as a local run,
resume, a worker killed mid-run, files a worker cannot read, and the CLI's ``--ray``."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.folders import make_card
from wildlife_desktop.cli import main
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.cluster import ClusterOptions, RayPredictor
from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, JobStarted, run_job

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("ray_cluster")]

SIDECARS = ("recognitions.json", "coco_cameratraps.json", "detections.csv")


def _outputs(folder: Path) -> dict[str, Any]:
    """The sidecars without their run timestamps, and the journal, exactly."""
    out: dict[str, Any] = {}
    for name in SIDECARS:
        path = folder / name
        if name.endswith(".csv"):
            out[name] = path.read_text(encoding="utf-8-sig")
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for k in ("detection_completion_time", "classification_completion_time", "date_created"):
            data.get("info", {}).pop(k, None)
        out[name] = data
    (journal,) = (folder / ".wildlife" / "layers").glob("*/journal.jsonl")
    out["journal"] = journal.read_text(encoding="utf-8")
    return out


def _run(folder: Path, models: tuple[str, str], paths: AppPaths, predictor: RayPredictor | None = None
         ) -> list[object]:
    config = JobConfig(folder, models[0], models[1], intra_threads=1)
    return list(run_job(config, paths=paths, predictor=predictor))


def _pngs(root: Path, n: int) -> Path:
    """``n`` copies of a 2000x1500 PNG (no draft decoding: ~30 ms each) in two folders."""
    y, x = np.mgrid[0:1500, 0:2000]
    img = Image.fromarray(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8))
    for i in range(n):
        sub = root / f"cam{i % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        if i < 2:
            img.save(sub / f"IMG_{i:04d}.png")
        else:
            shutil.copy(root / f"cam{i % 2}" / f"IMG_{i % 2:04d}.png", sub / f"IMG_{i:04d}.png")
    return root


def test_ray_writes_the_journal_and_sidecars_a_local_run_writes(shared: Path, tmp_path: Path, paths: AppPaths,
                                                                 models: tuple[str, str]) -> None:
    local = make_card(shared, tmp_path / "local", n_good=8, video=True)
    on_path = shutil.copytree(local, tmp_path / "ray", symlinks=True)
    as_bytes = shutil.copytree(local, tmp_path / "bytes", symlinks=True)
    _run(local, models, paths)
    for folder, send in ((on_path, False), (as_bytes, True)):
        predictor = RayPredictor(paths, ClusterOptions(chunk_files=3, send_bytes=send))
        events = _run(folder, models, paths, predictor)
        fin = events[-1]
        assert isinstance(fin, JobFinished) and fin.summary.processed == 14 and fin.summary.failed == 4
        assert len(predictor.worker_pids) == 2 and os.getpid() not in predictor.worker_pids  # ran on the workers
        preds = {e.prediction.rel_path: e.prediction for e in events if isinstance(e, FileProcessed)}
        assert "0 bytes" in (preds["cam2/zero.jpg"].failure or "")  # a bad file is its failure entry
        assert "truncated" in (preds["cam2/truncated.jpg"].failure or "")
        assert preds["cam2/clip.mp4"].kind == "video" and preds["cam2/clip.mp4"].frames_processed
        assert _outputs(folder) == _outputs(local), f"send_bytes={send}"


def test_a_partly_done_folder_resumes_on_ray(shared: Path, tmp_path: Path, paths: AppPaths,
                                             models: tuple[str, str]) -> None:
    local = make_card(shared, tmp_path / "local", n_good=10, bad=False)
    folder = shutil.copytree(local, tmp_path / "ray")
    _run(local, models, paths)
    run = run_job(JobConfig(folder, models[0], models[1], intra_threads=1), paths=paths,
                  predictor=RayPredictor(paths, ClusterOptions(chunk_files=2)))
    seen = 0
    for ev in run:  # the driver stops after 4 files (as a killed driver: the journal holds them)
        seen += isinstance(ev, FileProcessed)
        if seen == 4:
            break
    run.close()
    events = _run(folder, models, paths, RayPredictor(paths, ClusterOptions(chunk_files=2)))
    started = events[0]
    assert isinstance(started, JobStarted) and (started.already_done, started.todo) == (4, 6)
    assert _outputs(folder) == _outputs(local)


def test_a_worker_killed_mid_run_loses_only_its_files_in_flight(tmp_path: Path, paths: AppPaths,
                                                                models: tuple[str, str]) -> None:
    local = _pngs(tmp_path / "local", 60)
    folder = shutil.copytree(local, tmp_path / "ray")
    _run(local, models, paths)
    predictor = RayPredictor(paths, ClusterOptions(chunk_files=6))
    config = JobConfig(folder, models[0], models[1], intra_threads=1)
    events = []
    killed_at = None
    for ev in run_job(config, paths=paths, predictor=predictor):
        events.append(ev)
        if isinstance(ev, FileProcessed) and killed_at is None:
            os.kill(predictor.worker_pids[0], signal.SIGKILL)  # it holds its next chunk
            killed_at = ev.progress.done
    assert killed_at == 1
    fin = events[-1]
    assert isinstance(fin, JobFinished) and fin.summary.processed == 60 and fin.summary.failed == 0
    assert predictor.resubmitted >= 1  # the dead worker's chunks ran again on a restarted worker
    assert [e.progress.done for e in events if isinstance(e, FileProcessed)] == list(range(1, 61))
    assert _outputs(folder) == _outputs(local)  # each file once, in order, as a local run


def test_a_file_gone_before_the_worker_reads_it_is_a_failure_entry(shared: Path, tmp_path: Path, paths: AppPaths,
                                                                   models: tuple[str, str]) -> None:
    folder = make_card(shared, tmp_path / "card", n_good=6, bad=False)
    events = []
    for ev in run_job(JobConfig(folder, models[0], models[1]), paths=paths,
                      predictor=RayPredictor(paths, ClusterOptions(chunk_files=2))):
        events.append(ev)
        if isinstance(ev, JobStarted):
            (folder / "cam2" / "IMG_0005.JPG").unlink()  # scanned, then gone before any task ran
    preds = {e.prediction.rel_path: e.prediction for e in events if isinstance(e, FileProcessed)}
    assert preds["cam2/IMG_0005.JPG"].failure == "file not found"
    assert sum(p.failed for p in preds.values()) == 1
    fin = events[-1]
    assert isinstance(fin, JobFinished) and fin.summary.failed == 1 and not fin.summary.cancelled


def test_cli_detect_on_ray(shared: Path, tmp_path: Path, models: tuple[str, str],
                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_card(shared, tmp_path / "card", n_good=4, bad=False)
    rc = main(["detect", str(folder), "--detector", models[0], "--ray", "auto", "--ray-workers", "1"])
    err = capsys.readouterr().err
    assert rc == 0 and "Ray: 1 workers at auto" in err
    assert all((folder / n).is_file() for n in SIDECARS)
    assert main(["detect", str(folder), "--detector", models[0], "--ray-workers", "2"]) == 1
    assert "need --ray" in capsys.readouterr().err
