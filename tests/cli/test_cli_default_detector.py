"""``detect`` without ``--detector``: the default detector, or one clear sentence when there is none."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.cli.test_cli import cli
from tests.fixtures.tiny_onnx import tiny_yolov10


def test_detect_uses_the_default_detector_or_says_how_to_install_one(tmp_path: Path) -> None:
    card = tmp_path / "card"
    card.mkdir()
    Image.new("RGB", (64, 48), (90, 120, 60)).save(card / "a.jpg")
    none = cli("detect", str(card), check=False)
    assert none.returncode == 1 and "No detector is installed" in none.stderr
    assert "models install recommended" in none.stderr and "Traceback" not in none.stderr
    onnx = tiny_yolov10(tmp_path / "tiny.onnx")
    for mid in ("tiny-a", "tiny-b"):
        cli("models", "import", str(onnx), "--family", "yolov10", "--labels", "animal,person,vehicle", "--id", mid)
    cli("models", "default", "--detector", "tiny-b")
    shown = cli("models", "default")
    assert "Default detector: tiny-b" in shown.stdout
    res = cli("detect", str(card))
    assert "Detector: tiny-b (the default" in res.stderr
    assert list((card / ".wildlife" / "layers").glob("tiny-b-*"))  # the layer of the default model
    wrong = cli("models", "default", "--classifier", "tiny-a", check=False)
    assert wrong.returncode == 1 and "not a classification model" in wrong.stderr
