"""onnxruntime session creation (CPU only) and ONNX file inspection."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..core.errors import ModelLoadError

Dim = int | str | None


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape (ints for fixed dimensions, str/None for dynamic ones) and element type."""

    name: str
    shape: tuple[Dim, ...]
    type: str

    @property
    def fixed_hw(self) -> tuple[int, int] | None:
        """``(height, width)`` of an NCHW input when both are fixed, else ``None``."""
        return self.fixed_hw_in("nchw")

    def fixed_hw_in(self, layout: str) -> tuple[int, int] | None:
        """``(height, width)`` of an image input in ``layout`` (``nchw``/``nhwc``) when both are fixed."""
        if len(self.shape) != 4:
            return None
        h, w = (self.shape[2], self.shape[3]) if layout == "nchw" else (self.shape[1], self.shape[2])
        return (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None

    @property
    def numpy_type(self) -> builtins.type[np.generic] | None:
        """The numpy element type of a float32/float16/uint8 tensor, else ``None``."""
        for name, kind in (("float16", np.float16), ("float", np.float32), ("uint8", np.uint8)):
            if f"({name})" in self.type:
                return kind
        return None

    @property
    def fixed_batch(self) -> int | None:
        """The fixed batch size, or ``None`` when the batch dimension is dynamic."""
        b = self.shape[0] if self.shape else None
        return b if isinstance(b, int) and b > 0 else None


@dataclass(frozen=True)
class OnnxInfo:
    """What :func:`inspect_onnx` reads from a model file."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    metadata: dict[str, str]


def default_intra_threads() -> int:
    """One thread less than the CPU count (leave a core to the UI), at least 1."""
    return max(1, (os.cpu_count() or 1) - 1)


def make_session(
    onnx_path: Path | str, *, intra_threads: int | None = None, optimize: bool = True
) -> ort.InferenceSession:
    """Open an ONNX model on the CPU execution provider.

    Args:
        onnx_path: the ``.onnx`` file.
        intra_threads: threads inside one operator; default ``cpu_count - 1`` (at least 1).
        optimize: full graph optimisation (off only for quick inspection).

    Returns:
        The session (``inter_op_num_threads = 1``, sequential execution).

    Raises:
        ModelLoadError: the file is missing, unreadable or not a valid ONNX model.
    """
    path = Path(onnx_path)
    if not path.is_file():
        raise ModelLoadError(f"Model file not found: {path}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(intra_threads)) if intra_threads else default_intra_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"Cannot load model file {path.name}: it is not a valid ONNX model or is damaged ({first[:300]})"
        ) from exc


def tensor_infos(args: list[ort.NodeArg]) -> tuple[TensorInfo, ...]:
    """Convert onnxruntime node args to :class:`TensorInfo`."""
    return tuple(TensorInfo(a.name, tuple(a.shape or ()), a.type) for a in args)


def inspect_onnx(onnx_path: Path | str) -> OnnxInfo:
    """Read inputs, outputs and metadata properties of an ONNX file (no graph optimisation).

    Raises:
        ModelLoadError: not a loadable ONNX model.
    """
    sess = make_session(onnx_path, intra_threads=1, optimize=False)
    meta = sess.get_modelmeta()
    return OnnxInfo(
        inputs=tensor_infos(sess.get_inputs()),
        outputs=tensor_infos(sess.get_outputs()),
        metadata=dict(meta.custom_metadata_map or {}),
    )


@dataclass(frozen=True)
class ImageModel:
    """An image model's session with its single image input checked against its family."""

    session: ort.InferenceSession
    input: TensorInfo
    output_name: str  # the output read (others, e.g. features, are not computed)
    dtype: type
    outputs: tuple[TensorInfo, ...] = ()
    output_names: tuple[str, ...] = ()  # all outputs read, in decoder order (a multi-output head)


def open_image_model(
    onnx_path: Path | str, *, model_id: str, what: str, n_labels: int,
    check_output: Callable[[tuple[int | str | None, ...], int], str | None], intra_threads: int | None = None,
    output: str | None = None, input_dtype: builtins.type[np.generic] | None = None,
    pick_outputs: Callable[[tuple[TensorInfo, ...], TensorInfo], tuple[int, ...] | str] | None = None,
) -> ImageModel:
    """Open ``onnx_path`` and check it has one 4-D image input and an output its family accepts.

    Args:
        output: the output to read (default: the first).
        input_dtype: the element type the manifest expects, checked against the file.
        pick_outputs: for a family whose head writes several outputs: given the outputs and the
            input, the indices to read in decoder order, or an error text (then ``check_output``
            and ``output`` are not used).

    Raises:
        ModelLoadError: the file cannot be loaded or its layout does not match the family.
    """
    session = make_session(onnx_path, intra_threads=intra_threads)
    inputs = tensor_infos(session.get_inputs())
    outputs = tensor_infos(session.get_outputs())
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ModelLoadError(f"Model '{model_id}': expected one 4-D image input, got "
                             f"{[(i.name, list(i.shape)) for i in inputs]}")
    names: tuple[str, ...] = ()
    if pick_outputs is not None:
        picked = pick_outputs(outputs, inputs[0])
        if isinstance(picked, str):
            raise ModelLoadError(f"Model '{model_id}' ({what}): {picked}")
        names = tuple(outputs[i].name for i in picked)
        chosen: TensorInfo | None = outputs[picked[0]]
    else:
        chosen = outputs[0] if output is None else next((o for o in outputs if o.name == output), None)
        if chosen is None:
            raise ModelLoadError(f"Model '{model_id}': it has no output named {output!r} "
                                 f"(outputs: {', '.join(o.name for o in outputs)})")
        problem = check_output(chosen.shape, n_labels)
        if problem:
            raise ModelLoadError(f"Model '{model_id}' ({what}): {problem}")
    assert chosen is not None
    dtype = inputs[0].numpy_type
    if dtype is None:
        raise ModelLoadError(f"Model '{model_id}': unsupported input type {inputs[0].type}")
    if input_dtype is not None and input_dtype is not dtype:
        raise ModelLoadError(f"Model '{model_id}': the manifest says the input is {np.dtype(input_dtype).name} "
                             f"but the file declares {inputs[0].type}")
    return ImageModel(session, inputs[0], chosen.name, dtype, outputs, names or (chosen.name,))
