"""``wildlife-desktop train`` through ``cli.main``: human output, --json events, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildlife_desktop.cli import main
from wildlife_desktop.runtime.manifest import ModelManifest


def test_train_prints_counts_metrics_confusion_and_the_new_id(
    verified: Path, base: ModelManifest, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["train", str(verified), "--base", base.id, "--name", "Camera 7 species", "--no-quantize"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Verified crops: car 7, deer 4, opossum 3 (14 in all)" in out
    assert "split by sequence" in out and "Confusion matrix" in out
    assert all(f"  {lab}" in out for lab in ("car", "deer", "opossum"))
    assert "Registered camera-7-species-v1 (version 1, 3 labels)" in out and "training_report.json" in out
    assert "int8: no (not requested)" in out
    assert err.count("RANDOM WEIGHTS") == 2, "warned before and after"
    assert "features [" in err and "export 3/3" in err


def test_train_json_events_and_min_per_class(
    verified: Path, base: ModelManifest, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "train",
            str(verified),
            "--base",
            base.id,
            "--name",
            "J",
            "--min-per-class",
            "4",
            "--no-quantize",
            "--json",
            "--max-epochs",
            "20",
            "--split",
            "sequence",
            "--val-fraction",
            "0.3",
            "--seed",
            "3",
        ]
    )
    out, _ = capsys.readouterr()
    assert rc == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["event"] == "FinetuneStarted" and events[0]["dropped"] == ["opossum"]
    assert events[-1]["event"] == "FinetuneFinished"
    report = events[-1]["report"]
    assert report["model_id"] == "j-v1" and report["labels"] == ["car", "deer"] and report["random_weights"]
    assert max(e["done"] for e in events if e.get("stage") == "training") <= 20


def test_train_errors_exit_1_with_a_message(
    verified: Path, base: ModelManifest, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(verified), "--base", base.id, "--name", "x", "--min-per-class", "9"]) == 1
    assert "error: Fine-tuning needs at least 2 species" in capsys.readouterr().err
    assert main(["train", str(verified), "--base", "no-such-model", "--name", "x"]) == 1
    assert "not installed" in capsys.readouterr().err
    assert main(["train", str(verified / "missing"), "--base", base.id, "--name", "x"]) == 1
    assert "Not a folder" in capsys.readouterr().err


def test_interrupt_after_registration_does_not_claim_nothing_was_registered(
    verified: Path, base: ModelManifest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wildlife_desktop.cli import train

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the results are printed: the pack is already installed

    monkeypatch.setattr(train, "_print_report", interrupted)
    assert main(["train", str(verified), "--base", base.id, "--name", "late", "--no-quantize"]) == 130
    err = capsys.readouterr().err
    assert "nothing was registered" not in err and "late-v1" in err
