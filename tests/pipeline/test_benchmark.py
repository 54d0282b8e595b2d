"""``estimate`` ("how long will this folder take?") on real JPEGs with tiny ONNX models, the
``benchmark`` CLI subcommand, and a smoke run of ``benchmarks/throughput.py``. No timed assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fixtures.folders import make_card
from wildlife_desktop import cli
from wildlife_desktop.core.errors import ModelLoadError, WildlifeError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.benchmark import _spread, estimate


def _tree(root: Path) -> list[tuple[str, int, float]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime) for p in root.rglob("*"))


def test_spread() -> None:
    assert _spread(5, 10) == [0, 1, 2, 3, 4]
    assert _spread(100, 4) == [0, 25, 50, 75]
    assert len(_spread(1000, 20)) == 20


def test_estimate_times_a_sample_and_leaves_the_folder_untouched(
    shared: Path, tmp_path: Path, models: tuple[str, str], paths: AppPaths
) -> None:
    card = make_card(shared, tmp_path / "card", n_good=8, bad=False, video=True)
    before = _tree(card)
    res = estimate(card, models[0], models[1], sample=3, paths=paths)
    assert _tree(card) == before  # nothing written into the user's folder
    assert res.n_images == 8 and res.n_videos == 1 and res.n_files == 9
    assert res.sample == 3 and res.failed == 0
    assert res.images_per_s > 0
    assert res.eta_s == pytest.approx(res.startup_s + 8 / res.images_per_s, rel=0.01, abs=0.2)
    assert res.elapsed_s >= 3 / res.images_per_s  # the rate is never above what the sample showed
    assert res.classifier_id == models[1] and not res.random_weights


def test_estimate_errors(tmp_path: Path, models: tuple[str, str], paths: AppPaths) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WildlifeError, match="No images"):
        estimate(empty, models[0], paths=paths)
    (empty / "a.jpg").write_bytes(b"")
    with pytest.raises(ModelLoadError):
        estimate(empty, "no-such-model", paths=paths)


def test_cli_benchmark(shared: Path, tmp_path: Path, models: tuple[str, str],
                       capsys: pytest.CaptureFixture[str]) -> None:
    card = make_card(shared, tmp_path / "card", n_good=4, bad=False)
    assert cli.main(["benchmark", str(card), "--detector", models[0], "--sample", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["event"] == "benchmark" and out["n_images"] == 4 and out["sample"] == 2
    assert out["images_per_s"] > 0 and out["eta_s"] > 0
    assert cli.main(["benchmark", str(card), "--detector", models[0], "--sample", "2"]) == 0
    text = capsys.readouterr().out
    assert "images/s" in text and "4 images" in text
    assert cli.main(["benchmark", str(card), "--detector", "missing"]) == 1
    assert "error:" in capsys.readouterr().err


def test_throughput_script_smoke(shared: Path) -> None:
    res = subprocess.run([sys.executable, "benchmarks/throughput.py", "--images", "4", "--models", "yolov10n",
                          "--threads", "1", "--model-runs", "4"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    last = json.loads(res.stdout.strip().splitlines()[-1])
    row = last["results"]["yolov10n"]
    assert row["failed"] == 0
    for key in ("model_only_ms", "e2e_ips", "naive_ips", "e2e_over_model_only", "e2e_over_naive"):
        assert row[key] > 0
    assert last["peak_rss_mb"] > 0 and last["images"] == 4
