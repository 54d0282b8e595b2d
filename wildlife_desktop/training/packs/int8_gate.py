"""The int8 gate: may an int8 detector be the installed default instead of its fp32 original?

Both models run on every sample image; int8's boxes are matched against fp32's (greedy, same
class, IoU >= 0.5, at the model's typical threshold) and pooled into one F1 over all boxes, and
both are timed (model only, interleaved). :class:`Int8Gate` holds the figures and adopts int8
only when the F1 and the speed-up both reach their minimum. Used by the MegadetectorLite
installer (:mod:`.mdlite`); nothing in it is specific to one model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from ...core.errors import ImageReadError
from ...core.records import Detection
from ...pipeline.images import load_image
from ...runtime.detector import Detector
from ...runtime.manifest import ModelManifest
from ...runtime.postprocess import Candidates
from ...runtime.quantize import match_f1
from ...runtime.store import sha256_file

#: The int8 gate: agreement with fp32 (F1 at IoU 0.5, fp32 as the truth) and speed-up needed.
INT8_MIN_F1: Final[float] = 0.99
INT8_MIN_SPEEDUP: Final[float] = 1.1
IMAGE_SUFFIXES: Final[tuple[str, ...]] = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Int8Gate:
    """Figures of the int8-vs-fp32 comparison on real images, and the decision they lead to."""

    f1: float
    f1_held_out: float
    tp: int
    boxes_fp32: int
    boxes_int8: int
    n_images: int
    threshold: float
    fp32_ms: float
    int8_ms: float
    speedup: float
    fp32_ms_default_threads: float
    int8_ms_default_threads: float
    calibration: tuple[str, ...]
    min_f1: float
    min_speedup: float

    @property
    def adopt(self) -> bool:
        """True when int8 may be the installed default."""
        return self.f1 >= self.min_f1 and self.speedup >= self.min_speedup

    @property
    def reason(self) -> str:
        """The decision in one sentence."""
        problems = []
        if self.f1 < self.min_f1:
            problems.append(f"F1 {self.f1:.4f} vs fp32 < {self.min_f1}")
        if self.speedup < self.min_speedup:
            problems.append(f"speed-up x{self.speedup:.2f} < x{self.min_speedup}")
        if problems:
            return "int8 kept out: " + "; ".join(problems)
        return f"int8 adopted: F1 {self.f1:.4f} >= {self.min_f1}, x{self.speedup:.2f} faster"

    def to_dict(self) -> dict[str, Any]:
        """The figures for the manifest's ``extra["int8"]``."""
        return {
            "f1_vs_fp32": self.f1, "f1_held_out": self.f1_held_out, "tp": self.tp,
            "boxes_fp32": self.boxes_fp32, "boxes_int8": self.boxes_int8, "n_images": self.n_images,
            "threshold": self.threshold, "iou": 0.5, "fp32_ms_1thread": self.fp32_ms,
            "int8_ms_1thread": self.int8_ms, "speedup_1thread": self.speedup,
            "fp32_ms_default_threads": self.fp32_ms_default_threads,
            "int8_ms_default_threads": self.int8_ms_default_threads,
            "calibration": list(self.calibration), "min_f1": self.min_f1, "min_speedup": self.min_speedup,
            "adopted": self.adopt, "decision": self.reason,
            "method": "onnxruntime static QDQ, u8 activations / s8 per-channel weights, MinMax; "
                      "pooled F1 of int8 boxes against fp32 boxes (greedy, IoU >= 0.5) at the threshold",
        }


