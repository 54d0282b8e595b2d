"""ONNX graph surgery for fine-tuning: find (or expose) a classifier's ``features``, swap its head.

* :func:`find_features` names the feature tensor: the tensor the pack's manifest names
  (``extra["features_output"]``, e.g. MobileNetV2's pooled ``[N, 1280, 1, 1]``), else the graph
  output ``features`` when the model has one (the Pytorch-Wildlife-style twins do), else the input
  of the final Gemm/MatMul that feeds the logits (through Add/Softmax/Reshape-like nodes).
* :func:`with_features_output` adds that tensor as an output (for feature extraction).
* :func:`replace_head` keeps the graph up to the features, flattens them to ``[N, D]`` and adds
  a new Gemm (or, for a head with a hidden layer, Gemm, Relu, Gemm): outputs ``logits`` (first,
  what the runtime's Classifier reads) then ``features`` (so a fine-tuned model can itself be
  fine-tuned again).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ...core.errors import ModelLoadError

FEATURES = "features"
LOGITS = "logits"
#: Nodes we walk back through from the logits to the final Gemm/MatMul.
_PASS_THROUGH = frozenset(
    {
        "Add",
        "Identity",
        "Reshape",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Cast",
        "Softmax",
        "Sigmoid",
        "LogSoftmax",
        "Dropout",
    }
)


@dataclass(frozen=True)
class FeatureTap:
    """Where a classifier's logits and features are."""

    logits: str  # the output the base classifier's answers are read from (the manifest's, else the first)
    features: str  # tensor name (a graph output or an internal tensor)
    is_output: bool  # True when ``features`` is already a graph output


def _constant_names(graph: onnx.GraphProto) -> set[str]:
    names = {i.name for i in graph.initializer}
    names.update(o for n in graph.node if n.op_type == "Constant" for o in n.output)
    return names


def find_features(
    model: onnx.ModelProto, model_id: str = "", *, features: str | None = None, output: str | None = None
) -> FeatureTap:
    """Locate the feature tensor of a classifier graph.

    Args:
        model: the base classifier.
        model_id: for messages.
        features: the tensor the pack's manifest names as its features (``extra["features_output"]``).
        output: the output the manifest reads the classifier's answers from (default: the first).

    Raises:
        ModelLoadError: a named tensor or output the graph does not have; no ``features`` output and
            no final Gemm/MatMul with constant weights.
    """
    graph = model.graph
    outputs = [o.name for o in graph.output]
    who = f"Model '{model_id}'" if model_id else "The base model"
    if not outputs:
        raise ModelLoadError(f"{who} has no outputs.")
    if output is not None and output not in outputs:
        raise ModelLoadError(f"{who}: its manifest reads output '{output}', which the ONNX file does not have.")
    logits = output or outputs[0]
    producers = {o: n for n in graph.node for o in n.output}
    if features is not None:
        if features in outputs and features != logits:
            return FeatureTap(logits, features, True)
        if features in producers:
            return FeatureTap(logits, features, False)
        raise ModelLoadError(f"{who}: its manifest names features '{features}', which the ONNX graph does not compute.")
    if FEATURES in outputs and FEATURES != logits:
        return FeatureTap(logits, FEATURES, True)
    consts = _constant_names(graph)
    name = logits
    for _ in range(16):
        node = producers.get(name)
        if node is None:
            break
        if node.op_type in ("Gemm", "MatMul"):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if len(node.input) >= 2 and node.input[1] in consts and not attrs.get("transA", 0):
                return FeatureTap(logits, node.input[0], False)
            break
        inputs = [i for i in node.input if i and i not in consts]
        if node.op_type not in _PASS_THROUGH or len(inputs) != 1:
            break
        name = inputs[0]
    raise ModelLoadError(
        f"{who} cannot be fine-tuned: it has no 'features' output and its logits do not come from a final "
        "fully-connected layer (Gemm or MatMul with fixed weights) whose input could serve as features. "
        "Export the classifier with a second output named 'features' (the penultimate-layer embedding), "
        "or name its feature tensor in the pack's manifest (extra.features_output)."
    )


