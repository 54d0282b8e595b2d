"""Make the self-test model pack shipped in ``wildlife_desktop/assets/selftest/`` (run once; committed).

The ONNX file is a tiny deterministic detector with the yolov10 output layout ([1, 300, 6]:
x1, y1, x2, y2, score, class), like ``tests/fixtures/tiny_onnx.py``: row 0 is an "animal" box
over the centre quarter of the input whose score is the mean brightness of the (0..1) input,
so the output depends on the decoded image; row 1 is a fixed "person" box scoring 0.3. It is
not a detector: it only proves that onnxruntime loads and runs a model inside the installed app.

Usage: ``python tools/make_selftest_model.py [OUT_DIR]`` (needs the ``onnx`` package).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64
MODEL_ID = "selftest-tiny-yolov10"
ONNX_NAME = "selftest_yolov10.onnx"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "wildlife_desktop" / "assets" / "selftest"


def build_model(size: int = SIZE) -> onnx.ModelProto:
    s = float(size)
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 300, 6])
    box0 = numpy_helper.from_array(np.array([[[s / 4, s / 4, 3 * s / 4, 3 * s / 4]]], np.float32), "box0")
    cls0 = numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "cls0")
    row1 = numpy_helper.from_array(np.array([[[0, 0, s / 8, s / 8, 0.3, 1]]], np.float32), "row1")
    rest = numpy_helper.from_array(np.zeros((1, 298, 6), np.float32), "rest")
    shape = numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape")
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["score"]),
        helper.make_node("Concat", ["box0", "score", "cls0"], ["row0"], axis=2),
        helper.make_node("Concat", ["row0", "row1", "rest"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(nodes, "selftest_yolov10", [inp], [out], [box0, cls0, row1, rest, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="wildlife-desktop")
    model.ir_version = 8
    prop = model.metadata_props.add()
    prop.key, prop.value = "purpose", "wildlife-desktop self-test (synthetic; not a detector)"
    onnx.checker.check_model(model)
    return model


def write_pack(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / ONNX_NAME
    onnx_path.write_bytes(build_model().SerializeToString())
    manifest = {
        "id": MODEL_ID, "version": "1", "name": "Self-test detector (synthetic)", "family": "yolov10",
        "task": "detection", "file": ONNX_NAME, "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "input_size": SIZE, "labels": ["animal", "person", "vehicle"], "typical_threshold": 0.2,
        "letterbox": "square", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
        "licence": "MIT", "source_url": "tools/make_selftest_model.py", "random_weights": False,
        "schema_version": 1,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return onnx_path


if __name__ == "__main__":
    path = write_pack(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
    print(f"wrote {path} ({path.stat().st_size} bytes) and its manifest.json")
