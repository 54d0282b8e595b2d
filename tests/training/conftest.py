"""Torch-based pack-build tests: skipped with a clear reason when torch is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED


@pytest.fixture(scope="session")
def parity_images() -> list[Path]:
    """Real camera-trap images of different aspect ratios (classic letterbox -> different input shapes)."""
    folder = SHARED / "samples" / "lila_test_images"
    files = sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.JPG"))
    if len(files) < 3:
        pytest.fail(f"{folder} is missing its images")
    return files[:3]