def with_features_output(model: onnx.ModelProto, tap: FeatureTap) -> onnx.ModelProto:
    """A copy of ``model`` whose outputs are ``[logits, features]`` (the features tensor exposed)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    if tap.is_output:
        return out
    out.graph.output.append(helper.make_tensor_value_info(tap.features, TensorProto.FLOAT, None))
    return out


def _subgraph_inputs(node: onnx.NodeProto) -> Iterator[str]:
    """Names a node's subgraphs (If/Loop/Scan bodies) read from the outer scope."""
    for attr in node.attribute:
        graphs = list(attr.graphs) + ([attr.g] if attr.HasField("g") else [])
        for g in graphs:
            for n in g.node:
                yield from n.input
                yield from _subgraph_inputs(n)


def _needed_nodes(graph: onnx.GraphProto, target: str) -> list[onnx.NodeProto]:
    """Nodes needed to compute ``target``, in their original (topological) order."""
    producers = {o: i for i, n in enumerate(graph.node) for o in n.output}
    keep: set[int] = set()
    stack = [target]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        i = producers.get(name)
        if i is None or i in keep:
            continue
        keep.add(i)
        node = graph.node[i]
        stack.extend(x for x in node.input if x)
        stack.extend(_subgraph_inputs(node))
    return [graph.node[i] for i in sorted(keep)]


def _unique(name: str, used: set[str]) -> str:
    out, k = name, 1
    while out in used:
        out, k = f"{name}_{k}", k + 1
    return out


