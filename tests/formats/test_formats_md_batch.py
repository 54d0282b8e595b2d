"""MegaDetector batch-output writer and readers, checked with the third-party validator."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
from PIL import Image

from tests.fixtures.md_validator import md_validation
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.records import BBox, Detection, MediaMeta, Prediction
from wildlife_desktop.formats import (
    MD_FORMAT_VERSION,
    RANDOM_WEIGHTS_WARNING,
    SIDECAR_SCHEMA_VERSION,
    build_md_batch,
    detection_id,
    read_md_batch,
    read_pytorch_wildlife_json,
    write_md_batch,
)
from wildlife_desktop.formats.md_batch import clip_box, round_conf

from .conftest import IMG1, IMG_FAILED, IMG_UNICODE, LABELS, VIDEO, make_site

# No importorskip: without MegaDetector's validator (megadetector-utils) these tests FAIL (the
# validator is imported at the top of tests.fixtures.md_validator), they never silently skip.

MD_VIDEO_EXT = (".mp4", ".avi", ".mpeg", ".mpg", ".mov", ".mkv", ".flv", ".asf")


validate = md_validation


def md_schema(shared: Path) -> dict:
    text = (shared / "docs" / "formats.md").read_text(encoding="utf-8")
    section = text[text.index("### 7.1") :]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block, "JSON schema of formats.md §7.1 not found"
    return json.loads(block.group(1))


def own_checks(md: dict) -> None:
    """formats.md §7 checks the validator and the schema cannot express."""
    files = [im["file"] for im in md["images"]]
    assert len(files) == len(set(files)), "duplicate files"
    assert files == sorted(files)
    for im in md["images"]:
        f = im["file"]
        assert "\\" not in f and not f.startswith(("/", "./")) and not re.match(r"^[A-Za-z]:", f)
        dets = im.get("detections")
        if im.get("failure"):
            assert dets is None
            continue
        assert isinstance(dets, list)
        confs = [d["conf"] for d in dets]
        assert confs == sorted(confs, reverse=True)
        video = PurePosixPath(f).suffix.lower() in MD_VIDEO_EXT
        if video:
            assert im["frame_rate"] > 0 and isinstance(im["frames_processed"], list)
        for d in dets:
            assert d["category"] in md["detection_categories"]
            assert isinstance(d["conf"], float) and 0.0 <= d["conf"] <= 1.0
            x, y, w, h = d["bbox"]
            assert w > 0 and h > 0 and x + w <= 1.0 and y + h <= 1.0 and x >= 0 and y >= 0
            if video:
                assert isinstance(d["frame_number"], int) and d["frame_number"] >= 0
            cls = d.get("classifications", [])
            assert [c[1] for c in cls] == sorted((c[1] for c in cls), reverse=True)
            for cid, conf in cls:
                assert isinstance(cid, str) and cid in md["classification_categories"]
                assert isinstance(conf, float)
    for cats in (md["detection_categories"], md.get("classification_categories", {})):
        assert all(k.isdigit() and v.strip() for k, v in cats.items())
        assert "0" not in cats


def test_written_file_passes_validator_schema_and_own_checks(site, shared_dir):
    path = write_md_batch(site.root / "recognitions.json", site.bundle)
    res = validate(path, site.root)
    assert res["errors"] == [] and res["warnings"] == []
    stored = [d.category for it in site.bundle.items for d in it.prediction.detections]
    assert dict(res["detection_category_id_to_count"]) == {c: stored.count(c) for c in set(stored)}
    md = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(md, md_schema(shared_dir))
    own_checks(md)
    assert md["info"]["format_version"] == MD_FORMAT_VERSION == "1.5"
    assert md["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    assert list(md["classification_categories"].values()) == list(LABELS)
    assert list(md["classification_categories"]) == ["1", "2", "3", "4", "5"]
    block = md["info"]["wildlife_desktop"]
    assert block["schema_version"] == SIDECAR_SCHEMA_VERSION and block["random_weights"] is False
    assert "warning" not in block
    assert md["info"]["classifier_metadata"]["typical_classification_threshold"] == 0.5


def test_image_entries(site):
    md = build_md_batch(site.bundle)
    by_file = {im["file"]: im for im in md["images"]}
    assert len(by_file) == len(site.bundle.items)
    # processed-empty and failed
    assert by_file["cam1/100RECNX/IMG_0002.JPG"]["detections"] == []
    failed = by_file[IMG_FAILED]
    assert failed["detections"] is None and failed["failure"] == "Image is truncated or corrupt"
    # MD keeps every stored detection (Timelapse thresholds itself), sorted by conf, clipped
    img1 = by_file[IMG1]
    assert [d["conf"] for d in img1["detections"]] == [0.93, 0.412, 0.15, 0.05]
    assert img1["detections"][3]["bbox"] == [0.9, 0.8, 0.1, 0.2]
    assert img1["detections"][1]["classifications"] == [["1", 0.62], ["2", 0.31]]
    assert img1["detections"][2]["verified"] is True
    assert sum("verified" in d for d in img1["detections"]) == 1
    assert "classifications" not in img1["detections"][2]
    assert (img1["width"], img1["height"], img1["datetime"]) == (640, 480, "2024-05-01 06:00:00")
    # one entry per video
    vid = by_file[VIDEO]
    assert vid["frame_rate"] == 30.0 and vid["frames_processed"] == [0, 30]
    assert [(d["frame_number"], d["conf"]) for d in vid["detections"]] == [(30, 0.81), (0, 0.6)]
    assert by_file[IMG_UNICODE]["detections"][1]["classifications"] == [["4", 0.77]]
    # conf is always written with a decimal point
    text = json.dumps(md)
    assert not re.search(r'"conf": \d+[,}]', text)


def test_conf_one_and_zero_written_as_floats(site):
    pred = Prediction("a.jpg", "image", detections=(Detection("1", 1, BBox(0, 0, 1, 1)),))
    item = dataclasses.replace(site.bundle.items[0], prediction=pred, detection_ids=("x",), verified=())
    md = build_md_batch(dataclasses.replace(site.bundle, items=(item,)))
    text = json.dumps(md)
    assert '"conf": 1.0' in text
    det = md["images"][0]["detections"][0]
    assert det["bbox"] == [0.0, 0.0, 1.0, 1.0] and isinstance(det["bbox"][0], float)
    assert validate(md, None)["errors"] == []


def test_clip_box_edge_cases():
    for box in (BBox(0.7, 0.3, 0.3, 0.7), BBox(0.99999, 0.5, 0.3, 0.2), BBox(-0.2, 1.3, 0.5, 0.5),
                BBox(0.123456, 0.654321, 0.876544, 0.345679)):
        x, y, w, h = clip_box(box)
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 1.0 and y + h <= 1.0


def test_random_weights_bundle_is_flagged(tmp_path):
    site = make_site(tmp_path / "rw", random_weights=True)
    path = write_md_batch(site.root / "recognitions.json", site.bundle)
    res = validate(path, site.root)
    assert res["errors"] == [] and res["warnings"] == []
    block = json.loads(path.read_text(encoding="utf-8"))["info"]["wildlife_desktop"]
    assert block["random_weights"] is True and block["warning"] == RANDOM_WEIGHTS_WARNING


def test_failed_video_is_valid_for_megadetector(site):
    pred = Prediction("cam9/broken.mp4", "video", failure="Cannot decode video")
    item = dataclasses.replace(site.bundle.items[0], prediction=pred, detection_ids=(), verified=())
    md = build_md_batch(dataclasses.replace(site.bundle, items=(item,)))
    im = md["images"][0]
    assert im["detections"] is None and im["frame_rate"] == -1.0 and im["frames_processed"] == []
    res = validate(md, None)
    assert res["errors"] == [] and res["warnings"] == []


def test_validator_would_catch_our_mistakes(site):
    """The validator really checks what we rely on (guards against a silently passing check)."""
    md = build_md_batch(site.bundle)
    md["images"][1]["detections"][0]["conf"] = 1
    assert validate(md, None)["errors"]
    md = build_md_batch(site.bundle)
    del next(im for im in md["images"] if im["file"] == VIDEO)["frames_processed"]
    assert validate(md, None)["errors"]
    md = build_md_batch(site.bundle)
    md["wildlife_desktop"] = {}
    assert validate(md, None)["warnings"]


def test_round_trip(site):
    path = write_md_batch(site.root / "recognitions.json", site.bundle)
    got = read_md_batch(path)
    assert got.classification_labels == LABELS
    assert got.info["wildlife_desktop"]["app_version"] == "0.3.0"
    by_file = {p.rel_path: p for p in got.predictions}
    assert [p.rel_path for p in got.predictions] == sorted(it.prediction.rel_path for it in site.bundle.items)
    expected_verified = set()
    for item in site.bundle.items:
        want, have = item.prediction, by_file[item.prediction.rel_path]
        assert (have.kind, have.failure, have.frame_rate, have.frames_processed) == (
            want.kind, want.failure, want.frame_rate, want.frames_processed)
        assert (have.meta.width, have.meta.height, have.meta.datetime) == (
            want.meta.width, want.meta.height, want.meta.datetime)
        expect = sorted(
            (d.category, round_conf(d.confidence), tuple(clip_box(d.bbox)), d.frame,
             tuple(sorted(((c.label, c.confidence) for c in d.classifications), key=lambda t: -t[1])))
            for d in want.detections)
        actual = sorted((d.category, d.confidence, tuple(d.bbox.as_list()), d.frame,
                         tuple((c.label, c.confidence) for c in d.classifications))
                        for d in have.detections)
        assert actual == expect
        n = len(want.detections)
        expected_verified |= {item.detection_ids[i] for i in range(n) if item.is_verified(i)}
    assert got.verified_ids == expected_verified and len(expected_verified) == 1
    # reading the dict gives the same result as reading the file
    assert read_md_batch(json.loads(path.read_text(encoding="utf-8"))).predictions == got.predictions


def test_read_md_v5a_reference_output(shared_dir):
    path = shared_dir / "samples" / "lila_test_images" / "md_v5a_reference_output.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    got = read_md_batch(path)
    assert got.info["format_version"] == "1.1"
    assert len(got.predictions) == len(raw["images"]) == 31
    by_file = {p.rel_path: p for p in got.predictions}
    for im in raw["images"]:
        pred = by_file[im["file"]]
        assert not pred.failed and pred.kind == "image"
        assert len(pred.detections) == len(im["detections"])
        assert sorted(d.confidence for d in pred.detections) == sorted(d["conf"] for d in im["detections"])
        assert pred.max_confidence() == pytest.approx(im.get("max_detection_conf") or 0.0)
        assert all(d.category in ("1", "2", "3") for d in pred.detections)
    assert sum(len(p.detections) for p in got.predictions) == sum(len(i["detections"]) for i in raw["images"])


def test_read_tolerates_old_and_video_and_windows_entries():
    data = {
        "info": {"format_version": 1.0, "detector": "x"},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "classification_categories": {"7": "wolf", "3": "lynx"},
        "images": [
            {"file": "site\\cam1\\IMG_1.JPG", "max_detection_conf": 0.9, "meta": None, "detections": [
                {"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2],
                 "classifications": [["3", 0.2], ["7", 0.7]]}]},
            {"file": "site/cam1/IMG_2.JPG", "failure": "Failure image access"},
            {"file": "site/cam1/IMG_3.JPG", "detections": None, "failure": "boom"},
            {"file": "site/v.MP4", "frame_rate": 25, "frames_processed": [0, 25], "detections": [
                {"category": "1", "conf": 0.5, "bbox": [0.1, 0.1, 0.2, 0.2], "frame_number": 25}]},
            {"file": "site/IMG_4.JPG", "datetime": "2024:05:01 06:00:00", "detections": []},
        ],
    }
    got = read_md_batch(data)
    by_file = {p.rel_path: p for p in got.predictions}
    assert set(by_file) == {"site/cam1/IMG_1.JPG", "site/cam1/IMG_2.JPG", "site/cam1/IMG_3.JPG",
                            "site/v.MP4", "site/IMG_4.JPG"}
    assert got.classification_labels == ("lynx", "wolf")
    assert [c.label for c in by_file["site/cam1/IMG_1.JPG"].detections[0].classifications] == ["wolf", "lynx"]
    assert by_file["site/cam1/IMG_2.JPG"].failure == "Failure image access"
    assert by_file["site/cam1/IMG_3.JPG"].failure == "boom"
    vid = by_file["site/v.MP4"]
    assert vid.kind == "video" and vid.frame_rate == 25.0 and vid.detections[0].frame == 25
    assert by_file["site/IMG_4.JPG"].meta.datetime == "2024-05-01 06:00:00"
    assert by_file["site/IMG_4.JPG"].detections == ()


def test_read_maps_category_names_onto_our_ids():
    data = {"info": {"format_version": "1.3"}, "detection_categories": {"0": "animal", "1": "person"},
            "images": [{"file": "a.jpg", "detections": [
                {"category": "0", "conf": 0.5, "bbox": [0, 0, 0.5, 0.5]},
                {"category": "1", "conf": 0.4, "bbox": [0, 0, 0.5, 0.5]}]}]}
    dets = read_md_batch(data).predictions[0].detections
    assert [d.category for d in dets] == ["1", "2"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("images"), "images"),
    (lambda d: d.update(images={}), "images"),
    (lambda d: d["images"][0]["detections"][0].update(bbox=[10, 20, 300, 250]), "bbox"),
    (lambda d: d["images"][0]["detections"][0].update(bbox=[0.1, 0.2]), "bbox"),
    (lambda d: d["images"][0]["detections"][0].update(category="9"), "category"),
    (lambda d: d["images"][0]["detections"][0].update(conf="high"), "confidence"),
    (lambda d: d["images"][0]["detections"][0].update(classifications=[["99", 0.5]]), "classification"),
    (lambda d: d["images"].append({"file": "a.jpg", "detections": []}), "twice"),
    (lambda d: d["images"].append({"detections": []}), "file"),
    (lambda d: d["info"].update(format_version="2.0"), "format_version"),
])
def test_read_rejects_malformed(mutate, message):
    data = {"info": {"format_version": "1.5"}, "detection_categories": {"1": "animal"},
            "classification_categories": {"1": "fox"},
            "images": [{"file": "a.jpg",
                        "detections": [{"category": "1", "conf": 0.5, "bbox": [0, 0, 1, 1]}]}]}
    read_md_batch(data)  # the unmutated input is fine
    mutate(data)
    with pytest.raises(DatasetError, match=message):
        read_md_batch(data)


def test_read_rejects_non_json_and_missing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetError, match="not valid JSON"):
        read_md_batch(bad)
    with pytest.raises(DatasetError, match="Cannot read"):
        read_md_batch(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DatasetError, match="images"):
        read_md_batch(tmp_path / "list.json")


def _pil_size(folder: Path):
    def size_of(rel: str) -> tuple[int, int]:
        with Image.open(folder / rel) as im:
            return im.size
    return size_of


def test_read_pytorch_wildlife_caltech(shared_dir):
    folder = shared_dir / "samples" / "caltech_cct"
    path = folder / "mdv6_yolov10c_pytorchwildlife_output.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    size_of = _pil_size(folder)
    got = read_pytorch_wildlife_json(path, size_of, basename=True)
    names = {a["img_id"].replace("\\", "/").rsplit("/", 1)[-1] for a in raw["annotations"]}
    assert {p.rel_path for p in got.predictions} == names
    by_file = {p.rel_path: p for p in got.predictions}
    n_boxes = 0
    for ann in raw["annotations"]:
        rel = ann["img_id"].replace("\\", "/").rsplit("/", 1)[-1]
        pred = by_file[rel]
        assert not pred.failed and (pred.meta.width, pred.meta.height) == size_of(rel)
        assert len(pred.detections) == len(ann["bbox"] or [])
        W, H = size_of(rel)
        pairs = sorted(zip(ann["confidence"] or [], ann["bbox"] or [], ann["category"] or [], strict=True),
                       key=lambda t: -t[0])
        for det, (conf, (x1, y1, x2, _y2), cat) in zip(pred.detections, pairs, strict=True):
            b = det.bbox
            assert 0 <= b.x and 0 <= b.y and b.w > 0 and b.h > 0 and b.x + b.w <= 1 and b.y + b.h <= 1
            assert det.confidence == pytest.approx(conf, abs=5e-4)
            assert det.category == str(cat + 1)
            assert b.x * W == pytest.approx(x1, abs=0.5) and b.y * H == pytest.approx(y1, abs=0.5)
            assert (b.x + b.w) * W == pytest.approx(min(x2, W), abs=0.5)
            n_boxes += 1
    assert n_boxes > 40
    cars = [p for p in got.predictions if p.rel_path.startswith("car__")]
    assert cars and all(d.category == "3" for p in cars for d in p.detections)
    # prefix mode gives the same paths; a foreign prefix is an error
    same = read_pytorch_wildlife_json(path, size_of, strip_prefix="data\\raw\\sample_images")
    assert same.predictions == got.predictions
    with pytest.raises(DatasetError, match="not under"):
        read_pytorch_wildlife_json(path, size_of, strip_prefix="elsewhere")


def test_read_pytorch_wildlife_unknown_size_is_failure(tmp_path):
    path = tmp_path / "pw.json"
    path.write_text(json.dumps({"categories": {"0": "animal"}, "annotations": [
        {"img_id": "x\\a.jpg", "bbox": [[0, 0, 10, 10]], "category": [0], "confidence": [0.9]}]}))
    got = read_pytorch_wildlife_json(path, lambda rel: (_ for _ in ()).throw(OSError("gone")), basename=True)
    assert got.predictions[0].rel_path == "a.jpg" and got.predictions[0].failed


def test_written_md_has_meta_fields_only_when_known(site):
    pred = Prediction("b.jpg", "image", MediaMeta())
    item = dataclasses.replace(site.bundle.items[0], prediction=pred, detection_ids=(), verified=())
    im = build_md_batch(dataclasses.replace(site.bundle, items=(item,)))["images"][0]
    assert im == {"file": "b.jpg", "detections": []}
    assert detection_id("b.jpg", Detection("1", 0.5, BBox(0, 0, 1, 1))).startswith("d")
