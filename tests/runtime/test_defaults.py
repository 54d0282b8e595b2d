"""The default models: stored choice, fallback to a real model, never a twin while a real model exists."""

from __future__ import annotations

from pathlib import Path

from wildlife_desktop.runtime.defaults import ModelDefaults, choose, load_defaults, save_defaults
from wildlife_desktop.runtime.manifest import ModelManifest


def _m(mid: str, *, task: str = "detection", random: bool = False) -> ModelManifest:
    family = "yolov5" if task == "detection" else "classifier"
    labels = ("animal", "person", "vehicle") if task == "detection" else ("a", "b")
    return ModelManifest(id=mid, version="1", name=mid, family=family, task=task, file="m.onnx",
                         sha256="ab" * 32, input_size=640, labels=labels, random_weights=random)


def test_stored_choice_wins_when_installed_else_first_real_model() -> None:
    installed = [_m("a-twin", random=True), _m("b-real"), _m("c-real"), _m("k", task="classification")]
    assert choose(installed, "c-real", "detection") == "c-real"
    assert choose(installed, "gone", "detection") == "b-real"  # removed default: first real one
    assert choose(installed, None, "detection") == "b-real"  # never the twin while a real one exists
    assert choose([_m("a-twin", random=True)], None, "detection") == "a-twin"
    assert choose(installed, "k", "detection") == "b-real"  # a classifier is no detector
    assert choose([], None, "detection") is None


def test_defaults_file_round_trip_and_damage(tmp_path: Path) -> None:
    assert load_defaults(tmp_path) == ModelDefaults()
    save_defaults(tmp_path, detector="x")
    save_defaults(tmp_path, finetune_base="y")
    assert load_defaults(tmp_path) == ModelDefaults(detector="x", finetune_base="y")
    (tmp_path / "defaults.json").write_text("{not json", encoding="utf-8")
    assert load_defaults(tmp_path) == ModelDefaults()  # damaged: nothing chosen, no crash
    (tmp_path / "defaults.json").write_text('{"detector": 5, "classifier": ""}', encoding="utf-8")
    assert load_defaults(tmp_path) == ModelDefaults()
