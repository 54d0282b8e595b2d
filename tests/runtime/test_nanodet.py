"""NanoDet family: GFL decoder on hand-made outputs, outputs matched by shape, COCO -> detector categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.fixtures.onnx_io import save_graph
from wildlife_desktop.core.errors import ModelLoadError, ModelPackError
from wildlife_desktop.core.records import BBox
from wildlife_desktop.runtime import Detector, ModelStore
from wildlife_desktop.runtime.manifest import manifest_from_dict, manifest_to_dict
from wildlife_desktop.runtime.postprocess import decode_nanodet
from wildlife_desktop.training.packs.nanodet import (
    CATEGORY_MAP,
    SHA256,
    install_nanodet,
    nanodet_manifest,
    read_labels,
)

from .conftest import SHARED

NANODET_DIR = SHARED / "models" / "real" / "nanodet_coco"
COCO = read_labels(NANODET_DIR / "coco80_labels.txt")
GRIDS = {8: 52, 16: 26, 32: 13}
BINS = 11


def peaked(bins: tuple[float, float, float, float]) -> np.ndarray:
    """44 box logits whose softmax puts (almost) all mass on the given bin per side; a half bin
    (e.g. 2.5) splits it evenly between the two neighbours, so the expectation is still that value."""
    logits = np.full((4, BINS), -60.0, dtype=np.float32)
    for side, b in enumerate(bins):
        lo, hi = int(np.floor(b)), int(np.ceil(b))
        logits[side, lo] = logits[side, hi] = 30.0
    return logits.reshape(-1)


def head(cells: dict[tuple[int, int], tuple[str, float, tuple[float, float, float, float]]]) -> list[np.ndarray]:
    """The six outputs ``[scores_s8, boxes_s8, scores_s16, ...]`` with only the given cells set.

    ``cells``: ``(stride, cell index) -> (COCO class, score, bins per side)``.
    """
    outs: list[np.ndarray] = []
    for stride, n in GRIDS.items():
        scores = np.zeros((1, n * n, 80), dtype=np.float32)
        boxes = np.tile(peaked((0, 0, 0, 0)), (1, n * n, 1))
        for (s, i), (cls, score, bins) in cells.items():
            if s == stride:
                scores[0, i, COCO.index(cls)] = score
                boxes[0, i] = peaked(bins)
        outs += [scores, boxes]
    return outs


# A car centred on cell (col 5, row 10) of the stride-16 grid: centre (88, 168); sides 3, 2, 4, 5
# bins -> left 48, top 32, right 64, bottom 80 -> x1 40, y1 136, x2 152, y2 248 (416-px input).
CAR = (16, 10 * 26 + 5)
CAR_BOX = np.array([40.0, 136.0, 152.0, 248.0])
CELLS = {
    CAR: ("car", 0.8, (3, 2, 4, 5)),
    (16, 10 * 26 + 6): ("truck", 0.6, (4, 2, 3, 5)),  # the same box from the next cell
    (8, 5 * 52 + 40): ("dog", 0.7, (2.5, 1, 1, 2)),  # centre (324, 44): x1 304, y1 36, x2 332, y2 60
    (32, 12 * 13 + 1): ("person", 0.5, (1, 1, 1, 1)),  # centre (48, 400), below the 0.55 person floor
    (32, 0): ("potted plant", 0.9, (1, 1, 1, 1)),  # not a camera-trap class: dropped
}


def test_gfl_decoder_recovers_hand_made_boxes() -> None:
    c = decode_nanodet(head(CELLS), conf_floor=0.05, nms_iou=0.5, input_hw=(416, 416))
    got = {COCO[k]: (round(float(s), 3), b) for k, s, b in zip(c.classes, c.scores, c.boxes, strict=True)}
    assert set(got) == {"car", "truck", "dog", "person", "potted plant"}  # per-class NMS: car and truck both stay
    np.testing.assert_allclose(got["car"][1], CAR_BOX, atol=1e-6)
    np.testing.assert_allclose(got["truck"][1], CAR_BOX, atol=1e-6)
    np.testing.assert_allclose(got["dog"][1], [304.0, 36.0, 332.0, 60.0], atol=1e-6)
    assert list(c.scores) == sorted(c.scores, reverse=True) and got["car"][0] == 0.8
    # the floor applies before anything else; a wrong number of outputs is a clear error
    assert len(decode_nanodet(head(CELLS), conf_floor=0.85, nms_iou=0.5, input_hw=(416, 416))) == 1
    with pytest.raises(ValueError, match="needs 6 outputs"):
        decode_nanodet(head(CELLS)[:4], conf_floor=0.05, nms_iou=0.5, input_hw=(416, 416))
    with pytest.raises(ValueError, match="stride 8"):
        decode_nanodet(head(CELLS), conf_floor=0.05, nms_iou=0.5, input_hw=(320, 320))


def multi_const_model(path: Path, outputs: list[np.ndarray], order: list[int]) -> Path:
    """An ONNX model whose outputs are ``outputs`` in ``order``, named out0.. (names say nothing)."""
    nodes = [helper.make_node("ReduceMean", ["input_1:0"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits = [numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero")]
    values = []
    for k, i in enumerate(order):
        inits.append(numpy_helper.from_array(outputs[i], f"c{k}"))
        nodes.append(helper.make_node("Add", [f"c{k}", "z"], [f"out{k}"]))
        values.append(helper.make_tensor_value_info(f"out{k}", TensorProto.FLOAT, list(outputs[i].shape)))
    graph = helper.make_graph(nodes, "nanodet-const",
                              [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [1, 3, 416, 416])],
                              values, initializer=inits)
    return save_graph(graph, path)


def test_detector_maps_coco_classes_to_detector_categories(tmp_path: Path) -> None:
    path = multi_const_model(tmp_path / "nd.onnx", head(CELLS), order=[4, 1, 0, 5, 3, 2])
    det = Detector(nanodet_manifest(COCO, "0" * 64), path)
    assert det.labels == ("animal", "person", "vehicle") and det.letterbox_mode == "stretch"
    image = np.zeros((416, 832, 3), dtype=np.uint8)  # stretched 2:1 -> x / 2 in the input
    out = det.detect(image, conf_floor=0.05)
    # car + truck -> ONE vehicle (NMS again after mapping), dog -> animal, person 0.5 < floor 0.55,
    # potted plant dropped
    assert [(d.category, d.confidence) for d in out] == [("3", 0.8), ("1", 0.7)]
    assert out[0].bbox == BBox(round(40 / 416, 4), round(136 / 416, 4), round(112 / 416, 4), round(112 / 416, 4))
    unfloored = det.detect(image, conf_floor=0.05, use_category_floors=False)
    assert [(d.category, d.confidence) for d in unfloored] == [("3", 0.8), ("1", 0.7), ("2", 0.5)]


def test_category_map_as_data() -> None:
    assert CATEGORY_MAP["person"] == "person" and CATEGORY_MAP["truck"] == "vehicle"
    assert CATEGORY_MAP["giraffe"] == "animal" and "potted plant" not in CATEGORY_MAP
    assert sorted(CATEGORY_MAP.values()).count("vehicle") == 8 and sorted(CATEGORY_MAP.values()).count("animal") == 10
    m = nanodet_manifest(COCO, "0" * 64)
    assert manifest_from_dict(manifest_to_dict(m)) == m  # round-trips through JSON
    data = manifest_to_dict(m)
    with pytest.raises(ModelPackError, match="labels the model does not have: unicorn"):
        manifest_from_dict({**data, "category_map": {**data["category_map"], "unicorn": "animal"}})
    with pytest.raises(ModelPackError, match="'boat' is not a detector category"):
        manifest_from_dict({**data, "category_map": {"car": "boat"}})
    with pytest.raises(ModelPackError, match="between 0 and 1"):
        manifest_from_dict({**data, "category_floors": {"person": 1.5}})
    with pytest.raises(ModelPackError, match="must be an object"):
        manifest_from_dict({**data, "category_map": ["car"]})


def test_missing_head_output_is_a_clear_load_error(tmp_path: Path) -> None:
    outs = head(CELLS)
    path = multi_const_model(tmp_path / "five.onnx", outs, order=[0, 1, 2, 3, 4])  # no stride-32 boxes
    with pytest.raises(ModelLoadError, match=r"expected one output \[1, 169, 44\] \(boxes, stride 32\)"):
        Detector(nanodet_manifest(COCO, "0" * 64), path)


def test_install_real_nanodet_and_detect_a_car(store: ModelStore, tmp_path: Path) -> None:
    notes: list[str] = []
    m = install_nanodet(store, NANODET_DIR, notify=notes.append)
    assert (m.id, m.sha256, m.licence, m.family) == ("nanodet-coco", SHA256, "MIT", "nanodet")
    assert "MegaDetector" not in m.name and notes
    det = store.open_detector("nanodet-coco", intra_threads=1)
    from wildlife_desktop.pipeline.images import load_image

    car = load_image(SHARED / "samples" / "caltech_cct" / "car__59d8eae2-23d2-11e8-a6a3-ec086b02610b.jpg",
                     target=416).array
    out = det.detect(car)
    assert out and out[0].category == "3" and out[0].confidence >= 0.35  # the truck
    assert all(d.category in "123" for d in out)
    # another file under the known name is refused
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "nanodet.onnx").write_bytes(b"not the model")
    (fake / "coco80_labels.txt").write_text("\n".join(COCO), encoding="utf-8")
    with pytest.raises(ModelPackError, match="not the known NanoDet file"):
        install_nanodet(store, fake, notify=notes.append)
    with pytest.raises(ModelPackError, match="nanodet.onnx is missing"):
        install_nanodet(store, tmp_path, notify=notes.append)
