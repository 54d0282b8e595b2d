"""The typed training configuration: TOML/JSON files, key=value overrides, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildlife_desktop.cli import main
from wildlife_desktop.training.finetune.run import CONFIG_VERSION, FinetuneConfig
from wildlife_desktop.training.lab.config import ConfigError, build_config, from_mapping, is_override, read_values


def test_toml_file_then_overrides_typed_by_the_dataclass(tmp_path: Path) -> None:
    f = tmp_path / "train.toml"
    f.write_text('config_version = 1\nfolders = ["/a", "/b"]\nbase_model_id = "mobilenetv2-imagenet"\n'
                 'name = "Kenya"\nl2 = 0.01\nsplit = "site"\n', encoding="utf-8")
    cfg = build_config(f, {"max_epochs": 300}, ["max_epochs=50", "lr=0.002", "class_balance=no", "quantize=false"])
    assert cfg == FinetuneConfig(folders=(Path("/a"), Path("/b")), base_model_id="mobilenetv2-imagenet", name="Kenya",
                                 l2=0.01, split="site", max_epochs=50, lr=0.002, class_balance=False, quantize=False)
    assert build_config(f, {}, ["lr=none"]).lr is None
    # saved as JSON with its version, read back to the same configuration
    j = tmp_path / "run.json"
    j.write_text(json.dumps(cfg.to_dict()), encoding="utf-8")
    assert cfg.to_dict()["config_version"] == CONFIG_VERSION and from_mapping(read_values(j)) == cfg
    assert is_override("l2=0.1") and not is_override("/data/cam=1") and not is_override("folder")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("l2=much", "l2 must be a number"),
        ("max_epochs=1.5", "max_epochs must be an integer"),
        ("split=camera", "split must be one of auto, site, sequence"),
        ("refit=everything", "refit must be one of auto, split, all"),
        ("hidden_units=wide", "hidden_units must be an integer"),
        ("quantize=maybe", "quantize must be true or false"),
        ("colour=red", "Unknown setting(s) colour"),
        ("config_version=9", "newer than this app reads"),
        ("novalue", "An override is key=value"),
    ],
)
def test_bad_settings_are_one_sentence(override: str, message: str) -> None:
    base = {"folders": ["/a"], "base_model_id": "b", "name": "n"}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_config(None, base, [override])


def test_cli_refuses_a_bad_file_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("l2 = [", encoding="utf-8")
    assert main(["train", "--config", str(bad), "--name", "x", "--base", "anything"]) == 1
    err = capsys.readouterr().err
    assert "is not valid TOML" in err and "Traceback" not in err


def test_head_width_and_refit_are_settings_and_a_version_1_file_reads_as_before(tmp_path: Path) -> None:
    base = {"folders": ["/a"], "base_model_id": "b", "name": "n"}
    cfg = build_config(None, base, ["hidden_units=128", "refit=all"])
    assert cfg.hidden_units == 128 and cfg.refit == "all" and CONFIG_VERSION == 2
    assert is_override("hidden_units=64") and is_override("refit=split")
    old = from_mapping({**base, "config_version": 1})  # written before the head width existed
    assert old.hidden_units == 0 and old.refit == "auto", "a linear head; split unless a search runs"
