"""Session creation: CPU provider, thread defaults, clear errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelLoadError, ModelPackError
from wildlife_desktop.runtime import ModelManifest, make_session
from wildlife_desktop.runtime.session import default_intra_threads, inspect_onnx


def test_session_is_cpu_and_reads_shapes(make_const_model: Callable[..., Path]) -> None:
    path = make_const_model("m.onnx", np.zeros((1, 300, 6)), input_shape=(1, 3, "h", "w"),
                            metadata={"weights": "random"})
    sess = make_session(path, intra_threads=1)
    assert sess.get_providers() == ["CPUExecutionProvider"]
    info = inspect_onnx(path)
    assert info.inputs[0].name == "images" and info.inputs[0].fixed_hw is None
    assert info.inputs[0].fixed_batch == 1 and info.outputs[0].shape == (1, 300, 6)
    assert info.metadata == {"weights": "random"}
    assert default_intra_threads() == max(1, (os.cpu_count() or 1) - 1)


def test_missing_and_corrupt_files_raise_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        make_session(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(ModelLoadError, match="junk.onnx: it is not a valid ONNX model"):
        make_session(junk)


def test_labels_must_not_be_a_string() -> None:
    with pytest.raises(ModelPackError, match="not a single string"):
        ModelManifest(id="x", version="1", name="x", family="yolov5", task="detection", file="x.onnx",
                      sha256="0" * 64, input_size=640, labels="animal")  # type: ignore[arg-type]
