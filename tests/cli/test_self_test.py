"""``wildlife-cli self-test``: the bundled tiny model on the bundled image, through the real pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from wildlife_desktop import cli
from wildlife_desktop.core.paths import AppPaths


def test_self_test_passes_in_a_subprocess_and_leaves_the_user_home_alone(_isolated_app_home: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "wildlife_desktop", "self-test"], cwd=REPO, capture_output=True,
                         text=True, env=os.environ.copy(), timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    for name in ("onnxruntime", "decoders", "model", "pipeline", "decode", "exif", "detections", "sidecars"):
        assert any(line.startswith(f"OK   {name}:") for line in lines), (name, res.stdout)
    assert "DateTimeOriginal 2011-07-06 15:40:11" in res.stdout
    assert lines[-1].startswith("self-test passed")
    assert list(_isolated_app_home.rglob("*")) == []  # nothing installed, nothing written in the real home
    assert os.environ["WILDLIFE_DESKTOP_HOME"] == str(_isolated_app_home)


def test_self_test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["self-test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["event"] == "self_test" and out["ok"] is True and out["frozen"] is False
    checks = {c["name"]: c for c in out["checks"]}
    assert all(c["ok"] for c in checks.values())
    assert checks["decode"]["detail"] == "1280x1024"
    assert "recognitions.json" in checks["sidecars"]["detail"] and "detections.csv" in checks["sidecars"]["detail"]
    assert AppPaths.default().models.exists() is False


def test_self_test_reports_failure_with_exit_1(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import wildlife_desktop.pipeline.job as job

    def broken(*_a: object, **_k: object) -> object:
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(job, "run_job", broken)
    assert cli.main(["self-test"]) == 1
    out = capsys.readouterr().out
    assert "FAIL error: RuntimeError: decoder exploded" in out and "self-test FAILED" in out
