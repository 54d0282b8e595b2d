"""Release-build helper scripts (torch-free)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _pack(root: Path, name: str, *, weights: str, code: str, bundleable: bool, passed: bool = True) -> None:
    d = root / name
    d.mkdir(parents=True)
    extra = {"licence_weights": weights, "licence_code": code, "bundleable": bundleable,
             "parity": {"passed": passed}}
    (d / "manifest.json").write_text(json.dumps({"id": name, "random_weights": False, "extra": extra}))
    (d / "LICENCE.txt").write_text("MIT")


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "tools" / "check_bundle_licences.py"), str(folder)],
                          capture_output=True, text=True)


def test_bundle_check_accepts_permissive_and_rejects_agpl(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    _pack(ok, "ai4g-serengeti", weights="MIT", code="MIT", bundleable=True)
    _pack(ok, "mdv6-apa-rtdetr-c", weights="Apache-2.0", code="Apache-2.0", bundleable=True)
    assert _run(ok).returncode == 0
    bad = tmp_path / "bad"
    _pack(bad, "ai4g-serengeti", weights="MIT", code="MIT", bundleable=True)
    _pack(bad, "mdv5a", weights="MIT", code="AGPL-3.0", bundleable=False)
    res = _run(bad)
    assert res.returncode == 1 and "mdv5a" in res.stderr and "ai4g-serengeti" not in res.stderr


def test_fetch_parity_images_needs_a_source(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(REPO / "tools" / "fetch_parity_images.py"), "--out", str(tmp_path / "o"),
                          "--source", ""], capture_output=True, text=True)
    assert res.returncode == 2 and "PARITY_SAMPLES_ZIP_URL" in res.stderr
