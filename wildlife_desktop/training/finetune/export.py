"""Export the trained head as an ONNX classifier, check it, and optionally quantise it to int8.

* :func:`export_model`: base graph up to ``features`` + a Gemm with the folded head -> ``logits``
  (a head with a hidden layer: Gemm, Relu, Gemm).
* :func:`check_parity`: the exported model's logits on real crops must equal the numpy head's
  logits on the base model's features of the same crops (``allclose``, 1e-4).
* :func:`quantize_head_model`: static int8 (QDQ, calibrated on training crops; the layers
  after the last convolution, the new head included, stay float), kept only when its top-1
  agrees with fp32 on the validation crops at least :data:`MIN_AGREEMENT` of the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ...core.errors import WildlifeError
from ...runtime.quantize import write_int8_qdq
from ...runtime.session import make_session
from .features import BaseModel
from .graph import FEATURES, LOGITS, replace_head
from .head import Head

Prepare = Callable[[np.ndarray], np.ndarray]
PARITY_TOL = 1e-4
MIN_AGREEMENT = 0.98
#: Training crops used to calibrate the int8 activation ranges.
MAX_CALIBRATION = 32


@dataclass(frozen=True)
class Parity:
    n: int
    max_abs_diff: float
    passed: bool


@dataclass(frozen=True)
class QuantOutcome:
    """What int8 quantisation did. ``kept`` means the pack ships the int8 file."""

    kept: bool
    note: str
    agreement: float | None = None
    fp32_ms: float | None = None  # per crop, on the validation crops
    int8_ms: float | None = None
    int8_logits: np.ndarray | None = None  # on the validation crops, when kept


def export_model(base: BaseModel, head: Head, dst: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write the fine-tuned classifier (outputs ``logits`` then ``features``) to ``dst``."""
    model = replace_head(base.proto, base.tap, head.weight, head.bias, metadata=metadata,
                         hidden_weight=head.hidden_weight, hidden_bias=head.hidden_bias)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def _run(session: object, data: np.ndarray, outputs: list[str], prepare: Prepare | None = None) -> list[np.ndarray]:
    """Run ``data`` in chunks (``prepare`` turns a chunk of it into the input tensor, e.g. uint8 crops)."""
    inp = session.get_inputs()[0]  # type: ignore[attr-defined]
    fixed = inp.shape[0] if isinstance(inp.shape[0], int) and inp.shape[0] > 0 else None
    step = fixed or 16
    parts: list[list[np.ndarray]] = [[] for _ in outputs]
    for start in range(0, data.shape[0], step):
        chunk = data[start : start + step]
        if prepare is not None:
            chunk = prepare(chunk)
        n = chunk.shape[0]
        if fixed and n < fixed:
            chunk = np.concatenate([chunk, np.zeros((fixed - n, *chunk.shape[1:]), chunk.dtype)])
        outs = session.run(outputs, {inp.name: chunk})  # type: ignore[attr-defined]
        for k, o in enumerate(outs):
            parts[k].append(np.asarray(o, np.float32).reshape(chunk.shape[0], -1)[:n])
    return [np.concatenate(p) for p in parts]


