"""House rules that must hold for every change: layering, Qt-free core, lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile

from tests.conftest import REPO


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency: pip install -e '.[test]'"
    res = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "broken" not in res.stdout.lower().replace("0 broken", "")


def test_cli_and_job_do_not_import_qt_or_torch() -> None:
    code = ("import sys, wildlife_desktop.cli, wildlife_desktop.pipeline.job, wildlife_desktop.pipeline.importer;"
            "bad = [m for m in ('PySide6', 'torch', 'shiboken6') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_clean() -> None:
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "wildlife_desktop", "tests"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_clean_on_the_qt_free_packages() -> None:
    """mypy over core, formats, runtime, pipeline and review ([tool.mypy] in pyproject.toml)."""
    with tempfile.TemporaryDirectory(prefix="mypy-cache-") as cache:  # a cold run: ~20 s
        res = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", cache], cwd=REPO,
                             capture_output=True, text=True)
    assert "No module named mypy" not in res.stderr, "mypy is a test dependency: pip install -e '.[test]'"
    assert res.returncode == 0, res.stdout + res.stderr
