"""The processing job end to end on real images with tiny ONNX models: outputs, resume, layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.folders import make_card
from tests.fixtures.tiny_onnx import tiny_yolov10
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.progress import CancelToken
from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, JobStarted, run_job
from wildlife_desktop.pipeline.results import load_results
from wildlife_desktop.runtime.store import ModelStore


def _run(config: JobConfig, paths: AppPaths, cancel: CancelToken | None = None) -> list[object]:
    return list(run_job(config, paths=paths, cancel=cancel))


def _normalised(path: Path) -> object:
    """A sidecar without its run timestamps (everything else must be identical)."""
    if path.suffix == ".csv":
        return path.read_text(encoding="utf-8-sig")
    data = json.loads(path.read_text(encoding="utf-8"))
    info = data.get("info", {})
    for k in ("detection_completion_time", "classification_completion_time", "date_created"):
        info.pop(k, None)
    return data


def test_job_processes_every_file_and_reports_bad_ones(shared: Path, tmp_path: Path, paths: AppPaths,
                                                       models: tuple[str, str]) -> None:
    card = make_card(shared, tmp_path / "card", n_good=6)
    events = _run(JobConfig(card, models[0], models[1]), paths)
    started = events[0]
    assert isinstance(started, JobStarted) and started.total == 11 and started.todo == 11
    done = [e.prediction for e in events if isinstance(e, FileProcessed)]
    assert len(done) == 11  # the symlink loop is not followed, so nothing is seen twice
    assert [e.progress.done for e in events if isinstance(e, FileProcessed)] == list(range(1, 12))
    by = {p.rel_path: p for p in done}
    assert by["cam2/zero.jpg"].failure and "0 bytes" in by["cam2/zero.jpg"].failure
    assert by["cam2/truncated.jpg"].failure and "truncated" in by["cam2/truncated.jpg"].failure
    assert by["cam2/notes.jpg"].failure and "not an image" in by["cam2/notes.jpg"].failure
    assert by["cam2/huge.jpg"].failure and "too large" in by["cam2/huge.jpg"].failure
    good = [p for p in done if not p.failed]
    assert len(good) == 7  # 6 JPEGs + the unicode PNG
    for p in good:
        assert p.meta.width and p.meta.height
        animal = [d for d in p.detections if d.category == "1"]
        assert len(animal) == 1 and animal[0].classifications  # classified per box
        b = animal[0].bbox
        assert 0 <= b.x and b.x + b.w <= 1.0001 and 0 <= b.y and b.y + b.h <= 1.0001
    # the tiny detector's score is the mean brightness: it must differ between different images
    assert len({p.detections[0].confidence for p in good}) > 2
    fin = events[-1]
    assert isinstance(fin, JobFinished) and not fin.summary.cancelled and fin.summary.failed == 4
    assert {p.name for p in fin.summary.sidecars} == {"recognitions.json", "coco_cameratraps.json",
                                                       "detections.csv"}
    assert all(p.parent == card for p in fin.summary.sidecars)
    _check_csv_matches_md(card, threshold=0.2)


def _check_csv_matches_md(folder: Path, threshold: float) -> None:
    """Every MD detection at or above the threshold is one CSV row with the same numbers."""
    import csv

    md = json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))
    want = sorted(
        (im["file"], d["category"], d["conf"], tuple(d["bbox"]))
        for im in md["images"] for d in im["detections"] or [] if d["conf"] >= threshold
    )
    names = {"animal": "1", "person": "2", "vehicle": "3"}
    with open(folder / "detections.csv", encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] in names]
    got = sorted(
        (r["file"], names[r["category"]], float(r["confidence"]),
         tuple(float(r[k]) for k in ("x_min", "y_min", "bbox_width", "bbox_height")))
        for r in rows
    )
    assert got == want and got
    failed = [im["file"] for im in md["images"] if im.get("failure")]
    with open(folder / "detections.csv", encoding="utf-8-sig", newline="") as fh:
        assert sorted(r["file"] for r in csv.DictReader(fh) if r["category"] == "failed") == sorted(failed)


def test_boxes_follow_exif_orientation(tmp_path: Path, paths: AppPaths) -> None:
    from PIL import Image

    store = ModelStore(paths)
    m = store.import_onnx(tiny_yolov10(tmp_path / "asym.onnx", box=(0.5, 0.25, 0.75, 0.5)), family="yolov10",
                          labels=("animal", "person", "vehicle"))
    folder = tmp_path / "rot"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90° clockwise (portrait)
    Image.new("RGB", (200, 100), (120, 120, 120)).save(folder / "rotated.jpg", exif=exif.tobytes())
    Image.new("RGB", (200, 100), (120, 120, 120)).save(folder / "upright.jpg")
    _run(JobConfig(folder, m.id), paths)
    res = load_results(folder, paths)
    assert res is not None
    rot, up = res.predictions["rotated.jpg"], res.predictions["upright.jpg"]
    assert (rot.meta.width, rot.meta.height) == (100, 200) and (up.meta.width, up.meta.height) == (200, 100)
    # 64 px square letterbox: the display image (100x200) is scaled by 0.32 and padded 16 px left/right
    assert rot.detections[0].bbox.as_list() == pytest.approx([0.5, 0.25, 0.5, 0.25], abs=1e-3)
    assert up.detections[0].bbox.as_list() == pytest.approx([0.5, 0.0, 0.25, 0.5], abs=1e-3)


def test_cancel_then_resume_equals_uninterrupted(shared: Path, tmp_path: Path, paths: AppPaths,
                                                 models: tuple[str, str]) -> None:
    a = make_card(shared, tmp_path / "a", n_good=8)
    b = make_card(shared, tmp_path / "b", n_good=8)
    _run(JobConfig(a, *models), paths)

    cancel = CancelToken()
    seen = 0
    for ev in run_job(JobConfig(b, *models), paths=paths, cancel=cancel):
        if isinstance(ev, FileProcessed):
            seen += 1
            if seen == 4:
                cancel.cancel()
        if isinstance(ev, JobFinished):
            assert ev.summary.cancelled and ev.summary.processed == 4
    second = _run(JobConfig(b, *models), paths)
    assert isinstance(second[0], JobStarted) and second[0].already_done == 4 and second[0].todo == 9
    for name in ("recognitions.json", "coco_cameratraps.json", "detections.csv"):
        assert _normalised(a / name) == _normalised(b / name), name


def test_new_files_only_and_model_change_makes_a_new_layer(shared: Path, tmp_path: Path, paths: AppPaths,
                                                           models: tuple[str, str]) -> None:
    card = make_card(shared, tmp_path / "card", n_good=3, bad=False)
    _run(JobConfig(card, models[0]), paths)
    first = load_results(card, paths)
    assert first is not None and len(first.predictions) == 3
    (card / "cam2" / "IMG_0001.JPG").rename(card / "cam2" / "moved.JPG")  # renamed counts as new
    import shutil

    shutil.copy2(card / "cam2" / "moved.JPG", card / "cam2" / "new.JPG")
    ev = _run(JobConfig(card, models[0]), paths)
    assert isinstance(ev[0], JobStarted) and ev[0].todo == 2 and ev[0].already_done == 2
    # the same detector with a classifier: another layer, which starts from zero
    ev = _run(JobConfig(card, *models), paths)
    assert isinstance(ev[0], JobStarted) and ev[0].todo == 4 and ev[0].layer_id != first.layer_id
    now = load_results(card, paths)
    assert now is not None and now.layer_id == ev[0].layer_id
    old = load_results(card, paths, layer_id=first.layer_id)
    assert old is not None and all(not d.classifications for p in old.predictions.values() for d in p.detections)


def test_random_weight_twin_is_flagged_everywhere(shared: Path, tmp_path: Path, paths: AppPaths) -> None:
    twin = shared / "models" / "twins" / "twin-yolov10n-640-random.onnx"
    m = ModelStore(paths).import_onnx(twin, family="yolov10", labels=("animal", "person", "vehicle"))
    assert m.random_weights
    card = make_card(shared, tmp_path / "card", n_good=2, bad=False)
    events = _run(JobConfig(card, m.id, conf_floor=0.0), paths)
    assert isinstance(events[0], JobStarted) and events[0].random_weights
    assert any("random weights" in w for w in events[0].warnings)
    md = json.loads((card / "recognitions.json").read_text(encoding="utf-8"))
    assert md["info"]["wildlife_desktop"]["random_weights"] is True
    coco = json.loads((card / "coco_cameratraps.json").read_text(encoding="utf-8"))
    assert "random" in json.dumps(coco["info"]).lower()


def test_read_only_folder_writes_to_app_data(shared: Path, tmp_path: Path, paths: AppPaths,
                                             models: tuple[str, str]) -> None:
    import os

    card = make_card(shared, tmp_path / "locked card", n_good=2, bad=False)
    for d in (card, card / "cam2", card / "Kamera 1", card / "Kamera 1" / "100RECNX"):
        os.chmod(d, 0o555)
    try:
        events = _run(JobConfig(card, models[0]), paths)
    finally:
        for d in (card, card / "cam2", card / "Kamera 1", card / "Kamera 1" / "100RECNX"):
            os.chmod(d, 0o755)
    st = events[0]
    assert isinstance(st, JobStarted) and any("read-only" in w for w in st.warnings)
    assert str(st.output_dir).startswith(str(paths.data))
    assert (st.output_dir / "recognitions.json").exists()
    assert sorted(p.name for p in card.iterdir()) == ["Kamera 1", "cam2"]  # nothing written on the card