def model_outputs(path: Path, tensor: np.ndarray, *, intra_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, features)`` of an exported model on prepared crops."""
    session = make_session(path, intra_threads=intra_threads)
    logits, feats = _run(session, tensor, [LOGITS, FEATURES])
    return logits, feats


def check_parity(path: Path, tensor: np.ndarray, head: Head, features: np.ndarray) -> Parity:
    """Compare the exported model's logits with the numpy head on the base features of the same crops.

    Raises:
        WildlifeError: they differ by more than :data:`PARITY_TOL` (relative and absolute).
    """
    if len(tensor) == 0:
        return Parity(0, 0.0, True)
    logits, _ = model_outputs(path, tensor)
    ref = head.logits(features)
    diff = float(np.max(np.abs(logits - ref)))
    ok = bool(np.allclose(logits, ref, rtol=PARITY_TOL, atol=PARITY_TOL))
    if not ok:
        raise WildlifeError(
            f"The exported model does not reproduce the trained head (max logit difference "
            f"{diff:.2e}); nothing was registered."
        )
    return Parity(len(tensor), diff, ok)


def _ms_per_crop(
    session: object, data: np.ndarray, outputs: list[str], prepare: Prepare | None
) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    (logits,) = _run(session, data, outputs, prepare)
    return logits, (time.perf_counter() - t0) * 1000.0 / max(1, len(data))


def agreement_verdict(
    fp32_top1: np.ndarray, int8_top1: np.ndarray, min_agreement: float = MIN_AGREEMENT
) -> tuple[bool, float, str]:
    """``(keep int8, agreement, reason)`` from the top-1 classes of both models on the same crops."""
    a = np.asarray(fp32_top1).reshape(-1)
    b = np.asarray(int8_top1).reshape(-1)
    if a.size == 0:
        return False, 0.0, "no validation crops to compare int8 with fp32; kept fp32"
    agree = float(np.mean(a == b))
    if agree >= min_agreement:
        return True, agree, f"int8 top-1 agrees with fp32 on {agree:.1%} of {a.size} validation crops"
    return (
        False,
        agree,
        (
            f"int8 top-1 agrees with fp32 on only {agree:.1%} of {a.size} validation crops "
            f"(< {min_agreement:.0%}); kept fp32"
        ),
    )


def quantize_head_model(
    fp32_path: Path,
    int8_path: Path,
    calibration: np.ndarray,
    val_data: np.ndarray,
    val_fp32_logits: np.ndarray,
    *,
    prepare: Prepare | None = None,
) -> QuantOutcome:
    """Quantise ``fp32_path`` to ``int8_path`` and decide whether to keep it (see the module docstring).

    ``calibration``: input tensors (training crops). ``val_data``: the validation crops, as input
    tensors or, with ``prepare`` (which makes input tensors of a chunk of them), e.g. as uint8
    crops, so that thousands of crops are never all in memory as float tensors.
    ``val_fp32_logits``: the fp32 logits of those crops (the numpy head's, equal by parity).
    A quantiser failure is not an error: the fp32 model is kept and the reason recorded.
    """
    if len(calibration) == 0:
        return QuantOutcome(False, "no training crops to calibrate int8; kept fp32")
    try:
        session = make_session(fp32_path)
        name = session.get_inputs()[0].name
        fixed = session.get_inputs()[0].shape[0]
        step = fixed if isinstance(fixed, int) and fixed > 0 else 8
        cal = [calibration[i : i + step] for i in range(0, min(len(calibration), MAX_CALIBRATION), step)]
        if isinstance(fixed, int) and fixed > 0:
            cal = [c for c in cal if len(c) == fixed]
        quantized, _ = write_int8_qdq(fp32_path, int8_path, name, cal)
        if quantized == 0:
            return QuantOutcome(False, "the model has no convolution layers to quantise; kept fp32")
        int8 = make_session(int8_path)
    except Exception as exc:  # noqa: BLE001 - any quantiser failure means "keep fp32", with the reason
        return QuantOutcome(False, f"int8 quantisation failed ({str(exc).splitlines()[0][:200]}); kept fp32")
    int8_logits, int8_ms = _ms_per_crop(int8, val_data, [LOGITS], prepare)
    if not np.isfinite(int8_logits).all():
        return QuantOutcome(False, "int8 output has NaN/inf; kept fp32")
    _, fp32_ms = _ms_per_crop(session, val_data, [LOGITS], prepare)
    keep, agree, why = agreement_verdict(np.argmax(val_fp32_logits, axis=1), np.argmax(int8_logits, axis=1))
    speed = f"; {fp32_ms:.1f} ms/crop fp32, {int8_ms:.1f} ms/crop int8"
    return QuantOutcome(keep, why + speed, agree, round(fp32_ms, 2), round(int8_ms, 2), int8_logits if keep else None)
