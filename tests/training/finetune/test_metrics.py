"""Metrics against a confusion matrix computed by hand."""

from __future__ import annotations

import pytest

from wildlife_desktop.training.finetune.metrics import compute_metrics, confusion_matrix


def test_metrics_match_a_hand_computed_confusion_matrix() -> None:
    labels = ("cat", "dog", "fox")
    # true:  cat cat cat cat dog dog dog fox fox (fox also predicted never correctly)
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2]
    y_pred = [0, 0, 1, 2, 1, 1, 0, 1, 2]
    m = compute_metrics(y_true, y_pred, labels)
    assert m.confusion == ((2, 1, 1), (1, 2, 0), (0, 1, 1))
    # cat: P = 2/3, R = 2/4; dog: P = 2/4, R = 2/3; fox: P = 1/2, R = 1/2
    cat, dog, fox = m.per_class
    assert (cat.precision, cat.recall, cat.support) == pytest.approx((2 / 3, 0.5, 4))
    assert cat.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert (dog.precision, dog.recall, dog.support) == pytest.approx((0.5, 2 / 3, 3))
    assert (fox.precision, fox.recall, fox.f1, fox.support) == pytest.approx((0.5, 0.5, 0.5, 2))
    assert m.accuracy == pytest.approx(5 / 9)
    assert m.macro_f1 == pytest.approx((cat.f1 + dog.f1 + fox.f1) / 3)
    assert m.n == 9 and m.summary() == {"accuracy": 0.5556, "macro_f1": round(m.macro_f1, 4), "n": 9}


def test_classes_without_support_or_predictions() -> None:
    m = compute_metrics([0, 0, 1], [0, 0, 0], ("a", "b", "c"))
    a, b, c = m.per_class
    assert (b.precision, b.recall, b.f1, b.support) == (0.0, 0.0, 0.0, 1)
    assert (c.support, c.f1) == (0, 0.0)
    assert m.macro_f1 == pytest.approx(a.f1 / 2), "classes without support do not count in macro-F1"
    assert confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]
