"""What needs no Ray cluster: the message without Ray, sharding, and packs checked by sha256."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.fixtures.tiny_onnx import tiny_yolov10
from wildlife_desktop.cli import main
from wildlife_desktop.core.errors import ModelLoadError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import MediaFile
from wildlife_desktop.pipeline.cluster import (
    RAY_MISSING,
    ClusterError,
    ClusterOptions,
    PredictWorker,
    RayPredictor,
    check_reachable,
    materialize,
    pack_blobs,
    read_failure,
    shard,
)
from wildlife_desktop.pipeline.predict import PredictOptions
from wildlife_desktop.runtime.store import ModelStore


def test_without_ray_one_line_says_how_to_install_it(tmp_path: Path, paths: AppPaths, models: tuple[str, str],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is not installed
    with pytest.raises(ClusterError, match="^Ray is not installed: pip install 'wildlife-desktop\\[cluster\\]'$"):
        RayPredictor(paths)
    (tmp_path / "card").mkdir()
    assert main(["detect", str(tmp_path / "card"), "--detector", models[0], "--ray", "auto"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {RAY_MISSING}"]
    assert not (tmp_path / "card" / ".wildlife").exists()  # stopped before the job touched the folder


def _files(*rels: str) -> list[MediaFile]:
    return [MediaFile(rel_path=r, kind="image", size=1, mtime_ns=1) for r in rels]


def test_shards_are_runs_of_one_folder_at_most_n_files_in_order() -> None:
    todo = _files("a.jpg", "b.jpg", "cam1/1.jpg", "cam1/2.jpg", "cam1/3.jpg", "cam1/x/1.jpg", "cam2/1.jpg")
    chunks = shard(todo, 2)
    assert [[f.rel_path for f in c] for c in chunks] == [
        ["a.jpg", "b.jpg"], ["cam1/1.jpg", "cam1/2.jpg"], ["cam1/3.jpg"], ["cam1/x/1.jpg"], ["cam2/1.jpg"]]
    assert [f for c in shard(todo, 100) for f in c] == todo and shard([], 4) == []


def test_packs_travel_as_checked_bytes_and_open_on_the_worker(tmp_path: Path, paths: AppPaths) -> None:
    store = ModelStore(paths)
    det = store.import_onnx(tiny_yolov10(tmp_path / "d.onnx"), family="yolov10", labels=("animal", "person", "vehicle"))
    (blob,) = pack_blobs(store, [det.id, det.id])
    assert blob.sha256 == det.sha256 and blob.file_name == det.file
    worker_store = materialize([blob], tmp_path / "cache")
    assert worker_store.open_detector(det.id).input_size == 64  # sha256 checked again by the store
    assert materialize([blob], tmp_path / "cache").root == worker_store.root  # cached by content
    with pytest.raises(ModelLoadError, match="arrived damaged"):
        materialize([replace(blob, data=blob.data[:-1] + b"\0")], tmp_path / "other")
    (store.root / det.id / det.file).write_bytes(blob.data[:-1] + b"\0")  # damaged in the driver's store
    with pytest.raises(ModelLoadError, match="does not match its manifest"):
        pack_blobs(store, [det.id])


def test_send_bytes_read_failures_read_as_a_local_run_words_them(tmp_path: Path) -> None:
    for path, why in ((tmp_path / "missing.jpg", "file not found"), (tmp_path, "not an image file (a folder)")):
        with pytest.raises(OSError) as info:
            path.read_bytes()
        assert read_failure(info.value) == why


def test_a_worker_loads_the_model_once_and_says_what_it_cannot_see(tmp_path: Path, paths: AppPaths,
                                                                   models: tuple[str, str]) -> None:
    blobs = pack_blobs(ModelStore(paths), list(models))
    worker = PredictWorker(blobs, models[0], models[1], 1)  # the actor's state, here in-process
    assert worker.ready(str(tmp_path / "not-mounted-here")) == (os.getpid(), None, False)
    assert worker.ready(str(tmp_path))[2] and worker.ready(None)[2]
    (tmp_path / "a.jpg").write_bytes(b"")
    files = [MediaFile(rel_path="a.jpg", kind="image", size=0, mtime_ns=1),
             MediaFile(rel_path="sub/b.jpg", kind="image", size=0, mtime_ns=1)]
    preds = worker.predict(str(tmp_path), files, PredictOptions(), [b"", "cannot read file (Permission denied)"])
    assert [p.failure for p in preds] == ["empty file (0 bytes)", "cannot read file (Permission denied)"]
    assert not [f for f in worker.scratch().rglob("*") if f.is_file()]  # sent files are deleted after use
    stale = worker.scratch().parent / "999999999"  # a dead worker process's folder (above any pid)
    stale.mkdir()
    assert PredictWorker(blobs, models[0], None, 1).scratch().is_dir() and not stale.exists()
    broken = PredictWorker(blobs, "no-such-model", None, 1)
    assert "not installed" in (broken.ready()[1] or "")
    with pytest.raises(ModelLoadError, match="not installed"):
        broken.predict(str(tmp_path), files, PredictOptions())


def test_a_bad_or_unreachable_address_is_one_line_at_once(paths: AppPaths) -> None:
    with pytest.raises(ClusterError, match="host:port"):
        RayPredictor(paths, ClusterOptions("nonsense"))
    with pytest.raises(ClusterError, match="^Cannot reach the Ray cluster at 127.0.0.1:1: "):
        check_reachable("127.0.0.1:1", timeout_s=2.0)  # nothing listens on port 1 of the loopback
