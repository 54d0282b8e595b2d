"""Fixtures shared by the pipeline tests: isolated app paths and tiny installed models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.tiny_onnx import install_tiny_models
from wildlife_desktop.core.paths import AppPaths


@pytest.fixture
def paths() -> AppPaths:
    return AppPaths.default().ensure()


@pytest.fixture
def models(paths: AppPaths, tmp_path: Path) -> tuple[str, str]:
    """(detector id, classifier id) of the tiny on-the-fly models, installed as packs."""
    return install_tiny_models(paths, tmp_path)
