"""Bootstrap confidence intervals of classification metrics, in numpy, seeded (paired for two models).

Crops are resampled with replacement ``n_boot`` times; every resample's confusion matrix gives
accuracy, macro-F1 and per-class precision/recall/F1 (as :func:`..finetune.metrics.compute_metrics`
defines them). The interval is the percentile interval (2.5 %, 97.5 % for 95 %). Two models are
resampled with the *same* indices, so the interval of their difference accounts for the pairing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BOOT = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def text(self, fmt: str = ".3f") -> str:
        return f"{self.value:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"


def _scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-resample metrics of a stack of confusion matrices ``[B, K, K]`` (rows true, columns predicted)."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)
    predicted = cm.sum(axis=1).astype(np.float64)
    support = cm.sum(axis=2).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    has = support > 0
    macro = np.divide((f1 * has).sum(axis=1), has.sum(axis=1), out=np.zeros(len(cm)), where=has.sum(axis=1) > 0)
    total = cm.sum(axis=(1, 2)).astype(np.float64)
    accuracy = np.divide(tp.sum(axis=1), total, out=np.zeros(len(cm)), where=total > 0)
    return {"accuracy": accuracy, "macro_f1": macro, "precision": precision, "recall": recall, "f1": f1}


def _confusions(y_true: np.ndarray, y_pred: np.ndarray, k: int, idx: np.ndarray) -> np.ndarray:
    """``[B, k, k]`` confusion matrices of the resamples ``idx`` ``[B, N]``."""
    b = idx.shape[0]
    flat = (np.arange(b)[:, None] * k * k + y_true[idx] * k + y_pred[idx]).ravel()
    return np.bincount(flat, minlength=b * k * k).reshape(b, k, k)


def resample_indices(n: int, *, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """``[n_boot, n]`` indices drawn with replacement (the same for every model compared)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n)) if n else np.zeros((n_boot, 0), np.int64)


def _interval(point: float, samples: np.ndarray, level: float) -> Interval:
    lo, hi = np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2]) if samples.size else (point, point)
    return Interval(float(point), float(lo), float(hi))


def metric_intervals(
    y_true: np.ndarray, y_pred: np.ndarray, k: int, idx: np.ndarray, *, level: float = LEVEL
) -> dict[str, Interval | list[dict[str, Interval]]]:
    """Accuracy and macro-F1 intervals, and ``per_class``: one ``{"precision", "recall", "f1"}`` per class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    full = _scores(_confusions(y_true, y_pred, k, np.arange(len(y_true))[None, :]))
    boot = _scores(_confusions(y_true, y_pred, k, idx))
    per_class = [
        {m: _interval(float(full[m][0, c]), boot[m][:, c], level) for m in ("precision", "recall", "f1")}
        for c in range(k)
    ]
    return {
        "accuracy": _interval(float(full["accuracy"][0]), boot["accuracy"], level),
        "macro_f1": _interval(float(full["macro_f1"][0]), boot["macro_f1"], level),
        "per_class": per_class,
    }


def difference_intervals(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, k: int, idx: np.ndarray, *, level: float = LEVEL
) -> dict[str, Interval]:
    """``a - b`` of accuracy and macro-F1 with a paired interval (the same resamples for both)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    whole = np.arange(len(y_true))[None, :]
    a, b = np.asarray(pred_a, dtype=np.int64), np.asarray(pred_b, dtype=np.int64)
    fa, fb = _scores(_confusions(y_true, a, k, whole)), _scores(_confusions(y_true, b, k, whole))
    ba, bb = _scores(_confusions(y_true, a, k, idx)), _scores(_confusions(y_true, b, k, idx))
    return {
        m: _interval(float(fa[m][0] - fb[m][0]), ba[m] - bb[m], level) for m in ("accuracy", "macro_f1")
    }
