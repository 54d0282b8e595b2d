"""Fixtures shared by the pipeline tests: isolated app paths and tiny installed models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.tiny_onnx import tiny_classifier, tiny_yolov10
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.store import ModelStore


@pytest.fixture
def paths() -> AppPaths:
    return AppPaths.default().ensure()


@pytest.fixture
def models(paths: AppPaths, tmp_path: Path) -> tuple[str, str]:
    """(detector id, classifier id) of the tiny on-the-fly models, installed as packs."""
    store = ModelStore(paths)
    det = store.import_onnx(tiny_yolov10(tmp_path / "tiny-det.onnx"), family="yolov10",
                            labels=("animal", "person", "vehicle"))
    cls = store.import_onnx(tiny_classifier(tmp_path / "tiny-cls.onnx"), family="classifier",
                            labels=("red", "green", "blue"), input_size=32)
    return det.id, cls.id
