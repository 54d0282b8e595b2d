"""Fixtures of the fine-tuning tests (torch-free): app paths, the tiny feature classifier, a verified folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.tiny_classifier import tiny_classifier_pack, verified_caltech_folder
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.manifest import ModelManifest
from wildlife_desktop.runtime.store import ModelStore


@pytest.fixture
def paths() -> AppPaths:
    return AppPaths.default().ensure()


@pytest.fixture
def store(paths: AppPaths) -> ModelStore:
    return ModelStore(paths)


@pytest.fixture
def base(store: ModelStore) -> ModelManifest:
    """The tiny classifier with a ``features`` output, installed (random weights)."""
    return tiny_classifier_pack(store)


@pytest.fixture
def verified(tmp_path: Path, paths: AppPaths, shared: Path) -> Path:
    """Real Caltech images (car 7, deer 4, opossum 3 verified crops) with imported boxes and decisions."""
    return verified_caltech_folder(tmp_path, paths)
