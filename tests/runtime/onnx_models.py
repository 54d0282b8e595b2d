"""Tiny ONNX models built on the fly with ``onnx.helper`` for the runtime tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.fixtures.onnx_io import save_graph

Dim = int | str


def const_output_model(
    path: Path,
    output: np.ndarray,
    *,
    input_shape: Sequence[Dim] = (1, 3, 640, 640),
    input_name: str = "images",
    metadata: dict[str, str] | None = None,
) -> Path:
    """An ONNX model whose single output is ``output`` (+ 0 x mean(input), so the input is used)."""
    const = numpy_helper.from_array(np.asarray(output, dtype=np.float32), "const")
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["const", "z"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "const",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(np.shape(output)))],
        initializer=[const, numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero")],
    )
    return save_graph(graph, path, metadata=metadata)


def mean_colour_classifier(
    path: Path,
    weights: np.ndarray,
    *,
    batch: Dim = "N",
    size: int = 32,
    extra_output: bool = False,
) -> Path:
    """Classifier: logits = per-channel mean of the (normalised) input @ ``weights`` ``[3, C]``."""
    w = np.asarray(weights, dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["feat"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["feat", "W"], ["logits"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, w.shape[1]])]
    if extra_output:
        nodes.append(helper.make_node("Identity", ["feat"], ["features"]))
        outputs.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, 3]))
    graph = helper.make_graph(
        nodes,
        "meancolour",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])],
        outputs,
        initializer=[numpy_helper.from_array(w, "W")],
    )
    return save_graph(graph, path)
