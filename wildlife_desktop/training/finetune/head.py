"""The new classification head: multinomial logistic regression on frozen features, in numpy.

Training is full-batch Adam on standardised features with a class-balanced cross-entropy
(weight ``n / (K * n_c)`` per crop of class ``c``, so a common species does not drown a rare
one) plus L2 on the weights, and early stopping on the class-balanced validation loss (the
best epoch's weights are kept). Everything is float64 and deterministic: no random
initialisation (weights start at zero, the problem is convex), no mini-batches.

The standardisation is folded into the returned :class:`LinearHead`, so
``logits = features @ weight + bias`` applies to raw features, as the exported ONNX Gemm does.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

#: Adam step for standardised features of dimension D: ``BASE_LR / sqrt(D)`` (one step then moves
#: a logit by about ``BASE_LR * sqrt(D) * 0.8``, whatever the feature size).
BASE_LR = 0.1
PATIENCE = 25
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True, eq=False)
class LinearHead:
    """``logits = features @ weight + bias`` (``weight`` ``[D, C]``, ``bias`` ``[C]``, float64)."""

    weight: np.ndarray
    bias: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ self.weight + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(features), axis=1)


@dataclass(frozen=True)
class TrainStats:
    """How training went (for the report)."""

    epochs: int  # epochs run
    best_epoch: int  # epoch whose weights were kept (1-based)
    train_loss: float  # class-balanced train loss (with L2) at the best epoch
    val_loss: float  # class-balanced validation loss at the best epoch
    lr: float
    stopped_early: bool


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class weights ``n / (K * n_c)`` over the classes present in ``y`` (0 for absent ones)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes, dtype=np.float64)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _balanced_ce(logp: np.ndarray, y: np.ndarray, sample_w: np.ndarray) -> float:
    return float(-(sample_w * logp[np.arange(len(y)), y]).sum() / sample_w.sum())


def train_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_classes: int,
    *,
    l2: float = 1e-3,
    max_epochs: int = 300,
    lr: float | None = None,
    patience: int = PATIENCE,
    balanced: bool = True,
) -> Generator[tuple[int, float], None, tuple[LinearHead, TrainStats]]:
    """Train the head; yields ``(epoch, validation loss)`` after every epoch, returns the head.

    A caller may stop between epochs (cancel) by not resuming the generator.

    Args:
        x_train, y_train: training features ``[N, D]`` and class indices ``[N]``.
        x_val, y_val: validation features and class indices (early stopping); may be empty,
            then training runs ``max_epochs`` epochs.
        n_classes: number of classes ``C``.
        l2: weight decay on the standardised-space weights.
        max_epochs: at most this many full-batch steps.
        lr: Adam step (default ``BASE_LR / sqrt(D)``).
        patience: stop after this many epochs without a better validation loss.
        balanced: class-balanced loss (else every crop weighs the same).
    """
    x = np.asarray(x_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.int64)
    xv = np.asarray(x_val, dtype=np.float64).reshape(-1, x.shape[1])
    yv = np.asarray(y_val, dtype=np.int64).reshape(-1)
    n, d = x.shape
    if n == 0:
        raise ValueError("no training features")
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-8] = 1.0
    xs = (x - mu) / sd
    xvs = (xv - mu) / sd
    step = float(lr) if lr else BASE_LR / math.sqrt(d)

    sw = class_weights(y, n_classes)[y] if balanced else np.ones(n)
    swv = (class_weights(yv, n_classes)[yv] if balanced else np.ones(len(yv))) if len(yv) else np.zeros(0)
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    w = np.zeros((d, n_classes))
    b = np.zeros(n_classes)
    mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    best = (math.inf, 0, w.copy(), b.copy(), math.inf)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        logp = _log_softmax(xs @ w + b)
        train_loss = _balanced_ce(logp, y, sw) + 0.5 * l2 * float((w * w).sum())
        g = (np.exp(logp) - onehot) * (sw / sw.sum())[:, None]
        gw = xs.T @ g + l2 * w
        gb = g.sum(axis=0)
        mw = _BETA1 * mw + (1 - _BETA1) * gw
        vw = _BETA2 * vw + (1 - _BETA2) * gw * gw
        mb = _BETA1 * mb + (1 - _BETA1) * gb
        vb = _BETA2 * vb + (1 - _BETA2) * gb * gb
        c1, c2 = 1 - _BETA1**epoch, 1 - _BETA2**epoch
        w = w - step * (mw / c1) / (np.sqrt(vw / c2) + _EPS)
        b = b - step * (mb / c1) / (np.sqrt(vb / c2) + _EPS)
        if len(yv):
            val_loss = _balanced_ce(_log_softmax(xvs @ w + b), yv, swv)
        else:
            val_loss = train_loss
        if val_loss < best[0] - 1e-9:
            best = (val_loss, epoch, w.copy(), b.copy(), train_loss)
        yield epoch, val_loss
        if len(yv) and epoch - best[1] >= patience:
            break
    val_loss, best_epoch, w, b, train_loss = best
    head = LinearHead(weight=w / sd[:, None], bias=b - (mu / sd) @ w)
    stats = TrainStats(
        epochs=epoch,
        best_epoch=best_epoch,
        train_loss=float(train_loss),
        val_loss=float(val_loss),
        lr=step,
        stopped_early=epoch < max_epochs,
    )
    return head, stats


def nearest_centroid(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, n_classes: int) -> np.ndarray:
    """The baseline the head must beat: each crop gets the class whose mean feature is nearest.

    Features are L2-normalised first and compared by cosine similarity (the usual few-shot
    baseline on frozen features); a class without training crops is never predicted.

    Returns:
        ``[len(x_eval)]`` class indices.
    """
    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)

    xt, y = unit(x_train), np.asarray(y_train, dtype=np.int64)
    xe = unit(np.asarray(x_eval).reshape(len(x_eval), xt.shape[1]))
    centroids = np.zeros((n_classes, xt.shape[1]))
    present = np.zeros(n_classes, dtype=bool)
    for c in range(n_classes):
        if np.any(y == c):
            centroids[c] = xt[y == c].mean(axis=0)
            present[c] = True
    sims = xe @ unit(centroids).T
    sims[:, ~present] = -np.inf
    return np.argmax(sims, axis=1)
