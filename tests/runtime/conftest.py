"""Fixtures for the runtime tests: tiny ONNX models built on the fly, isolated model stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.paths import HOME_ENV, AppPaths
from wildlife_desktop.runtime import ModelStore

from .onnx_models import const_output_model

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TWINS = SHARED / "models" / "twins"
SAMPLES = SHARED / "samples" / "lila_test_images"
DET_LABELS = ("animal", "person", "vehicle")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelStore:
    """An empty model store under a temporary application home."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return ModelStore(AppPaths.default())


@pytest.fixture
def make_const_model(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_const_model(name, output, **kw)`` -> path of a constant-output ONNX file."""

    def make(name: str, output: np.ndarray, **kwargs: object) -> Path:
        return const_output_model(tmp_path / name, output, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def twins_dir() -> Path:
    """The shared random-weight twins; fails (does not skip) when they are missing."""
    names = [
        "twin-yolov10n-640-random.onnx",
        "twin-yolov10n-640-one2many-random.onnx",
        "twin-yolov5s-640-random.onnx",
        "twin-resnet50-224-36cls-features-random.onnx",
    ]
    missing = [n for n in names if not (TWINS / n).is_file()]
    assert not missing, f"architecture twins missing from {TWINS}: {missing}"
    return TWINS


@pytest.fixture(scope="session")
def sample_jpeg() -> Path:
    """A real camera-trap JPEG; fails when the shared samples are missing."""
    jpgs = sorted(SAMPLES.glob("*.jpg"))
    assert jpgs, f"no sample JPEGs in {SAMPLES}"
    return jpgs[0]