def iter_images(samples: Path) -> list[Path]:
    """Every image file under ``samples`` (sorted, recursive)."""
    return sorted(p for p in Path(samples).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _candidates(dets: Sequence[Detection]) -> Candidates:
    boxes = np.array([[d.bbox.x, d.bbox.y, d.bbox.x + d.bbox.w, d.bbox.y + d.bbox.h] for d in dets],
                     dtype=np.float64).reshape(-1, 4)
    return Candidates(boxes, np.array([d.confidence for d in dets], dtype=np.float64),
                      np.array([int(d.category) for d in dets], dtype=np.int64))


def agreement_counts(ref: Sequence[Detection], got: Sequence[Detection], threshold: float) -> tuple[int, int, int]:
    """``(tp, n_ref, n_got)`` at ``threshold``: greedy same-class matching at IoU >= 0.5 (normalised boxes)."""
    a, b = _candidates(ref), _candidates(got)
    f1, n_ref = match_f1(a, b, threshold)
    n_got = int((b.scores >= threshold).sum())
    tp = round(f1 * (n_ref + n_got) / 2)
    return tp, n_ref, n_got


def pooled_f1(counts: Sequence[tuple[int, int, int]]) -> float:
    """F1 over all boxes of all images: ``2 tp / (n_ref + n_got)`` (1.0 when there are none)."""
    tp = sum(c[0] for c in counts)
    n = sum(c[1] + c[2] for c in counts)
    return 1.0 if n == 0 else 2.0 * tp / n


def compare_int8(fp32: Detector, int8: Detector, images: Sequence[Path], threshold: float,
                 root: Path, *, conf_floor: float | None = None) -> dict[str, tuple[int, int, int]]:
    """Per image (path relative to ``root``): ``(tp, n_fp32, n_int8)`` of int8 detections against fp32's.

    Both models decode at ``conf_floor`` (default: the fp32 manifest's conservative threshold).
    """
    floor = fp32.manifest.conservative_threshold if conf_floor is None else conf_floor
    out = {}
    for path in images:
        try:
            arr = load_image(path, target=fp32.input_size).array
        except ImageReadError:
            continue
        ref = [d for d in fp32.detect(arr, conf_floor=floor) if d.confidence >= threshold]
        got = [d for d in int8.detect(arr, conf_floor=floor) if d.confidence >= threshold]
        out[str(path.relative_to(root))] = agreement_counts(ref, got, threshold)
    return out


def time_models(detectors: Sequence[Detector], tensors: Sequence[np.ndarray], runs: int) -> list[float]:
    """Median model-only ms per image of each detector, runs interleaved so machine noise hits all alike."""
    times: list[list[float]] = [[] for _ in detectors]
    for d in detectors:
        d.run_raw(tensors[0])  # warm-up
    for r in range(runs):
        x = tensors[r % len(tensors)]
        for k, d in enumerate(detectors):
            t0 = time.perf_counter()
            d.run_raw(x)
            times[k].append((time.perf_counter() - t0) * 1000.0)
    return [float(np.median(t)) for t in times]


def measure_int8(fp32_path: Path, int8_path: Path, manifest: ModelManifest, samples: Path,
                 calibration: Sequence[Path], *, min_f1: float = INT8_MIN_F1,
                 min_speedup: float = INT8_MIN_SPEEDUP, timing_runs: int = 8
                 ) -> tuple[Int8Gate, dict[str, tuple[int, int, int]]]:
    """Compare the int8 model with fp32 on every sample image and time both (model only).

    Returns:
        The gate and the per-image ``(tp, n_fp32, n_int8)`` counts it rests on.
    """
    images = iter_images(samples)
    d32 = Detector(manifest, fp32_path, intra_threads=1)
    d8 = Detector(replace(manifest, file=int8_path.name, sha256=sha256_file(int8_path)), int8_path, intra_threads=1)
    counts = compare_int8(d32, d8, images, manifest.typical_threshold, samples)
    cal = {str(p.relative_to(samples)) for p in calibration}
    held_out = [c for k, c in counts.items() if k not in cal]
    tensors = [d32.preprocess(load_image(p, target=d32.input_size).array)[0] for p in calibration[:4]]
    one = time_models([d32, d8], tensors, timing_runs)
    dflt = time_models([Detector(manifest, fp32_path), Detector(d8.manifest, int8_path)], tensors, timing_runs)
    gate = Int8Gate(
        f1=round(pooled_f1(list(counts.values())), 4), f1_held_out=round(pooled_f1(held_out), 4),
        tp=sum(c[0] for c in counts.values()), boxes_fp32=sum(c[1] for c in counts.values()),
        boxes_int8=sum(c[2] for c in counts.values()), n_images=len(counts),
        threshold=manifest.typical_threshold, fp32_ms=round(one[0], 1), int8_ms=round(one[1], 1),
        speedup=round(one[0] / one[1], 3) if one[1] > 0 else 0.0, fp32_ms_default_threads=round(dflt[0], 1),
        int8_ms_default_threads=round(dflt[1], 1), calibration=tuple(sorted(cal)), min_f1=min_f1,
        min_speedup=min_speedup,
    )
    return gate, counts
