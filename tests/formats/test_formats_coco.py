"""COCO Camera Traps writer, checked with MegaDetector's CCT checker, pycocotools and md_to_coco."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import re
from pathlib import Path

import jsonschema

# Plain imports: a missing checker (megadetector-utils, pycocotools) makes these tests fail, never skip.
import megadetector.data_management.integrity_check_json_db as cct
import pycocotools.coco as coco_api
import pycocotools.cocoeval as coco_eval
import pytest

from wildlife_desktop.formats import boxed_only, build_coco, write_coco, write_md_batch

from .conftest import IMG1, IMG_EMPTY, IMG_FAILED, IMG_LOW, IMG_UNICODE, IMG_VERIFIED_EMPTY, VIDEO


def check(path: Path, base: Path, *, sizes: bool) -> list:
    o = cct.IntegrityCheckOptions()
    o.baseDir = str(base)
    o.bCheckImageSizes = sizes
    o.bCheckImageExistence = True
    o.allowIntIDs = True
    o.requireInfo = True
    o.validateBoxes = "error"
    o.nThreads = 1
    o.verbose = False
    with contextlib.redirect_stdout(io.StringIO()):
        _, _, err = cct.integrity_check_json_db(str(path), o)
    return err["validation_errors"]


def cct_schema(shared: Path) -> dict:
    text = (shared / "docs" / "formats.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text[text.index("### 7.2") :], re.S)
    assert block, "JSON schema of formats.md §7.2 not found"
    return json.loads(block.group(1))


def test_coco_passes_integrity_check_with_image_sizes(site):
    path = write_coco(site.root / "dataset.coco.json", site.images_only)
    assert check(path, site.root, sizes=True) == []


def test_integrity_check_catches_a_wrong_size(site):
    coco = build_coco(site.images_only)
    coco["images"][0]["width"] += 1
    path = site.root / "bad.coco.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    assert check(path, site.root, sizes=True)


def test_full_coco_passes_integrity_check_and_schema(site, shared_dir):
    path = write_coco(site.root / "dataset.coco.json", site.bundle)
    # The checker's existence test enumerates *image* files only, so it cannot see the video.
    assert check(path, site.root, sizes=False) == [(VIDEO, "not found in relative path list")]
    assert (site.root / VIDEO).is_file()
    coco = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(coco, cct_schema(shared_dir))


def test_coco_content(site):
    coco = build_coco(site.bundle)
    info = coco["info"]
    assert info["version"] and info["description"] and info["year"] == 2024
    assert info["wildlife_desktop"]["schema_version"] == 1 and "warning" not in info["wildlife_desktop"]
    cats = {c["name"]: c["id"] for c in coco["categories"]}
    assert [cats[n] for n in ("empty", "animal", "person", "vehicle")] == [0, 1, 2, 3]
    assert cats["red_fox"] == 4 and cats["animal_species"] == 6 and cats["chevreuil européen"] == 7
    assert len(set(cats)) == len(coco["categories"])
    images = {im["id"]: im for im in coco["images"]}
    assert len(images) == len(site.bundle.items) and all(i == im["file_name"] for i, im in images.items())
    assert images[IMG_FAILED]["corrupt"] is True and "width" not in images[IMG_FAILED]
    assert images[IMG1]["datetime"] == "2024-05-01 06:00:00" and "datetime" not in images[IMG_LOW]  # no null
    assert (images[IMG1]["seq_id"], images[IMG1]["seq_num_frames"], images[IMG1]["frame_num"]) == (
        "cam1_seq_00000", 2, 0)
    assert (images[VIDEO]["width"], images[VIDEO]["height"]) == (320, 180)

    anns: dict[str, list] = {}
    for a in coco["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    ids = [a["id"] for a in coco["annotations"]]
    assert all(type(i) is int for i in ids) and len(set(ids)) == len(ids)
    assert IMG_FAILED not in anns
    # IMG1: 0.93 fox (≥0.5 → species), 0.412 fox 0.62 → species, 0.15 verified person kept, 0.05 dropped
    a1 = anns[IMG1]
    assert [a["score"] for a in a1] == [0.93, 0.412, 0.15]
    assert [a["category_id"] for a in a1] == [cats["red_fox"], cats["red_fox"], cats["person"]]
    assert [a["verified"] for a in a1] == [False, False, True]
    assert a1[0]["bbox"] == [64.0, 96.0, 192.0, 120.0] and a1[0]["area"] == 192.0 * 120.0
    assert all(a["iscrowd"] == 0 for a in a1)
    item1 = next(it for it in site.bundle.items if it.prediction.rel_path == IMG1)
    assert a1[0]["detection_id"] == item1.detection_ids[1]
    # empties: processed-empty, all-below-threshold, verified-empty: one box-less category-0 annotation
    for rel in (IMG_EMPTY, IMG_LOW, IMG_VERIFIED_EMPTY):
        assert len(anns[rel]) == 1 and anns[rel][0]["category_id"] == 0 and "bbox" not in anns[rel][0]
    assert anns[IMG_VERIFIED_EMPTY][0]["verified"] is True and anns[IMG_LOW][0]["verified"] is False
    # the person box has no classification → detector category
    assert [a["category_id"] for a in anns[IMG_UNICODE]] == [cats["person"], cats["chevreuil européen"]]
    # video: one image entry, annotations carry frame_number, pixel boxes of the frame size
    assert sorted(a["frame_number"] for a in anns[VIDEO]) == [0, 30]
    assert anns[VIDEO][0]["bbox"] == [128.0, 72.0, 64.0, 36.0]


def test_random_weights_warning_in_coco_info(site):
    model = dataclasses.replace(site.bundle.model, random_weights=True)
    bundle = dataclasses.replace(site.bundle, model=model)
    info = build_coco(bundle)["info"]
    assert info["wildlife_desktop"]["random_weights"] is True
    assert "RANDOM WEIGHTS" in info["description"] and "RANDOM WEIGHTS" in info["wildlife_desktop"]["warning"]


def test_pycocotools_loads_and_evaluates_boxed_annotations(site, tmp_path):
    path = write_coco(site.root / "dataset.coco.json", site.bundle)
    with contextlib.redirect_stdout(io.StringIO()):
        full = coco_api.COCO(str(path))  # loads the whole CCT file, box-less annotations included
        assert len(full.getAnnIds()) == len(json.loads(path.read_text(encoding="utf-8"))["annotations"])
        boxed_path = tmp_path / "boxed.json"
        boxed = boxed_only(json.loads(path.read_text(encoding="utf-8")))
        boxed_path.write_text(json.dumps(boxed), encoding="utf-8")
        gt = coco_api.COCO(str(boxed_path))
        dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                 "score": a["score"]} for a in boxed["annotations"]]
        dt = gt.loadRes(dets)
        ev = coco_eval.COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert len(boxed["annotations"]) >= 6
    assert ev.stats[0] == pytest.approx(1.0) and ev.stats[1] == pytest.approx(1.0)


def test_pycocotools_eval_needs_the_boxed_copy(site):
    """Documents the choice: COCOeval cannot take the CCT box-less empty annotations as they are."""
    coco = build_coco(site.bundle)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_api.COCO()
        gt.dataset = coco
        gt.createIndex()
        ev = coco_eval.COCOeval(gt, gt, "bbox")
        with pytest.raises(KeyError):
            ev.evaluate()


def test_boxes_agree_with_md_to_coco(site, tmp_path):
    from megadetector.postprocessing.md_to_coco import md_to_coco

    # MD keeps every box; our COCO drops the boxes of a file a person confirmed empty
    images = tuple(it for it in site.images_only.items if not it.verified_empty)
    bundle = dataclasses.replace(site.images_only, items=images, detection_threshold=0.0)
    md_path = write_md_batch(tmp_path / "md.json", bundle)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = md_to_coco(str(md_path), coco_output_file=str(tmp_path / "theirs.json"),
                            image_folder=str(site.root), confidence_threshold=0.0,
                            overwrite_behavior="overwrite", verbose=False, precision=None)
    ours = build_coco(bundle)
    a = sorted((x["image_id"], x["score"], tuple(x["bbox"])) for x in ours["annotations"] if "bbox" in x)
    b = sorted((x["image_id"], x["score"], tuple(x["bbox"])) for x in theirs["annotations"] if "bbox" in x)
    assert len(a) == len(b) == sum(len(it.prediction.detections) for it in bundle.items)
    assert [(i, s) for i, s, _ in a] == [(i, s) for i, s, _ in b]
    assert all(math.isclose(p, q, abs_tol=0.5) for (*_, s), (*_, t) in zip(a, b, strict=True)
               for p, q in zip(s, t, strict=True))
