"""Detection evaluation: COCO mAP on a hand-made ground truth with a known answer, equal to pycocotools;
person-verified truth from decisions; the CLI on real sample images against the official MDv5a output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from wildlife_desktop.cli import main
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox, Detection, Prediction
from wildlife_desktop.formats.decisions import ReviewDecision, save_decisions
from wildlife_desktop.pipeline.evaluate_detection import (
    ImageTruth,
    coco_map,
    coco_map_pycocotools,
    evaluate_detection,
    truth_from_decisions,
)
from wildlife_desktop.pipeline.journal import Workspace

NO_COCO = "pycocotools (the [eval] extra, also in [test]) is not installed"


def _xywh(x: float, y: float, w: float, h: float) -> list[float]:
    return [x, y, w, h]


def test_map_on_a_hand_made_truth_with_a_known_answer() -> None:
    pytest.importorskip("pycocotools", reason=NO_COCO)
    # one image, two animals; three detections: exact (0.9), a false one (0.8), one at IoU 0.62 (0.7)
    gts = [(0, "1", _xywh(0, 0, 100, 100)), (0, "1", _xywh(300, 300, 100, 100))]
    shifted = _xywh(300, 300, 100, 100 / 0.62)  # IoU with the second animal = 100*100 / (100*161.29) = 0.62
    dts = [(0, "1", _xywh(0, 0, 100, 100), 0.9), (0, "1", _xywh(600, 600, 50, 50), 0.8), (0, "1", shifted, 0.7)]
    # ranked: TP (P 1, R .5), FP (P .5), TP (P .67, R 1): precision envelope 1 up to recall .5, then 2/3
    both = (51 * 1.0 + 50 * (2 / 3)) / 101
    only_first = 51 / 101  # IoU thresholds above 0.62: the shifted box is a false positive
    expected50 = both
    expected = (3 * both + 7 * only_first) / 10  # thresholds .50 .55 .60 match it, .65 ... .95 do not
    m50, m, per_cat = coco_map(gts, dts)
    assert m50 == pytest.approx(expected50) and m == pytest.approx(expected) and per_cat == {"animal": m50}
    p50, p, p_cat = coco_map_pycocotools(gts, dts)
    assert (p50, p) == pytest.approx((expected50, expected)) and p_cat == pytest.approx(per_cat)
    # a detector that finds nothing scores 0; a perfect one 1
    assert coco_map(gts, [])[:2] == (0.0, 0.0)
    assert coco_map(gts, [(0, "1", b, 0.5) for _, _, b in gts])[:2] == (1.0, 1.0)


def test_numpy_map_equals_pycocotools_on_random_scenes() -> None:
    pytest.importorskip("pycocotools", reason=NO_COCO)
    rng = np.random.default_rng(7)
    gts, dts = [], []
    for img in range(25):
        for _ in range(rng.integers(0, 4)):
            x, y, w, h = rng.uniform(0, 600, 2).tolist() + rng.uniform(20, 200, 2).tolist()
            cat = str(rng.integers(1, 4))
            gts.append((img, cat, [x, y, w, h]))
            if rng.random() < 0.8:  # a noisy detection of it
                dts.append((img, cat if rng.random() < 0.9 else "1",
                            [x + rng.normal(0, 15), y + rng.normal(0, 15), w * rng.uniform(0.7, 1.3),
                             h * rng.uniform(0.7, 1.3)], float(rng.uniform(0.05, 1))))
        for _ in range(rng.integers(0, 3)):  # false positives
            dts.append((img, str(rng.integers(1, 4)), rng.uniform(0, 600, 2).tolist() + [50.0, 60.0],
                        float(rng.uniform(0.05, 1))))
    ours, theirs = coco_map(gts, dts), coco_map_pycocotools(gts, dts)
    assert 0.1 < ours[0] < 1.0 and ours[1] < ours[0]
    assert ours[:2] == pytest.approx(theirs[:2], abs=1e-12)
    assert ours[2] == pytest.approx(theirs[2], abs=1e-12) and set(ours[2]) == {"animal", "person", "vehicle"}


def _det(box: BBox, conf: float, cat: str = "1") -> Detection:
    return Detection(category=cat, confidence=conf, bbox=box)


def test_truth_from_decisions_accepted_relabelled_rejected_and_empty(tmp_path: Path) -> None:
    paths = AppPaths.default().ensure()
    folder = tmp_path / "card"
    (folder / "cam1").mkdir(parents=True)
    (folder / "cam2").mkdir()
    a, b, c = BBox(0.1, 0.1, 0.2, 0.2), BBox(0.5, 0.5, 0.2, 0.3), BBox(0.7, 0.1, 0.1, 0.1)
    t = "2026-11-24T09:00:0{}+00:00"
    decisions = [
        ReviewDecision("cam1/a.jpg", "d1", "accept", "", "me", t.format(1), a, model_label="animal"),
        ReviewDecision("cam1/a.jpg", "d2", "reject", "", "me", t.format(2), c, model_label="animal"),
        ReviewDecision("cam2/b.jpg", "d3", "relabel", "person", "me", t.format(3), b, model_label="animal"),
        ReviewDecision("cam2/e.jpg", "d4", "reject", "", "me", t.format(4), a, model_label="animal"),
        ReviewDecision("cam2/e.jpg", "", "empty", "", "me", t.format(5)),
    ]
    ws = Workspace.locate(folder, paths, create=True)
    assert ws is not None
    save_decisions(ws.state_dir, decisions)
    truth = truth_from_decisions(folder, paths)
    assert truth == {
        "cam1/a.jpg": ImageTruth((("1", a),), (c,)),
        "cam2/b.jpg": ImageTruth((("2", b),)),
        "cam2/e.jpg": ImageTruth(verified_empty=True),
    }
    preds = {
        "cam1/a.jpg": Prediction("cam1/a.jpg", "image", detections=(_det(a, 0.9), _det(c, 0.5), _det(b, 0.1))),
        "cam2/b.jpg": Prediction("cam2/b.jpg", "image", detections=(_det(b, 0.3, "1"),)),  # right box, wrong category
        "cam2/e.jpg": Prediction("cam2/e.jpg", "image", detections=(_det(a, 0.4),)),
    }
    s = evaluate_detection(truth, preds, threshold=0.2)
    assert (s.true_positives, s.false_positives, s.false_negatives) == (1, 3, 1)
    assert s.known_false_positives == 1 and s.undecided == 2 and s.images == 3 and s.empty_images == 1
    assert s.precision == pytest.approx(0.25) and s.recall == pytest.approx(0.5)
    assert s.ap50_per_category == pytest.approx({"animal": 1.0, "person": 0.0})  # the best-scored box is the animal
    assert [c.location for c in s.per_camera] == ["cam1", "cam2"] and s.per_camera[0].recall == 1.0
    assert evaluate_detection(truth, preds, threshold=0.2, engine="numpy").map50 == pytest.approx(s.map50)


def test_cli_evaluate_a_layer_against_the_official_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = SHARED / "samples" / "lila_test_images"
    folder = tmp_path / "lila"
    shutil.copytree(src, folder)
    ref = folder / "md_v5a_reference_output.json"
    # our layer = the official output itself: every reference box at >= 0.2 is found and outranks the rest
    assert main(["import-results", str(folder), str(ref)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(folder), "--reference", str(ref), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["map50"] == pytest.approx(1.0) and doc["map50_95"] == pytest.approx(1.0) and doc["recall"] == 1.0
    n_ref = sum(1 for im in json.loads(ref.read_text())["images"] for d in im.get("detections") or []
                if d["conf"] >= 0.2)
    assert doc["true_boxes"] == n_ref > 10
    # without verified boxes there is nothing to score: one sentence, no traceback
    assert main(["evaluate", str(folder)]) == 1
    assert "no verified detections" in capsys.readouterr().err
