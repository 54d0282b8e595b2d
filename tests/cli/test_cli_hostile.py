"""``decisions import|thresholds`` on hostile input (issue 11, item 10): clear ``error:`` lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from wildlife_desktop.cli import main as cli_main
from wildlife_desktop.cli.decisions import _thresholds
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import ReviewDecision, load_decisions
from wildlife_desktop.pipeline.results import load_results

HEAD = "file,detection_id,decision,label,reviewer,time\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    card = tmp_path / "card"
    card.mkdir()
    Image.new("RGB", (64, 48)).save(card / "a.jpg")
    det = {"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}
    results = {"info": {"format_version": "1.5", "detector": "md"}, "detection_categories": {"1": "animal"},
               "images": [{"file": "a.jpg", "detections": [det]}]}
    (tmp_path / "r.json").write_text(json.dumps(results), encoding="utf-8")
    assert cli_main(["import-results", str(card), str(tmp_path / "r.json")]) == 0
    return card


def _import(folder: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = folder.parent / "d.csv"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = cli_main(["decisions", "import", str(folder), str(path)])
    return code, capsys.readouterr().err


def test_unknown_detection_or_file_is_refused_and_nothing_imported(folder: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    res = load_results(folder)
    assert res is not None
    real = detection_id("a.jpg", res.predictions["a.jpg"].detections[0])
    for row in ("a.jpg,d000000000000,accept,,ana,2026-01-01T00:00:00\n",
                "elsewhere.jpg,,empty,,ana,2026-01-01T00:00:00\n"):
        code, err = _import(folder, HEAD + f"a.jpg,{real},accept,,ana,2026-01-01T00:00:00\n" + row, capsys)
        assert code == 1 and err.startswith("error: d.csv: 1 decision(s)") and "Traceback" not in err
        assert load_decisions(folder / ".wildlife") == ()
    code, err = _import(folder, HEAD + f"a.jpg,{real},accept,,ana,2026-01-01T00:00:00\n", capsys)
    assert code == 0 and len(load_decisions(folder / ".wildlife")) == 1


def test_garbage_time_and_nan_confidence_are_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = load_results(folder)
    assert res is not None
    real = detection_id("a.jpg", res.predictions["a.jpg"].detections[0])
    code, err = _import(folder, HEAD + f"a.jpg,{real},accept,,ana,zzzz\n", capsys)
    assert code == 1 and "line 2: time 'zzzz'" in err
    code, err = _import(folder, HEAD.strip() + ",confidence\n" + f"a.jpg,{real},accept,,ana,,nan\n", capsys)
    assert code == 1 and "confidence" in err and load_decisions(folder / ".wildlife") == ()


def test_thresholds_ignore_non_finite_confidences(capsys: pytest.CaptureFixture[str]) -> None:
    history = [ReviewDecision(f"f{i}.jpg", f"d{i}", "accept", reviewer="ana", time="2026-01-01T00:00:00",
                              model_label="fox" if i < 2 else "deer", confidence=c)
               for i, c in enumerate([float("nan"), float("inf"), 0.9, 0.9, 0.9, 0.9, 0.9])]
    assert _thresholds(history, 0.95, json_out=False) == 0  # was a ZeroDivisionError
    out = capsys.readouterr().out
    assert "deer" in out and "fox" not in out and "Suggested accept threshold for 95% precision" in out
