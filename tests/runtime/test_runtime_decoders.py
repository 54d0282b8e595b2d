"""Decoders end to end: constant-output ONNX models of each family's layout -> Detection records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelLoadError
from wildlife_desktop.core.records import BBox
from wildlife_desktop.runtime import Detector, ModelManifest
from wildlife_desktop.runtime.postprocess import batched_nms, nms

from .conftest import DET_LABELS

W, H = 800, 600  # non-square original image; square letterbox 640: gain 0.8, pad_y 80
IMAGE = np.zeros((H, W, 3), dtype=np.uint8)
# Known box in original pixels and its normalised form.
ORIG = np.array([100.0, 150.0, 300.0, 450.0])
EXPECTED = BBox(0.125, 0.25, 0.25, 0.5)


def manifest(family: str, **kw: object) -> ModelManifest:
    base: dict[str, object] = dict(
        id=f"test-{family}", version="1", name=family, family=family, task="detection", file="m.onnx",
        sha256="0" * 64, input_size=640, labels=DET_LABELS,
    )
    base.update(kw)
    return ModelManifest(**base)  # type: ignore[arg-type]


def to_square_input(box: np.ndarray) -> np.ndarray:
    return box * 0.8 + np.array([0.0, 80.0, 0.0, 80.0])


def xyxy_to_cxcywh(b: np.ndarray) -> list[float]:
    return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]]


def test_yolov5_score_is_obj_times_class_and_nms_is_per_class(make_const_model: Callable[..., Path]) -> None:
    box = xyxy_to_cxcywh(to_square_input(ORIG))
    shifted = [box[0] + 4, box[1] + 4, box[2], box[3]]  # IoU with box ~0.95
    rows = np.zeros((50, 8), dtype=np.float32)
    rows[0] = [*box, 0.5, 0.8, 0.1, 0.1]  # animal 0.40, suppressed by row 1
    rows[1] = [*shifted, 0.9, 0.5, 0.2, 0.1]  # animal 0.45
    rows[2] = [*box, 0.6, 0.1, 0.5, 0.2]  # person 0.30: same place, other class -> kept
    rows[3] = [10, 10, 5, 5, 0.01, 0.3, 0.0, 0.0]  # 0.003 < floor
    rows[4] = [600, 500, 40, 40, 0.25, 0.0, 0.0, 0.8]  # vehicle 0.2, elsewhere
    det = Detector(manifest("yolov5"), make_const_model("v5.onnx", rows[None]))
    assert det.letterbox_mode == "square"  # fixed-shape export
    out = det.detect(IMAGE, conf_floor=0.005)
    assert [(d.category, d.confidence) for d in out] == [("1", 0.45), ("2", 0.3), ("3", 0.2)]
    assert out[1].bbox == EXPECTED
    assert out[0].bbox == BBox(0.1313, 0.2583, 0.25, 0.5)  # shifted by 5 original px
    assert out[0].category_name == "animal"


def test_yolov8_transposed_layout_without_objectness(make_const_model: Callable[..., Path]) -> None:
    box = xyxy_to_cxcywh(to_square_input(ORIG))
    cols = np.zeros((7, 8400), dtype=np.float32)
    cols[:, 10] = [*box, 0.7, 0.1, 0.05]
    cols[:, 20] = [box[0] + 2, box[1], box[2], box[3], 0.6, 0.0, 0.0]  # same class, overlapping
    cols[:, 30] = [*box, 0.0, 0.55, 0.0]  # person at the same place
    out = Detector(manifest("yolov8"), make_const_model("v8.onnx", cols[None])).detect(IMAGE)
    assert [(d.category, d.confidence) for d in out] == [("1", 0.7), ("2", 0.55)]
    assert all(d.bbox == EXPECTED for d in out)


def test_yolov10_end_to_end_keeps_overlaps(make_const_model: Callable[..., Path]) -> None:
    b = to_square_input(ORIG)
    rows = np.zeros((300, 6), dtype=np.float32)
    rows[0] = [*b, 0.9, 0]
    rows[1] = [*(b + 2), 0.8, 0]  # would be suppressed by NMS; the e2e head has none
    rows[2] = [*b, 0.004, 1]  # below floor
    rows[3] = [-50, -50, 100, 200, 0.3, 2]  # extends past the image: clipped
    out = Detector(manifest("yolov10"), make_const_model("v10.onnx", rows[None])).detect(IMAGE)
    assert [(d.category, d.confidence) for d in out] == [("1", 0.9), ("1", 0.8), ("3", 0.3)]
    assert out[0].bbox == EXPECTED
    clipped = out[2].bbox
    assert (clipped.x, clipped.y) == (0.0, 0.0)
    assert clipped.w == pytest.approx(125 / 800, abs=1e-4) and clipped.h == pytest.approx(150 / 600, abs=1e-4)


@pytest.mark.parametrize("logits", [False, True])
def test_rtdetr_normalised_boxes_and_sigmoid(make_const_model: Callable[..., Path], logits: bool) -> None:
    rows = np.zeros((300, 7), dtype=np.float32)
    probs = np.array([[0.1, 0.85, 0.05], [0.75, 0.1, 0.1]])
    rows[0] = [0.25, 0.5, 0.25, 0.5, *probs[0]]  # stretch letterbox: normalised input = normalised image
    rows[1] = [0.5, 0.5, 0.5, 0.5, *probs[1]]
    if logits:
        rows[:, 4:] = np.log(np.clip(rows[:, 4:], 1e-6, None) / (1 - np.clip(rows[:, 4:], 1e-6, None)))
    det = Detector(manifest("rtdetr"), make_const_model("detr.onnx", rows[None]))
    assert det.letterbox_mode == "stretch"
    out = det.detect(IMAGE)
    assert [(d.category, d.confidence) for d in out] == [("2", 0.85), ("1", 0.75)]
    assert out[0].bbox == EXPECTED
    assert out[1].bbox == BBox(0.25, 0.25, 0.5, 0.5)


def test_rtdetr_square_letterbox_when_manifest_says_so(make_const_model: Callable[..., Path]) -> None:
    b = to_square_input(ORIG) / 640.0
    rows = np.zeros((300, 7), dtype=np.float32)
    rows[0] = [*xyxy_to_cxcywh(b), 0.9, 0.0, 0.0]
    det = Detector(manifest("rtdetr", letterbox="square"), make_const_model("detr.onnx", rows[None]))
    assert [d.bbox for d in det.detect(IMAGE)] == [EXPECTED]


def test_classic_letterbox_undo_on_dynamic_model(make_const_model: Callable[..., Path]) -> None:
    # 1000 x 530 image -> classic input 640 x 352 (gain 0.64, pad_y 6.4).
    image = np.zeros((530, 1000, 3), dtype=np.uint8)
    orig = np.array([250.0, 53.0, 750.0, 477.0])
    inp = orig * 0.64 + np.array([0, 6.4, 0, 6.4])
    rows = np.zeros((10, 8), dtype=np.float32)
    rows[0] = [*xyxy_to_cxcywh(inp), 1.0, 0.0, 0.0, 0.5]
    path = make_const_model("dyn.onnx", rows[None], input_shape=(1, 3, "height", "width"))
    det = Detector(manifest("yolov5", stride=32), path)
    assert det.letterbox_mode == "classic"
    tensor, tf = det.preprocess(image)
    assert tensor.shape == (1, 3, 352, 640)
    out = det.detect(image)
    assert len(out) == 1 and out[0].category == "3" and out[0].confidence == 0.5
    assert out[0].bbox == BBox(0.25, 0.1, 0.5, 0.8)


def test_detections_are_sorted_capped_and_zero_area_dropped(make_const_model: Callable[..., Path]) -> None:
    rng = np.random.default_rng(0)
    rows = np.zeros((1000, 8), dtype=np.float32)
    rows[:, 0:2] = rng.uniform(0, 640, (1000, 2))
    rows[:, 2:4] = 2.0  # small, rarely overlapping
    rows[:, 4] = rng.uniform(0.1, 1.0, 1000)
    rows[:, 5] = 1.0
    rows[0] = [320, 320, 0, 50, 1.0, 1.0, 0, 0]  # zero width
    out = Detector(manifest("yolov5"), make_const_model("many.onnx", rows[None])).detect(IMAGE, 0.0)
    assert len(out) <= 300
    confs = [d.confidence for d in out]
    assert confs == sorted(confs, reverse=True)
    assert all(d.bbox.w > 0 and d.bbox.h > 0 for d in out)


def test_output_layout_mismatch_is_refused(make_const_model: Callable[..., Path]) -> None:
    path = make_const_model("bad.onnx", np.zeros((1, 100, 9), dtype=np.float32))  # 4 classes
    with pytest.raises(ModelLoadError, match="last dimension 8"):
        Detector(manifest("yolov5"), path)


def test_nms_suppresses_same_class_and_keeps_other_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert nms(boxes, scores, 0.45).tolist() == [0, 3]
    assert nms(boxes, scores, 0.45, max_keep=1).tolist() == [0]
    assert batched_nms(boxes, scores, np.array([0, 0, 1, 0]), 0.45).tolist() == [0, 2, 3]
    # IoU of boxes 0 and 1 is 81/119 = 0.68: kept when the threshold is above it.
    assert nms(boxes, scores, 0.7).tolist() == [0, 1, 3]  # 2 is identical to 0: always suppressed
    assert batched_nms(boxes, scores, np.array([0, 0, 1, 0]), 0.7).tolist() == [0, 1, 2, 3]
    neg = np.array([[-5, -5, 1, 1], [-4, -4, 1, 1]], dtype=float)  # negative coords, different classes
    assert batched_nms(neg, np.array([0.9, 0.8]), np.array([0, 1]), 0.45).tolist() == [0, 1]
