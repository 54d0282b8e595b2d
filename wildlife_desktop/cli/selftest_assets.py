"""What ``self-test`` runs on, made at run time: a tiny synthetic detector pack and a JPEG with EXIF.

Nothing binary is shipped for the self-test: the ONNX graph is built with the ``onnx`` package
and the image with Pillow, in a throw-away folder. The same builder gives the test suite its
tiny detectors (``tests/fixtures/tiny_onnx.py``).

The detector has the yolov10 output layout ([1, 300, 6]: x1, y1, x2, y2, score, class): row 0 is
an "animal" box (``box``, fractions of the input) whose score is the mean brightness of the 0..1
input, so the output depends on the decoded image; row 1 is a fixed "person" box scoring 0.3.
It is not a detector: it proves that onnxruntime loads and runs a model inside the installed app.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Final

import numpy as np

SELFTEST_MODEL_ID: Final = "selftest-tiny-yolov10"
SELFTEST_ONNX: Final = "selftest_yolov10.onnx"
SELFTEST_DATETIME: Final = "2011-07-06 15:40:11"
SELFTEST_IMAGE_SIZE: Final = (1280, 1024)


def tiny_yolov10(path: Path, size: int = 64, meta: dict[str, str] | None = None,
                 box: tuple[float, float, float, float] = (0.25, 0.25, 0.75, 0.75)) -> Path:
    """Write the tiny yolov10-layout ONNX model described in the module docstring to ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    s = float(size)
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 300, 6])
    init = [
        numpy_helper.from_array(np.array([[[box[0] * s, box[1] * s, box[2] * s, box[3] * s]]], np.float32), "box0"),
        numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "cls0"),
        numpy_helper.from_array(np.array([[[0, 0, s / 8, s / 8, 0.3, 1]]], np.float32), "row1"),
        numpy_helper.from_array(np.zeros((1, 298, 6), np.float32), "rest"),
        numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["score"]),
        helper.make_node("Concat", ["box0", "score", "cls0"], ["row0"], axis=2),
        helper.make_node("Concat", ["row0", "row1", "rest"], ["output0"], axis=1),
    ]
    model = helper.make_model(helper.make_graph(nodes, "tiny_yolov10", [inp], [out], init),
                              opset_imports=[helper.make_opsetid("", 17)], producer_name="wildlife-desktop")
    model.ir_version = 8
    for key, value in (meta or {}).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def write_selftest_pack(out_dir: Path) -> Path:
    """A model pack folder (manifest + ONNX) holding the tiny detector; returns the folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = tiny_yolov10(out_dir / SELFTEST_ONNX,
                             meta={"purpose": "wildlife-desktop self-test (synthetic; not a detector)"})
    manifest = {
        "id": SELFTEST_MODEL_ID, "version": "1", "name": "Self-test detector (synthetic)", "family": "yolov10",
        "task": "detection", "file": SELFTEST_ONNX, "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "input_size": 64, "labels": ["animal", "person", "vehicle"], "typical_threshold": 0.2,
        "letterbox": "square", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
        "licence": "MIT", "source_url": "wildlife_desktop/cli/selftest_assets.py", "random_weights": False,
        "schema_version": 1,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out_dir


def write_selftest_image(path: Path) -> Path:
    """A JPEG with EXIF DateTimeOriginal, camera make/model and non-trivial content."""
    from PIL import Image

    w, h = SELFTEST_IMAGE_SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 255 // (w + h))], axis=-1).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "WildlifeDesktop", "self-test"  # Make, Model
    exif.get_ifd(0x8769)[0x9003] = SELFTEST_DATETIME.replace("-", ":")  # DateTimeOriginal
    Image.fromarray(rgb).save(path, "JPEG", quality=85, exif=exif.tobytes())
    return path
