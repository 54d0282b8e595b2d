"""The numpy head: separates separable features, folds standardisation, stops early, is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from wildlife_desktop.training.finetune.head import class_weights, nearest_centroid, train_head


def _run(gen):  # type: ignore[no-untyped-def]
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return stop.value, events


def blobs(n_per: tuple[int, ...], d: int = 32, seed: int = 0, spread: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (len(n_per), d)) + 50.0  # offset + scale: standardisation must be folded right
    x = np.concatenate([centres[k] + rng.normal(0, spread, (n, d)) for k, n in enumerate(n_per)])
    y = np.concatenate([np.full(n, k) for k, n in enumerate(n_per)])
    return x.astype(np.float32) * 7.0, y


def test_head_separates_separable_features_and_is_deterministic() -> None:
    xa, ya = blobs((50, 13, 26))
    val = np.arange(len(ya)) % 4 == 0
    x, y, xv, yv = xa[~val], ya[~val], xa[val], ya[val]
    (head, stats), events = _run(train_head(x, y, xv, yv, 3))
    assert (head.predict(x) == y).all() and (head.predict(xv) == yv).all()
    assert head.weight.shape == (32, 3) and head.bias.shape == (3,)
    assert [e for e, _ in events] == list(range(1, stats.epochs + 1))
    assert 1 <= stats.best_epoch <= stats.epochs and stats.val_loss == pytest.approx(min(v for _, v in events))
    (head2, _), _ = _run(train_head(x, y, xv, yv, 3))
    np.testing.assert_array_equal(head.weight, head2.weight)


def test_head_stops_early_on_noise() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 64)), rng.integers(0, 3, 60)
    xv, yv = rng.normal(size=(30, 64)), rng.integers(0, 3, 30)
    (_, stats), _ = _run(train_head(x, y, xv, yv, 3, max_epochs=300, patience=10))
    assert stats.stopped_early and stats.epochs == stats.best_epoch + 10


def test_head_runs_all_epochs_without_validation_and_handles_constant_features() -> None:
    x, y = blobs((10, 10), d=4)
    x[:, 0] = 5.0  # a constant feature must not divide by zero
    (head, stats), _ = _run(train_head(x, y, np.zeros((0, 4)), np.zeros(0), 2, max_epochs=40))
    assert stats.epochs == 40 and not stats.stopped_early
    assert np.isfinite(head.weight).all() and (head.predict(x) == y).all()


def test_class_weights_balance_the_classes() -> None:
    w = class_weights(np.array([0, 0, 0, 1, 2, 2]), 4)
    assert w.tolist() == pytest.approx([6 / 9, 2.0, 1.0, 0.0])


def test_nearest_centroid_baseline_uses_directions_and_never_names_an_absent_class() -> None:
    x = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [0.5, 5.0]])
    y = np.array([0, 0, 1, 1])
    # cosine: a long vector along the first axis is class 0 whatever its length
    got = nearest_centroid(x, y, np.array([[100.0, 1.0], [0.1, 2.0], [1.0, 1.1]]), 3)
    assert got.tolist() == [0, 1, 1]
    assert 2 not in nearest_centroid(x, y, np.array([[-1.0, -1.0]]), 3).tolist(), "class 2 has no training crops"


def test_a_hidden_layer_learns_what_a_linear_head_cannot_and_is_seeded() -> None:
    """XOR of two feature signs (plus noise features, offset and scaled: the standardisation is folded into
    the first layer): no linear head separates it, one hidden ReLU layer does; the same seed gives the same
    head, another seed another one."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, 4))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    x = x * 3.0 + 20.0
    tr, va = np.arange(400) < 300, np.arange(400) >= 300
    (lin, _), _ = _run(train_head(x[tr], y[tr], x[va], y[va], 2))
    (mlp, stats), events = _run(train_head(x[tr], y[tr], x[va], y[va], 2, hidden=64, l2=1e-4, seed=3))
    assert lin.hidden_units == 0 and mlp.hidden_units == 64 and mlp.n_features == 4
    assert mlp.hidden_weight.shape == (4, 64) and mlp.weight.shape == (64, 2)
    assert np.mean(lin.predict(x[va]) == y[va]) < 0.75, "XOR is not linearly separable"
    assert np.mean(mlp.predict(x[va]) == y[va]) >= 0.95
    assert stats.val_loss == pytest.approx(min(v for _, v in events)), "early stopping keeps the best epoch"
    (again, _), _ = _run(train_head(x[tr], y[tr], x[va], y[va], 2, hidden=64, l2=1e-4, seed=3))
    np.testing.assert_array_equal(again.hidden_weight, mlp.hidden_weight)
    np.testing.assert_array_equal(again.logits(x), mlp.logits(x))
    (other, _), _ = _run(train_head(x[tr], y[tr], x[va], y[va], 2, hidden=64, l2=1e-4, seed=4))
    assert not np.allclose(other.hidden_weight, mlp.hidden_weight)
    with pytest.raises(ValueError, match="hidden units"):
        _run(train_head(x, y, x[:0], y[:0], 2, hidden=-1))


def test_weight_decay_shrinks_both_layers() -> None:
    x, y = blobs((30, 30), d=16)
    norms = []
    for l2 in (1e-4, 1.0):
        (h, _), _ = _run(train_head(x, y, x[:0], y[:0], 2, hidden=32, l2=l2, max_epochs=150))
        norms.append((np.linalg.norm(h.weight), np.linalg.norm(h.hidden_weight * x.std(axis=0)[:, None])))
    assert norms[1][0] < norms[0][0] and norms[1][1] < norms[0][1]
