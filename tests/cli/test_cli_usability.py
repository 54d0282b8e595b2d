"""The CLI as a first-time user meets it: options before the command, typos, help texts, tables."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fixtures.tiny_onnx import tiny_classifier, tiny_yolov10
from wildlife_desktop.__main__ import main
from wildlife_desktop.cli import build_parser
from wildlife_desktop.cli.train import _print_skipped
from wildlife_desktop.core.paths import AppPaths


def _jpeg_folder(tmp_path: Path) -> Path:
    from PIL import Image

    folder = tmp_path / "card"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (32, 24)).save(folder / name)
    return folder


def test_global_verbose_option_before_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _jpeg_folder(tmp_path)
    assert main(["-v", "scan", str(folder)]) == 0
    assert "2 images" in capsys.readouterr().out
    assert main(["--verbose", "scan", str(folder), "--json"]) == 0
    assert '"images": 2' in capsys.readouterr().out


def test_unknown_word_is_an_error_listing_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bogus"]) == 2
    err = capsys.readouterr().err
    assert "'bogus' is not a command" in err
    for command in ("scan", "detect", "models", "train"):
        assert command in err


def test_unknown_word_does_not_open_the_window_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "wildlife_desktop", "bogus"], cwd=REPO, capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.returncode == 2 and "Commands:" in res.stderr and "Traceback" not in res.stderr


def test_every_option_and_subcommand_has_help_text() -> None:
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for sub_name, sub in action.choices.items():
                    if not helps.get(sub_name):
                        missing.append(f"{name} {sub_name}")
                    walk(sub, f"{name} {sub_name}")
            elif not action.help and not isinstance(action, argparse._HelpAction):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "wildlife-desktop")
    assert missing == []


def _install_two(tmp_path: Path) -> AppPaths:
    from wildlife_desktop.runtime.store import ModelStore

    paths = AppPaths.default()
    store = ModelStore(paths)
    store.import_onnx(tiny_yolov10(tmp_path / "d.onnx"), family="yolov10", labels=("animal", "person", "vehicle"),
                      model_id="a-detector-with-a-really-quite-long-identifier-640", random_weights=True)
    store.import_onnx(tiny_classifier(tmp_path / "c.onnx"), family="classifier", labels=("red", "green", "blue"),
                      model_id="cls", random_weights=True)
    return paths


def test_models_list_aligns_long_ids_and_names_classifiers_honestly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _install_two(tmp_path)
    assert main(["models", "list"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 2
    task_col = {ln.index(task) for ln, task in zip(lines, ("detection", "classification"), strict=True)}
    assert len(task_col) == 1  # the task column starts at the same place on both rows
    det, cls = lines
    assert "not a detector" in det and "not a detector" not in cls and "not a classifier" in cls


def test_model_not_installed_lists_the_installed_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _install_two(tmp_path)
    assert main(["models", "remove", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert "no-such-model" in err and "a-detector-with-a-really-quite-long-identifier-640" in err and "cls" in err


def test_train_prints_each_skipped_reason_once(capsys: pytest.CaptureFixture[str]) -> None:
    shown: set[str] = set()
    _print_skipped(["a.jpg: file not found"] * 3 + ["b.jpg: empty box"], shown)
    _print_skipped(["a.jpg: file not found", "b.jpg: empty box", "c.jpg: empty box"], shown)  # the report repeats
    err = capsys.readouterr().err.splitlines()
    assert err == ["  not used: a.jpg: file not found (3 boxes)", "  not used: b.jpg: empty box",
                   "  not used: c.jpg: empty box"]
