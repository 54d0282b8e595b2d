"""YOLOX (CSPDarknet + PAFPN + decoupled head) as an ONNX graph, built from a state dict without torch.

The graph follows Megvii's YOLOX (``yolox/models``: ``network_blocks.py``, ``darknet.py``,
``yolo_pafpn.py``, ``yolo_head.py``), written here with :mod:`onnx.helper`:

* every ``BaseConv`` is Conv (+ BatchNorm folded into its weights and bias) + SiLU (``x * sigmoid(x)``);
* the Focus stem slices the input into top-left, bottom-left, top-right, bottom-right pixels (in
  that channel order) before its 3x3 conv;
* CSP layers: ``cat(m(conv1(x)), conv2(x)) -> conv3``; bottleneck residuals only in the backbone's
  dark2-dark4 (dark5 and every PAFPN layer have ``shortcut=False``); SPP max-pools 5, 9, 13;
* PAFPN upsampling is nearest x2;
* the head outputs ``[reg(4), sigmoid(obj), sigmoid(cls)]`` per cell, levels (strides 8, 16, 32)
  flattened row-major and concatenated, then decoded in the graph: ``xy = (xy + grid) * stride``,
  ``wh = exp(wh) * stride``.

Input ``images`` ``[1, 3, S, S]`` float32 RGB 0..255 (YOLOX is trained without normalisation);
output ``output0`` ``[1, N, 5 + nc]`` = cx, cy, w, h (input pixels), objectness, class scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ...core.errors import ModelPackError

OPSET: Final[int] = 17
INPUT_NAME: Final[str] = "images"
OUTPUT_NAME: Final[str] = "output0"


@dataclass(frozen=True)
class YoloxConfig:
    """Architecture constants that the weights alone do not tell (YOLOX-tiny by default)."""

    depth: float = 0.33
    width: float = 0.375
    in_channels: tuple[int, int, int] = (256, 512, 1024)
    strides: tuple[int, int, int] = (8, 16, 32)
    spp_kernels: tuple[int, ...] = (5, 9, 13)
    bn_eps: float = 1e-3
    num_classes: int = 1
    input_size: int = 640

    @property
    def base_channels(self) -> int:
        """Focus stem output channels (``int(width * 64)``)."""
        return int(self.width * 64)

    @property
    def base_depth(self) -> int:
        """Bottlenecks in dark2 and dark5 (dark3, dark4 have three times as many)."""
        return max(round(self.depth * 3), 1)


class _Graph:
    """Accumulates nodes and initializers; every weight comes from (and is checked against) the state dict."""

    def __init__(self, sd: Mapping[str, np.ndarray], eps: float, depth: float):
        self.sd = sd
        self.eps = eps
        self.depth = depth
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.used: set[str] = set()
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: object) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def w(self, key: str) -> np.ndarray:
        if key not in self.sd:
            raise ModelPackError(f"YOLOX checkpoint: missing weight '{key}' (not a YOLOX state dict?)")
        self.used.add(key)
        return np.asarray(self.sd[key], dtype=np.float64)

    def conv(self, x: str, prefix: str, *, stride: int = 1, bn: bool = True, act: bool = True,
             cin: int | None = None, cout: int | None = None) -> str:
        """``BaseConv`` (``prefix.conv`` + ``prefix.bn`` + SiLU) or a plain biased conv (``bn=False``)."""
        if bn:
            weight = self.w(f"{prefix}.conv.weight")
            gamma, beta = self.w(f"{prefix}.bn.weight"), self.w(f"{prefix}.bn.bias")
            mean, var = self.w(f"{prefix}.bn.running_mean"), self.w(f"{prefix}.bn.running_var")
            self.used.add(f"{prefix}.bn.num_batches_tracked")
            scale = gamma / np.sqrt(var + self.eps)
            weight = weight * scale[:, None, None, None]
            bias = beta - mean * scale
        else:
            weight, bias = self.w(f"{prefix}.weight"), self.w(f"{prefix}.bias")
        if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
            raise ModelPackError(f"YOLOX checkpoint: '{prefix}' is not a square 2-D convolution")
        if (cin is not None and weight.shape[1] != cin) or (cout is not None and weight.shape[0] != cout):
            raise ModelPackError(f"YOLOX checkpoint: '{prefix}' has shape {list(weight.shape)}, expected "
                                 f"{cout} x {cin} channels for this architecture")
        k = int(weight.shape[2])
        pad = (k - 1) // 2
        wn = self.const(f"{prefix}.w", weight.astype(np.float32))
        bname = self.const(f"{prefix}.b", bias.astype(np.float32))
        y = self.node("Conv", [x, wn, bname], f"{prefix}.conv", kernel_shape=[k, k], strides=[stride, stride],
                      pads=[pad, pad, pad, pad], group=1)
        if not act:
            return y
        return self.node("Mul", [y, self.node("Sigmoid", [y], f"{prefix}.sig")], f"{prefix}.silu")

    def csp(self, x: str, prefix: str, *, n: int, shortcut: bool) -> str:
        """``CSPLayer`` with ``n`` bottlenecks (checked against the state dict)."""
        x1 = self.conv(x, f"{prefix}.conv1")
        x2 = self.conv(x, f"{prefix}.conv2")
        i = 0
        while f"{prefix}.m.{i}.conv1.conv.weight" in self.sd:
            y = self.conv(self.conv(x1, f"{prefix}.m.{i}.conv1"), f"{prefix}.m.{i}.conv2")
            x1 = self.node("Add", [y, x1], f"{prefix}.m.{i}.add") if shortcut else y
            i += 1
        if i != n:
            raise ModelPackError(f"YOLOX checkpoint: CSP layer '{prefix}' has {i} bottlenecks, expected {n} "
                                 f"for depth {self.depth}")
        return self.conv(self.node("Concat", [x1, x2], f"{prefix}.cat", axis=1), f"{prefix}.conv3")

    def spp(self, x: str, prefix: str, kernels: tuple[int, ...]) -> str:
        """``SPPBottleneck``: conv1, then cat(x, maxpool k for k in kernels), conv2."""
        x = self.conv(x, f"{prefix}.conv1")
        pools = [self.node("MaxPool", [x], f"{prefix}.pool{k}", kernel_shape=[k, k], strides=[1, 1],
                           pads=[k // 2] * 4) for k in kernels]
        return self.conv(self.node("Concat", [x, *pools], f"{prefix}.cat", axis=1), f"{prefix}.conv2")

    def upsample2(self, x: str, hint: str) -> str:
        scales = self.const(f"{hint}.scales", np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32))
        return self.node("Resize", [x, "", scales], hint, mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def focus(self, x: str, prefix: str) -> str:
        """Focus: cat(top-left, bottom-left, top-right, bottom-right) pixels, then ``BaseConv`` 3x3."""
        big = np.iinfo(np.int64).max
        parts = []
        for dy, dx, tag in ((0, 0, "tl"), (1, 0, "bl"), (0, 1, "tr"), (1, 1, "br")):
            starts = self.const(f"focus.{tag}.starts", np.array([dy, dx], dtype=np.int64))
            ends = self.const(f"focus.{tag}.ends", np.array([big, big], dtype=np.int64))
            axes = self.const(f"focus.{tag}.axes", np.array([2, 3], dtype=np.int64))
            steps = self.const(f"focus.{tag}.steps", np.array([2, 2], dtype=np.int64))
            parts.append(self.node("Slice", [x, starts, ends, axes, steps], f"focus.{tag}"))
        return self.conv(self.node("Concat", parts, "focus.cat", axis=1), f"{prefix}.conv", cin=12)


@dataclass(frozen=True)
class YoloxGraph:
    """The built model and what was (not) used from the state dict."""

    model: onnx.ModelProto
    unused_keys: tuple[str, ...] = field(default=())


def _grids(cfg: YoloxConfig) -> tuple[np.ndarray, np.ndarray]:
    """``[1, N, 2]`` cell x, y offsets and ``[1, N, 1]`` strides, levels in order, row-major cells."""
    grids, strides = [], []
    for s in cfg.strides:
        n = cfg.input_size // s
        yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grids.append(np.stack((xv, yv), axis=-1).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    return (np.concatenate(grids)[None].astype(np.float32), np.concatenate(strides)[None].astype(np.float32))


def build_yolox(sd: Mapping[str, np.ndarray], cfg: YoloxConfig = YoloxConfig(),
                metadata: Mapping[str, str] | None = None) -> YoloxGraph:
    """Build the YOLOX ONNX graph (decode included) from a YOLOX state dict.

    Args:
        sd: ``{name: array}`` as in ``checkpoint["model"]`` (keys ``backbone.backbone.*``,
            ``backbone.*`` for the PAFPN, ``head.*``).
        cfg: architecture constants (YOLOX-tiny, 1 class, 640 px by default).
        metadata: ONNX ``metadata_props`` to store (source, licence, weights, ...).

    Returns:
        The checked model and the state-dict keys it did not use (must be empty for a true YOLOX).

    Raises:
        ModelPackError: a missing or mis-shaped weight.
    """
    if cfg.input_size % max(cfg.strides):
        raise ModelPackError(f"YOLOX input size must be a multiple of {max(cfg.strides)}")
    g = _Graph(sd, cfg.bn_eps, cfg.depth)
    bc, bd = cfg.base_channels, cfg.base_depth
    bb = "backbone.backbone"
    x = g.focus(INPUT_NAME, f"{bb}.stem")
    feats = {}
    for i, stage in enumerate(("dark2", "dark3", "dark4", "dark5")):
        cout = bc * 2 ** (i + 1)
        x = g.conv(x, f"{bb}.{stage}.0", stride=2, cout=cout)
        if stage == "dark5":
            x = g.spp(x, f"{bb}.{stage}.1", cfg.spp_kernels)
            x = g.csp(x, f"{bb}.{stage}.2", n=bd, shortcut=False)
        else:
            x = g.csp(x, f"{bb}.{stage}.1", n=bd if stage == "dark2" else 3 * bd, shortcut=True)
        feats[stage] = x

    # PAFPN (yolo_pafpn.py); names as in the state dict
    pd = round(3 * cfg.depth)
    x2, x1, x0 = feats["dark3"], feats["dark4"], feats["dark5"]
    fpn_out0 = g.conv(x0, "backbone.lateral_conv0")
    f_out0 = g.node("Concat", [g.upsample2(fpn_out0, "up0"), x1], "p4.cat", axis=1)
    f_out0 = g.csp(f_out0, "backbone.C3_p4", n=pd, shortcut=False)
    fpn_out1 = g.conv(f_out0, "backbone.reduce_conv1")
    f_out1 = g.node("Concat", [g.upsample2(fpn_out1, "up1"), x2], "p3.cat", axis=1)
    pan_out2 = g.csp(f_out1, "backbone.C3_p3", n=pd, shortcut=False)
    p_out1 = g.node("Concat", [g.conv(pan_out2, "backbone.bu_conv2", stride=2), fpn_out1], "n3.cat", axis=1)
    pan_out1 = g.csp(p_out1, "backbone.C3_n3", n=pd, shortcut=False)
    p_out0 = g.node("Concat", [g.conv(pan_out1, "backbone.bu_conv1", stride=2), fpn_out0], "n4.cat", axis=1)
    pan_out0 = g.csp(p_out0, "backbone.C3_n4", n=pd, shortcut=False)

    # decoupled head (yolo_head.py), per level: [reg, sigmoid(obj), sigmoid(cls)] -> [1, 5+nc, h*w]
    nc = cfg.num_classes
    flat_shape = g.const("head.flat_shape", np.array([1, 5 + nc, -1], dtype=np.int64))
    levels = []
    for k, feat in enumerate((pan_out2, pan_out1, pan_out0)):
        h = g.conv(feat, f"head.stems.{k}")
        c = g.conv(g.conv(h, f"head.cls_convs.{k}.0"), f"head.cls_convs.{k}.1")
        r = g.conv(g.conv(h, f"head.reg_convs.{k}.0"), f"head.reg_convs.{k}.1")
        cls = g.conv(c, f"head.cls_preds.{k}", bn=False, act=False, cout=nc)
        reg = g.conv(r, f"head.reg_preds.{k}", bn=False, act=False, cout=4)
        obj = g.conv(r, f"head.obj_preds.{k}", bn=False, act=False, cout=1)
        out = g.node("Concat", [reg, g.node("Sigmoid", [obj], f"head.{k}.obj"),
                                g.node("Sigmoid", [cls], f"head.{k}.cls")], f"head.{k}.cat", axis=1)
        levels.append(g.node("Reshape", [out, flat_shape], f"head.{k}.flat"))
    raw = g.node("Transpose", [g.node("Concat", levels, "head.cat", axis=2)], "head.t", perm=[0, 2, 1])

    # decode (YOLOXHead.decode_outputs)
    grid, stride = _grids(cfg)
    n = grid.shape[1]
    split = g.const("decode.split", np.array([2, 2, 1 + nc], dtype=np.int64))
    xy, wh, scores = (f"decode.{p}" for p in ("xy", "wh", "scores"))
    g.nodes.append(helper.make_node("Split", [raw, split], [xy, wh, scores], name="decode.split", axis=2))
    grid_c, stride_c = g.const("decode.grid", grid), g.const("decode.stride", stride)
    xy_d = g.node("Mul", [g.node("Add", [xy, grid_c], "decode.xy_add"), stride_c], "decode.xy_mul")
    wh_d = g.node("Mul", [g.node("Exp", [wh], "decode.wh_exp"), stride_c], "decode.wh_mul")
    g.nodes.append(helper.make_node("Concat", [xy_d, wh_d, scores], [OUTPUT_NAME], name="decode.cat", axis=2))

    s = cfg.input_size
    graph = helper.make_graph(
        g.nodes, "yolox",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, s, s])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, n, 5 + nc])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="wildlife-desktop yolox_onnx")
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=str(key), value=str(value))
    onnx.checker.check_model(model)
    unused = tuple(sorted(k for k in sd if k not in g.used))
    return YoloxGraph(model, unused)
