"""The new classification head on frozen features, in numpy: linear (multinomial logistic regression)
or with one hidden ReLU layer (``hidden`` units).

Training is full-batch Adam on standardised features with a class-balanced cross-entropy
(weight ``n / (K * n_c)`` per crop of class ``c``, so a common species does not drown a rare
one) plus L2 on the weights, and early stopping on the class-balanced validation loss (the
best epoch's weights are kept). Everything is float64 and deterministic, no mini-batches. The
linear head starts at zero (the problem is convex, no randomness at all); the hidden layer starts
from a seeded He initialisation (``seed``), its output layer from small seeded weights, and the
weight decay applies to both weight matrices.

The standardisation is folded into the returned :class:`Head`, so ``logits = features @ weight +
bias`` (linear) or ``relu(features @ hidden_weight + hidden_bias) @ weight + bias`` applies to raw
features, as the exported ONNX Gemm (or Gemm, Relu, Gemm) does.
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
class Head:
    """``logits = features @ weight + bias`` (``weight`` ``[D, C]``, ``bias`` ``[C]``, float64), or with a
    hidden layer ``logits = relu(features @ hidden_weight + hidden_bias) @ weight + bias``
    (``hidden_weight`` ``[D, H]``, ``hidden_bias`` ``[H]``, ``weight`` ``[H, C]``)."""

    weight: np.ndarray
    bias: np.ndarray
    hidden_weight: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None

    @property
    def hidden_units(self) -> int:
        """0 for a linear head."""
        return 0 if self.hidden_weight is None else int(self.hidden_weight.shape[1])

    @property
    def n_features(self) -> int:
        return int((self.weight if self.hidden_weight is None else self.hidden_weight).shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.weight.shape[1])

    def hidden(self, features: np.ndarray) -> np.ndarray:
        """The input of the output layer: the features (linear head) or the hidden layer's activations."""
        x = np.asarray(features, dtype=np.float64)
        if self.hidden_weight is None or self.hidden_bias is None:
            return x
        return np.maximum(x @ self.hidden_weight + self.hidden_bias, 0.0)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return self.hidden(features) @ self.weight + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(features), axis=1)


#: The head of earlier versions (always linear); the same class.
LinearHead = Head


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
    hidden: int = 0,
    seed: int = 0,
) -> Generator[tuple[int, float], None, tuple[Head, TrainStats]]:
    """Train the head; yields ``(epoch, validation loss)`` after every epoch, returns the head.

    A caller may stop between epochs (cancel) by not resuming the generator.

    Args:
        x_train, y_train: training features ``[N, D]`` and class indices ``[N]``.
        x_val, y_val: validation features and class indices (early stopping); may be empty,
            then training runs ``max_epochs`` epochs.
        n_classes: number of classes ``C``.
        l2: weight decay on the standardised-space weights (both layers' with a hidden layer).
        max_epochs: at most this many full-batch steps.
        lr: Adam step (default ``BASE_LR / sqrt(D)``).
        patience: stop after this many epochs without a better validation loss.
        balanced: class-balanced loss (else every crop weighs the same).
        hidden: units of one hidden ReLU layer (0: a linear head).
        seed: the hidden layer's initialisation (a linear head uses no randomness).
    """
    x = np.asarray(x_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.int64)
    xv = np.asarray(x_val, dtype=np.float64).reshape(-1, x.shape[1])
    yv = np.asarray(y_val, dtype=np.int64).reshape(-1)
    n, d = x.shape
    if n == 0:
        raise ValueError("no training features")
    if hidden < 0:
        raise ValueError(f"hidden units must be 0 (linear) or more, got {hidden}")
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
    # params: [w, b] (linear) or [w1, b1, w, b]; weight decay on the matrices (even positions)
    if hidden:  # float32: twice as fast on a laptop's CPU, and the exported graph is float32 anyway
        rng = np.random.default_rng(seed)
        xs, xvs, onehot = xs.astype(np.float32), xvs.astype(np.float32), onehot.astype(np.float32)
        params = [rng.normal(0.0, math.sqrt(2.0 / d), (d, hidden)), np.zeros(hidden),
                  rng.normal(0.0, 0.1 / math.sqrt(hidden), (hidden, n_classes)), np.zeros(n_classes)]
        params = [p.astype(np.float32) for p in params]
    else:
        params = [np.zeros((d, n_classes)), np.zeros(n_classes)]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]

    def forward(xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not hidden:
            return xx, xx @ params[0] + params[1]
        h = np.maximum(xx @ params[0] + params[1], 0.0)
        return h, h @ params[2] + params[3]

    def decay() -> float:
        return 0.5 * l2 * float(sum((p * p).sum() for p in params[::2]))

    best = (math.inf, 0, [p.copy() for p in params], math.inf)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        h, z = forward(xs)
        logp = _log_softmax(z)
        train_loss = _balanced_ce(logp, y, sw) + decay()
        g = (np.exp(logp) - onehot) * (sw / sw.sum()).astype(logp.dtype)[:, None]
        if hidden:
            gh = (g @ params[2].T) * (h > 0)
            grads = [xs.T @ gh + l2 * params[0], gh.sum(axis=0), h.T @ g + l2 * params[2], g.sum(axis=0)]
        else:
            grads = [xs.T @ g + l2 * params[0], g.sum(axis=0)]
        c1, c2 = 1 - _BETA1**epoch, 1 - _BETA2**epoch
        for k, gk in enumerate(grads):
            m1[k] = _BETA1 * m1[k] + (1 - _BETA1) * gk
            m2[k] = _BETA2 * m2[k] + (1 - _BETA2) * gk * gk
            params[k] = params[k] - step * (m1[k] / c1) / (np.sqrt(m2[k] / c2) + _EPS)
        if len(yv):
            val_loss = _balanced_ce(_log_softmax(forward(xvs)[1]), yv, swv)
        else:
            val_loss = train_loss
        if val_loss < best[0] - 1e-9:
            best = (val_loss, epoch, [p.copy() for p in params], train_loss)
        yield epoch, val_loss
        if len(yv) and epoch - best[1] >= patience:
            break
    val_loss, best_epoch, params, train_loss = best
    params = [p.astype(np.float64) for p in params]
    first = params[0]  # the layer that reads the standardised features: fold mu and sd into it
    folded_w, folded_b = first / sd[:, None], params[1] - (mu / sd) @ first
    if hidden:
        head = Head(weight=params[2], bias=params[3], hidden_weight=folded_w, hidden_bias=folded_b)
    else:
        head = Head(weight=folded_w, bias=folded_b)
    stats = TrainStats(
        epochs=epoch,
        best_epoch=best_epoch,
        train_loss=float(train_loss),
        val_loss=float(val_loss),
        lr=step,
        stopped_early=epoch < max_epochs,
    )
    return head, stats


def run_head(gen: Generator[tuple[int, float], None, tuple[Head, TrainStats]]) -> tuple[Head, TrainStats]:
    """Drive :func:`train_head` to the end (no progress, no cancel): the head and its statistics."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


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
