"""Classification metrics on the validation crops: confusion matrix, per-class P/R/F1, accuracy, macro-F1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 (0..1) of one label; ``support`` = its number of true crops."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """Metrics over a set of crops. ``confusion[i][j]`` counts crops of ``labels[i]`` predicted ``labels[j]``.

    A class without predictions has precision 0, one without support recall 0 (and F1 0); the
    macro-F1 averages over the classes that have support, so an absent class does not drag it down.
    """

    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class: tuple[ClassMetrics, ...]
    confusion: tuple[tuple[int, ...], ...]

    @property
    def n(self) -> int:
        """Number of crops the metrics rest on."""
        return int(sum(sum(row) for row in self.confusion))

    def summary(self) -> dict[str, Any]:
        """The short form kept in a manifest's ``extra``."""
        return {"accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4), "n": self.n}


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """``[n, n]`` int64 counts, rows = true class index, columns = predicted."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.size} vs {p.size})")
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def compute_metrics(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, labels: Sequence[str]
) -> Metrics:
    """Metrics of predicted class indices against true ones (indices into ``labels``)."""
    labels = tuple(labels)
    cm = confusion_matrix(y_true, y_pred, len(labels))
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    per_class = []
    f1s = []
    for i, lab in enumerate(labels):
        precision = tp[i] / predicted[i] if predicted[i] else 0.0
        recall = tp[i] / support[i] if support[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(ClassMetrics(lab, float(precision), float(recall), float(f1), int(support[i])))
        if support[i]:
            f1s.append(f1)
    total = int(cm.sum())
    return Metrics(
        labels=labels,
        accuracy=float(tp.sum() / total) if total else 0.0,
        macro_f1=float(np.mean(f1s)) if f1s else 0.0,
        per_class=tuple(per_class),
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
    )
