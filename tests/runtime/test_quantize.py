"""Static int8 quantisation on tiny on-the-fly conv models (fast): QDQ graph, decoding tail kept in
float, agreement figures, and the NaN / speed / agreement guards of the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.fixtures.onnx_io import save_graph
from wildlife_desktop.core.errors import ModelLoadError
from wildlife_desktop.runtime import quantize as q
from wildlife_desktop.runtime.postprocess import Candidates

SIZE = 64


def _images(n: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth synthetic 'scenes' (gradients + blobs), uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:128]
    out = []
    for _ in range(n):
        base = (xx[..., None] * rng.uniform(0.5, 2, 3) + yy[..., None] * rng.uniform(0.5, 2, 3)) % 255
        cx, cy = rng.integers(20, 100), rng.integers(20, 70)
        blob = 120 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 200.0)
        out.append(np.clip(base * 0.6 + blob[..., None], 0, 255).astype(np.uint8))
    return out


def tiny_conv_yolov8(path: Path) -> Path:
    """Conv body -> [1, 7, 64] (cx, cy, w, h in input px via sigmoid x 64, then 3 class scores)."""
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "b1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (7, 8, 8, 8)).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(rng.normal(0, 0.5, 7).astype(np.float32), "b2")
    shape = numpy_helper.from_array(np.array([1, 7, 64], np.int64), "shape")
    scale = numpy_helper.from_array(np.array([SIZE, SIZE, SIZE / 2, SIZE / 2, 1, 1, 1], np.float32).reshape(1, 7, 1),
                                    "scale")
    nodes = [
        helper.make_node("Conv", ["images", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[8, 8], name="conv2"),
        helper.make_node("Reshape", ["c2", "shape"], ["flat"], name="tail_reshape"),
        helper.make_node("Sigmoid", ["flat"], ["sig"], name="tail_sigmoid"),
        helper.make_node("Mul", ["sig", "scale"], ["output0"], name="tail_scale"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_conv_yolov8",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 7, 64])],
        [w1, b1, w2, b2, shape, scale],
    )
    return save_graph(graph, path)


def tiny_conv_classifier(path: Path) -> Path:
    """Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm: [1, 3, 32, 32] -> [1, 5] logits."""
    rng = np.random.default_rng(2)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.3, (16, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(np.zeros(16, np.float32), "b"),
        numpy_helper.from_array(rng.normal(0, 1.0, (5, 16)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(5, np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_conv_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5])], inits,
    )
    return save_graph(graph, path)


def test_detector_is_quantised_body_only_and_reports_agreement(tmp_path: Path) -> None:
    src = tiny_conv_yolov8(tmp_path / "det.onnx")
    dst = tmp_path / "out" / "det-int8.onnx"
    rep = q.quantize_static_model(src, dst, _images(6), "yolov8", eval_images=_images(4, seed=5), timing_runs=3)
    model = onnx.load(str(dst))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    # The decoding tail (Reshape, Sigmoid, Mul after the last Conv) stays float: its output is not a DQ.
    producer = {o: n for n in model.graph.node for o in n.output}
    assert producer["output0"].op_type == "Mul"
    assert producer[producer["output0"].input[0]].op_type == "Sigmoid"
    assert rep.excluded_nodes == 3
    assert rep.finite
    assert rep.n_calibration == 6 and rep.n_eval == 4
    assert 0.0 <= rep.f1_low <= 1.0 and 0.0 <= rep.f1_vs_fp32 <= 1.0
    assert rep.boxes_fp32_low >= rep.boxes_fp32
    agreement = rep.agreement()
    assert {"f1_vs_fp32", "f1_low", "threshold", "low_threshold", "speedup", "finite", "safe_default",
            "boxes_fp32", "boxes_fp32_low", "iou"} <= set(agreement)
    assert "src" not in agreement
    if rep.safe_default:
        assert rep.speedup >= 1.1 and rep.finite
    else:
        assert rep.reason


def test_classifier_top1_agreement(tmp_path: Path) -> None:
    src = tiny_conv_classifier(tmp_path / "cls.onnx")
    rep = q.quantize_static_model(src, tmp_path / "cls-int8.onnx", _images(6), "classifier",
                                  eval_images=_images(8, seed=3), timing_runs=3)
    assert rep.finite
    assert rep.boxes_fp32 == 8  # one top-1 comparison per evaluation image
    assert rep.f1_vs_fp32 == rep.f1_low
    assert rep.f1_vs_fp32 >= 0.75  # a 2-layer net keeps its top-1 under int8 on almost every image
    assert rep.excluded_nodes == 4  # the last Relu, GlobalAveragePool, Flatten, Gemm


def test_match_f1() -> None:
    boxes = np.array([[0, 0, 10, 10], [20, 20, 40, 40]], dtype=np.float64)
    a = Candidates(boxes, np.array([0.9, 0.5]), np.array([0, 1]))
    assert q.match_f1(a, a, 0.2) == (1.0, 2)
    shifted = Candidates(boxes + 15, a.scores, a.classes)
    assert q.match_f1(a, shifted, 0.2)[0] == 0.0
    other_class = Candidates(boxes, a.scores, np.array([1, 0]))
    assert q.match_f1(a, other_class, 0.2)[0] == 0.0
    one_missing = Candidates(boxes[:1], a.scores[:1], a.classes[:1])
    assert q.match_f1(a, one_missing, 0.2)[0] == pytest.approx(2 / 3)
    empty = Candidates(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))
    assert q.match_f1(empty, empty, 0.2) == (1.0, 0)  # vacuous: 1.0 by convention, 0 reference boxes
    assert q.match_f1(a, a, 0.95) == (1.0, 0)


def test_nan_output_is_never_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tiny_conv_yolov8(tmp_path / "det.onnx")
    dst = tmp_path / "det-int8.onnx"
    real = q.make_session

    class NaNSession:
        def __init__(self, inner: Any):
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def run(self, names: Any, feeds: Any) -> list[np.ndarray]:
            return [np.full_like(o, np.nan) for o in self._inner.run(names, feeds)]

    def fake(path: Path | str, **kw: Any) -> Any:
        sess = real(path, **kw)
        return NaNSession(sess) if Path(path) == dst else sess

    monkeypatch.setattr(q, "make_session", fake)
    monkeypatch.setattr(q, "_time_ms", lambda *a, **k: [10.0, 5.0])  # pretend it is 2x faster
    rep = q.quantize_static_model(src, dst, _images(4), "yolov8", timing_runs=1)
    assert not rep.finite and not rep.safe_default
    assert "NaN" in rep.reason


def test_slower_int8_is_never_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tiny_conv_classifier(tmp_path / "cls.onnx")
    monkeypatch.setattr(q, "_time_ms", lambda *a, **k: [10.0, 12.0])
    rep = q.quantize_static_model(src, tmp_path / "cls-int8.onnx", _images(4), "classifier", timing_runs=1)
    assert rep.speedup == pytest.approx(10 / 12, abs=1e-3)
    assert not rep.safe_default and "not faster" in rep.reason


def test_vacuous_agreement_is_not_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tiny_conv_yolov8(tmp_path / "det.onnx")
    monkeypatch.setattr(q, "_time_ms", lambda *a, **k: [10.0, 5.0])
    # Nothing scores 0.999 or more: F1 at that threshold is 1.0 by convention but based on 0 boxes.
    rep = q.quantize_static_model(src, tmp_path / "d8.onnx", _images(4), "yolov8", threshold=0.999,
                                  low_threshold=0.999, timing_runs=1)
    assert rep.boxes_fp32 == 0 and rep.f1_vs_fp32 == 1.0
    assert not rep.safe_default and "too few" in rep.reason


def test_errors(tmp_path: Path) -> None:
    src = tiny_conv_classifier(tmp_path / "cls.onnx")
    with pytest.raises(ModelLoadError):
        q.quantize_static_model(src, tmp_path / "x.onnx", [], "classifier")
    with pytest.raises(ModelLoadError):
        q.quantize_static_model(src, tmp_path / "x.onnx", _images(1), "nope")


def test_multi_output_family_is_refused_before_any_work(tmp_path: Path) -> None:
    # mypy: decode_nanodet takes the head's six outputs, the agreement check passed it one array,
    # so a NanoDet pack crashed with a bare ValueError after calibrating and writing the int8 file.
    src = tiny_conv_yolov8(tmp_path / "det.onnx")
    with pytest.raises(ModelLoadError, match="several outputs"):
        q.quantize_static_model(src, tmp_path / "x.onnx", _images(1), "nanodet")
    assert not (tmp_path / "x.onnx").exists()
