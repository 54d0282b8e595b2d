"""GUI test setup: offscreen Qt and a private app home per test.

``QT_QPA_PLATFORM`` must be set before the first ``QApplication`` is made, which pytest-qt
does lazily in its ``qapp`` fixture, so setting it at import time of this conftest is early
enough (conftest modules load before any test runs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[3] / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")
CCT_DIR = SHARED / "samples" / "caltech_cct"
LILA_DIR = SHARED / "samples" / "lila_test_images"
TWIN_DETECTOR = SHARED / "models" / "twins" / "twin-yolov10n-640-random.onnx"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own WILDLIFE_DESKTOP_HOME, HOME and QSettings location."""
    home = tmp_path / "wd_home"
    home.mkdir()
    monkeypatch.setenv("WILDLIFE_DESKTOP_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user_home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user_home" / ".config"))
    # Qt resolves the QSettings location once per process, so HOME alone does not isolate it:
    # point the INI user scope at this test's tmp dir (reviewer name, labels, geometry).
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    yield home


@pytest.fixture
def cct_folder(tmp_path: Path) -> Path:
    """A small writable folder with a few real camera-trap JPEGs."""
    folder = tmp_path / "cards" / "cct"
    folder.mkdir(parents=True)
    for src in sorted(CCT_DIR.glob("*.jpg"))[:4]:
        shutil.copy2(src, folder / src.name)
    return folder


@pytest.fixture
def lila(tmp_path: Path) -> Path:
    """A writable copy of the LILA samples (with MegaDetector v5a's results file)."""
    from tests.gui.helpers import copy_lila

    return copy_lila(tmp_path / "lila")
