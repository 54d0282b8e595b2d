"""Shared test set-up: isolated app data per test, offscreen Qt, and the shared samples.

``../shared`` (samples, model twins) must exist beside the project; tests that need it fail
loudly when it is missing instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the user's real models, caches or settings."""
    home = tmp_path_factory.mktemp("app_home")
    monkeypatch.setenv("WILDLIFE_DESKTOP_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _strict_pillow() -> object:
    """megadetector-utils (the validator) sets ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` at import,
    which would make every later test decode truncated JPEGs silently. Our app never imports it."""
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    yield
    ImageFile.LOAD_TRUNCATED_IMAGES = False


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "samples").is_dir():
        pytest.fail(f"../shared (samples and model twins) is missing: expected it at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def mdlite_wheel() -> Path:
    """The real zamba 2.7.2 wheel (MegadetectorLite checkpoint), cached; downloaded once with pip."""
    from tests.fixtures.mdlite_assets import zamba_wheel

    return zamba_wheel()


@pytest.fixture(scope="session")
def mdlite_packs() -> Path:
    """The converted MegadetectorLite packs (cached by the converter's source hash)."""
    from tests.fixtures.mdlite_assets import mdlite_packs

    return mdlite_packs()
