"""Classifier: crops, batching, softmax top-k, binary and fixed-batch models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelLoadError
from wildlife_desktop.core.records import BBox
from wildlife_desktop.runtime import Classifier, ModelManifest
from wildlife_desktop.runtime.classifier import logits_to_probs, softmax

from .onnx_models import mean_colour_classifier

LABELS = ("red", "green", "blue")


def manifest(labels: tuple[str, ...] = LABELS, size: int = 32) -> ModelManifest:
    return ModelManifest(id="cls", version="1", name="cls", family="classifier", task="classification",
                         file="c.onnx", sha256="0" * 64, input_size=size, labels=labels)


def image() -> np.ndarray:
    img = np.zeros((100, 300, 3), dtype=np.uint8)
    img[:, :100] = (255, 0, 0)
    img[:, 100:200] = (0, 255, 0)
    img[:, 200:] = (0, 0, 255)
    return img


BOXES = [BBox(0.05, 0.1, 0.2, 0.5), BBox(0.4, 0.3, 0.1, 0.4), BBox(0.75, 0.2, 0.2, 0.6)]


def test_softmax_top_k_order_and_values(tmp_path: Path) -> None:
    path = mean_colour_classifier(tmp_path / "c.onnx", np.eye(3) * 2.0)
    clf = Classifier(manifest(), path)
    res = clf.classify(image(), BOXES, top_k=2, batch_size=2)
    assert [tuple(c.label for c in r) for r in res] == [("red", "blue"), ("green", "blue"), ("blue", "green")]
    # Exact value for the red crop: logits = 2 x normalised channel means.
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = softmax(2.0 * (np.array([1.0, 0.0, 0.0]) - mean) / std)
    assert res[0][0].confidence == round(float(expected[0]), 3)
    assert res[0][1].confidence == round(float(expected[2]), 3)
    full = clf.classify(image(), BOXES[:1], top_k=10)[0]
    assert len(full) == 3 and sum(c.confidence for c in full) == pytest.approx(1.0, abs=2e-3)
    assert clf.classify(image(), []) == []


def test_fixed_batch_of_one_and_extra_output(tmp_path: Path) -> None:
    path = mean_colour_classifier(tmp_path / "c1.onnx", np.eye(3), batch=1, extra_output=True)
    clf = Classifier(manifest(), path)
    assert clf.fixed_batch == 1
    res = clf.classify(image(), BOXES, top_k=1, batch_size=8)
    assert [r[0].label for r in res] == ["red", "green", "blue"]


def test_binary_one_logit_model_uses_sigmoid(tmp_path: Path) -> None:
    # logit = 3 x normalised red mean: positive for the red crop, negative for the others.
    path = mean_colour_classifier(tmp_path / "b.onnx", np.array([[3.0], [0.0], [0.0]]))
    clf = Classifier(manifest(("not-red", "red")), path)
    res = clf.classify(image(), BOXES[:2], top_k=2)
    assert res[0][0].label == "red" and res[1][0].label == "not-red"
    p = 1 / (1 + np.exp(-3.0 * (1.0 - 0.485) / 0.229))
    assert res[0][0].confidence == round(float(p), 3)
    np.testing.assert_allclose(logits_to_probs(np.array([[0.0]])), [[0.5, 0.5]])


def test_label_count_mismatch_is_refused(tmp_path: Path) -> None:
    path = mean_colour_classifier(tmp_path / "c.onnx", np.eye(3))
    with pytest.raises(ModelLoadError, match="outputs 3 classes but the manifest lists 2"):
        Classifier(manifest(("a", "b")), path)
