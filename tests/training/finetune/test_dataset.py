"""Training examples from the decision layer: which decisions count, latest wins, boxes, groups, crops."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import ReviewDecision, append_decisions, save_decisions
from wildlife_desktop.pipeline.images import load_image
from wildlife_desktop.pipeline.journal import STATE_DIRNAME, Workspace
from wildlife_desktop.pipeline.results import load_results
from wildlife_desktop.pipeline.video import read_frame
from wildlife_desktop.runtime.manifest import IMAGENET_MEAN, IMAGENET_STD
from wildlife_desktop.runtime.preprocess import InputSpec, crop_batch, meanstd_spec
from wildlife_desktop.training.finetune import collect_examples
from wildlife_desktop.training.finetune.features import crops_to_tensor, crops_u8, cut_crops


def _decision(rel: str, det_id: str, kind: str, label: str = "", t: int = 0, **kw: object) -> ReviewDecision:
    return ReviewDecision(
        file=rel,
        detection_id=det_id,
        decision=kind,
        label=label,
        reviewer="b",  # type: ignore[arg-type]
        time=f"2026-11-24T09:00:{t:02d}+00:00",
        **kw,
    )  # type: ignore[arg-type]


def test_accept_and_relabel_count_the_rest_not_latest_wins(verified: Path, paths: AppPaths) -> None:
    res = load_results(verified, paths)
    assert res is not None
    rels = sorted(res.predictions)
    cars = [r for r in rels if r.startswith("car")]
    deer = [r for r in rels if r.startswith("deer") and res.predictions[r].detections]
    opossum = [r for r in rels if r.startswith("opossum")]

    def top(rel: str) -> str:
        dets = res.predictions[rel].detections
        return detection_id(rel, max(dets, key=lambda d: d.confidence))

    def second(rel: str) -> str:
        dets = sorted(res.predictions[rel].detections, key=lambda d: -d.confidence)
        return detection_id(rel, dets[1])

    two_box_cars = [r for r in cars if len(res.predictions[r].detections) == 2]
    one_box_cars = [r for r in cars if len(res.predictions[r].detections) == 1]
    new = [
        _decision(one_box_cars[0], top(one_box_cars[0]), "reject", t=1),  # latest wins: was relabel car
        _decision(deer[0], top(deer[0]), "unknown", "unknown", t=2),
        _decision(opossum[0], top(opossum[0]), "relabel", "raccoon", t=3),  # relabelled again: last label wins
        _decision(one_box_cars[1], "", "empty", t=4),  # whole image confirmed empty afterwards
        _decision(two_box_cars[0], second(two_box_cars[0]), "accept", "", t=5, model_label="vehicle"),  # no species
        _decision(two_box_cars[1], second(two_box_cars[1]), "accept", "car", t=6),  # a second verified box
        _decision(two_box_cars[2], second(two_box_cars[2]), "accept", "", t=8, model_label="car"),  # label it showed
        _decision(deer[1], top(deer[1]), "clear", t=7),  # undo: the relabel no longer counts
    ]
    append_decisions(verified / STATE_DIRNAME, new)
    (verified / deer[2]).unlink()  # verified, then the file went missing

    ds = collect_examples([verified], paths)
    assert ds.counts() == {"car": 7, "deer": 1, "opossum": 2, "raccoon": 1}
    assert any("accepted without a species label" in s for s in ds.skipped)
    assert any(deer[2] in s and "file not found" in s for s in ds.skipped)
    assert {e.rel_path for e in ds.examples if e.label == "raccoon"} == {opossum[0]}
    assert sum(e.rel_path == two_box_cars[1] for e in ds.examples) == 2
    # one site, images without capture times: every file is its own sequence and group
    assert {e.group for e in ds.examples} == {e.sequence for e in ds.examples}
    assert all(e.reviewer in ("fixture", "b") for e in ds.examples)


def test_decision_follows_its_animal_to_another_models_boxes(verified: Path, paths: AppPaths) -> None:
    res = load_results(verified, paths)
    assert res is not None
    rel = sorted(r for r in res.predictions if r.startswith("deer"))[0]
    det = max(res.predictions[rel].detections, key=lambda d: d.confidence)
    b = det.bbox
    shifted = BBox(b.x + 0.01, b.y, b.w, b.h)  # another model's box: IoU >= 0.5 -> this detection's box
    far = BBox(0.0, 0.0, 0.05, 0.05)  # no detection there: the decision's own box
    save_decisions(
        verified / STATE_DIRNAME,
        [
            _decision(rel, "d-other-model-1", "relabel", "deer", bbox=shifted),
            _decision(rel, "d-other-model-2", "relabel", "hare", bbox=far),
            _decision(rel, "d-other-model-3", "relabel", "fox"),  # no box at all
        ],
    )
    ds = collect_examples([verified], paths)
    boxes = {e.label: e.bbox for e in ds.examples}
    assert boxes == {"deer": b, "hare": far}
    assert any("without a box" in s for s in ds.skipped)


def test_video_decisions_use_their_frame(tmp_path: Path, paths: AppPaths, shared: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy2(shared / "samples" / "videos" / "chimp_camera_trap_320x180.mp4", folder / "chimp.mp4")
    ws = Workspace.locate(folder, paths, create=True)  # decisions without any loaded results
    assert ws is not None
    box = BBox(0.25, 0.2, 0.4, 0.6)
    save_decisions(
        ws.state_dir,
        [
            _decision("chimp.mp4", "d1", "relabel", "chimp", bbox=box, frame=30),
            _decision("chimp.mp4", "d2", "relabel", "chimp", bbox=box, frame=60),
        ],
    )
    ds = collect_examples([folder], paths)
    assert [(e.frame, e.is_video) for e in ds.examples] == [(30, True), (60, True)]
    crops = cut_crops(folder / "chimp.mp4", [box], 30, 48, video=True)
    want = crop_batch(read_frame(folder / "chimp.mp4", 30), [box], 48, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_array_equal(crops_to_tensor(crops, meanstd_spec(IMAGENET_MEAN, IMAGENET_STD)), want)


def test_kept_crops_normalise_bit_for_bit_like_the_classifier(verified: Path) -> None:
    img = load_image(next(verified.glob("deer__*.jpg"))).array
    boxes = [BBox(0.1, 0.2, 0.3, 0.5), BBox(0.7, 0.6, 0.5, 0.5), BBox(0.0, 0.0, 1.0, 1.0), BBox(0.5, 0.5, 0.001, 0.002)]
    for size in (32, 224):
        mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
        u8 = crops_u8(img, boxes, size)
        assert u8.dtype == np.uint8 and u8.shape == (4, size, size, 3)
        want = crop_batch(img, boxes, size, mean, std)
        np.testing.assert_array_equal(crops_to_tensor(u8, meanstd_spec(mean, std)), want)
        # a uint8 NHWC model (normalisation inside its graph, MobileNetV2) gets the pixels themselves
        raw = InputSpec(layout="nhwc", normalisation="raw", dtype=np.uint8)
        got = crops_to_tensor(u8, raw)
        assert got.dtype == np.uint8 and got.shape == (4, size, size, 3)
        np.testing.assert_array_equal(got, crop_batch(img, boxes, size, spec=raw))


def test_folder_without_results_or_decisions_is_reported(tmp_path: Path, paths: AppPaths) -> None:
    ds = collect_examples([tmp_path], paths)
    assert ds.examples == () and "no results" in ds.skipped[0]
    assert replace(ds).counts() == {}


def test_superseded_decision_does_not_come_back_through_its_stored_box(verified: Path, paths: AppPaths) -> None:
    """An old model's relabel whose animal was later rejected (or relabelled) on the new model's box is no example."""
    res = load_results(verified, paths)
    assert res is not None
    rels = sorted(r for r in res.predictions if r.startswith("deer") and res.predictions[r].detections)
    rejected, relabelled = rels[0], rels[1]

    def top(rel: str) -> tuple[str, BBox]:
        det = max(res.predictions[rel].detections, key=lambda d: d.confidence)
        return detection_id(rel, det), det.bbox

    rid, rbox = top(rejected)
    lid, lbox = top(relabelled)
    save_decisions(
        verified / STATE_DIRNAME,
        [
            # an older model's detections of the same animals, verified first
            _decision(rejected, "d-old-1", "relabel", "deer", t=1, bbox=BBox(rbox.x + 0.01, rbox.y, rbox.w, rbox.h)),
            _decision(relabelled, "d-old-2", "relabel", "deer", t=2, bbox=lbox),
            # then the current model's boxes of those animals: the person's latest word
            _decision(rejected, rid, "reject", t=3),
            _decision(relabelled, lid, "relabel", "elk", t=4),
        ],
    )
    ds = collect_examples([verified], paths)
    assert [(e.rel_path, e.label) for e in ds.examples] == [(relabelled, "elk")]


def test_video_crops_come_from_the_frame_the_pipeline_classifies(tmp_path: Path) -> None:
    """The pipeline classifies video crops on frames scaled to the detector input (640), not full-size frames."""
    import cv2

    from wildlife_desktop.pipeline.video import iter_video_frames

    path = tmp_path / "clip 1 é.avi"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1280, 720))
    for _ in range(3):
        writer.write(cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8), (9, 9), 3))
    writer.release()
    box = BBox(0.3, 0.3, 0.1, 0.15)  # 128 x 108 px at full size, 64 x 54 px in the 640 frame
    frames = dict(iter_video_frames(path, every_s=0.1, target=640))
    want = crop_batch(frames[1], [box], 96, IMAGENET_MEAN, IMAGENET_STD)
    got = crops_to_tensor(cut_crops(path, [box], 1, 96, video=True), meanstd_spec(IMAGENET_MEAN, IMAGENET_STD))
    np.testing.assert_array_equal(got, want)


def test_one_camera_reviewed_in_two_seasons_is_one_site() -> None:
    """season1/cam07 and season2/cam07 share a background: one split group, never both sides."""
    from wildlife_desktop.training.finetune.dataset import site_of

    assert site_of(Path("/data/season1"), "cam07/IMG_1.JPG") == site_of(Path("/data/season2"), "cam07/IMG_9.JPG")
    assert site_of(Path("/data/season1"), "cam07/100RECNX/IMG_1.JPG") == "cam07"  # overflow folder stripped
    assert site_of(Path("/data/s1/cam07"), "IMG_1.JPG") == site_of(Path("/data/s2/cam07"), "IMG_2.JPG") == "cam07"
    assert site_of(Path("/data/season1"), "cam07/a.jpg") != site_of(Path("/data/season1"), "cam08/a.jpg")