def replace_head(
    model: onnx.ModelProto,
    tap: FeatureTap,
    weight: np.ndarray,
    bias: np.ndarray,
    *,
    metadata: dict[str, str] | None = None,
    hidden_weight: np.ndarray | None = None,
    hidden_bias: np.ndarray | None = None,
) -> onnx.ModelProto:
    """The base graph up to the features, flattened to ``[N, D]``, plus ``logits = features @ weight + bias`` (a Gemm),
    or with a hidden layer ``logits = relu(features @ hidden_weight + hidden_bias) @ weight + bias`` (Gemm, Relu, Gemm).

    Args:
        model: the base classifier.
        tap: where its features are (:func:`find_features`).
        weight: ``[D, C]`` head weights for raw features (``[H, C]`` after a hidden layer); bias ``[C]``.
        metadata: ONNX metadata properties to set (added to the base model's).
        hidden_weight, hidden_bias: ``[D, H]`` and ``[H]`` of the hidden layer (None: a linear head).

    Returns:
        A checked model with outputs ``logits`` ``[batch, C]`` and ``features`` ``[batch, D]``.
    """
    graph = model.graph
    nodes = _needed_nodes(graph, tap.features)
    used = {n for node in nodes for n in (*node.input, *node.output)} | {i.name for i in graph.input}
    weight = np.asarray(weight, dtype=np.float32)
    bias = np.asarray(bias, dtype=np.float32).reshape(-1)
    c = weight.shape[1]
    d = weight.shape[0] if hidden_weight is None else np.asarray(hidden_weight).shape[0]
    w_name = _unique("wd_finetune_head_w", used)
    b_name = _unique("wd_finetune_head_b", used | {w_name})
    head_input = FEATURES
    layer_inits = []
    hidden_nodes = []
    if hidden_weight is not None:
        hw = np.asarray(hidden_weight, dtype=np.float32)
        hb = np.asarray(hidden_bias if hidden_bias is not None else np.zeros(hw.shape[1]), dtype=np.float32)
        if hw.shape[1] != weight.shape[0]:
            raise ValueError(f"hidden layer of {hw.shape[1]} units, output layer reads {weight.shape[0]}")
        taken = used | {w_name, b_name}
        hw_name = _unique("wd_finetune_hidden_w", taken)
        hb_name = _unique("wd_finetune_hidden_b", taken | {hw_name})
        pre = _unique("wd_finetune_hidden_pre", taken | {hw_name, hb_name})
        head_input = _unique("wd_finetune_hidden", taken | {hw_name, hb_name, pre})
        hidden_nodes = [
            helper.make_node("Gemm", [FEATURES, hw_name, hb_name], [pre], name="wd_finetune_hidden_layer", transB=1),
            helper.make_node("Relu", [pre], [head_input], name="wd_finetune_hidden_relu"),
        ]
        layer_inits = [numpy_helper.from_array(np.ascontiguousarray(hw.T), hw_name),
                       numpy_helper.from_array(hb.reshape(-1), hb_name)]
    feats = tap.features
    extra_nodes = []
    if feats != FEATURES:
        if FEATURES in used:
            raise ModelLoadError("The base model uses the tensor name 'features' for something else.")
        # Flatten: pooled [N, D, 1, 1] features (MobileNetV2) become [N, D]; [N, D] stays as it is
        extra_nodes.append(helper.make_node("Flatten", [feats], [FEATURES], name="wd_finetune_features", axis=1))
    if LOGITS in used:
        raise ModelLoadError("The base model computes its features from a tensor named 'logits'.")
    extra_nodes += hidden_nodes
    extra_nodes.append(
        helper.make_node("Gemm", [head_input, w_name, b_name], [LOGITS], name="wd_finetune_head", transB=1)
    )
    inputs_needed = {n for node in nodes for n in node.input} | {feats}
    inits = [i for i in graph.initializer if i.name in inputs_needed]
    inits += layer_inits
    inits += [numpy_helper.from_array(np.ascontiguousarray(weight.T), w_name), numpy_helper.from_array(bias, b_name)]
    batch = _batch_dim(graph)
    init_names = {i.name for i in graph.initializer}
    new_graph = helper.make_graph(
        nodes + extra_nodes,
        graph.name or "classifier",
        [i for i in graph.input if i.name not in init_names or i.name in inputs_needed],
        [
            helper.make_tensor_value_info(LOGITS, TensorProto.FLOAT, [batch, c]),
            helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, [batch, d]),
        ],
        inits,
        value_info=[v for v in graph.value_info if v.name in inputs_needed and v.name != FEATURES],
    )
    out = helper.make_model(new_graph, opset_imports=list(model.opset_import), producer_name="wildlife-desktop")
    out.ir_version = model.ir_version
    out.functions.extend(model.functions)
    props = {p.key: p.value for p in model.metadata_props}
    props.update(metadata or {})
    for k, v in props.items():
        p = out.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(out)
    return out


def _batch_dim(graph: onnx.GraphProto) -> int | str:
    dims = graph.input[0].type.tensor_type.shape.dim if graph.input else []
    if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0:
        return int(dims[0].dim_value)
    if dims and dims[0].dim_param:
        return dims[0].dim_param
    return "N"


def head_weights(model: onnx.ModelProto) -> tuple[np.ndarray, np.ndarray]:
    """The ``[D, C]`` (or ``[H, C]``) weight and ``[C]`` bias of the output layer written by :func:`replace_head`."""
    return _layer(model, "wd_finetune_head")


def hidden_weights(model: onnx.ModelProto) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``[D, H]`` weight and ``[H]`` bias of the hidden layer written by :func:`replace_head`, or None."""
    if not any(n.name == "wd_finetune_hidden_layer" for n in model.graph.node):
        return None
    return _layer(model, "wd_finetune_hidden_layer")


def _layer(model: onnx.ModelProto, name: str) -> tuple[np.ndarray, np.ndarray]:
    node = next(n for n in model.graph.node if n.name == name)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return inits[node.input[1]].T, inits[node.input[2]]


def output_names(model: onnx.ModelProto) -> Sequence[str]:
    return [o.name for o in model.graph.output]
