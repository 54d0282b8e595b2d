"""``models build`` and the licence gate of ``models import``, as a user runs them (subprocesses)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.cli.test_cli import cli

torch = pytest.importorskip("torch", exc_type=ImportError,
                            reason="torch not installed: pip install torch==2.13.0 (the 'train' extra)")

from wildlife_desktop.runtime.catalogue import WeightSource, load_catalogue  # noqa: E402
from wildlife_desktop.training.packs.build import build_pack  # noqa: E402
from wildlife_desktop.training.packs.resnet import PWResNetClassifier  # noqa: E402

from .tiny_torch import TinyYoloV5  # noqa: E402

pytestmark = pytest.mark.training


def test_models_build_classifier_from_official_file_name_and_install(tmp_path: Path,
                                                                      parity_images: list[Path]) -> None:
    torch.manual_seed(0)
    net = PWResNetClassifier(18, 10)
    weights = tmp_path / "AI4GSnapshotSerengeti.ckpt"  # official name -> catalogue entry found by file name
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, weights)
    images = tmp_path / "imgs"
    images.mkdir()
    for p in parity_images[:2]:
        (images / p.name).write_bytes(p.read_bytes())
    refused = cli("models", "build", str(weights), "--images", str(images), check=False)
    assert refused.returncode == 1 and "--trust-unverified" in refused.stderr and "Traceback" not in refused.stderr
    res = cli("models", "build", str(weights), "--images", str(images), "--out", str(tmp_path / "packs"),
              "--install", "--json", "--trust-unverified")
    event = json.loads(res.stdout.splitlines()[0])
    assert event["id"] == "ai4g-serengeti" and event["parity"]["passed"] and event["bundleable"]
    assert "unverified" in event["checksum"] and event["quantisation"] == "not requested"
    assert "Installed ai4g-serengeti" in res.stdout
    listing = json.loads(cli("models", "list", "--json").stdout)
    assert [m["id"] for m in listing["models"]] == ["ai4g-serengeti"]


def test_models_build_refuses_offline_catalogue_id_without_download(tmp_path: Path) -> None:
    res = cli("models", "build", "mdv5a", "--images", str(tmp_path), "--cache", str(tmp_path / "c"), check=False)
    assert res.returncode == 1 and "--download" in res.stderr and "Traceback" not in res.stderr


def test_models_build_refuses_corrupted_download(tmp_path: Path) -> None:
    bad = tmp_path / "md_v5a.0.0.pt"
    bad.write_bytes(b"not the official file")
    res = cli("models", "build", str(bad), "--images", str(tmp_path), check=False)
    assert res.returncode == 1 and "Refusing md_v5a.0.0.pt" in res.stderr and "md5" in res.stderr


def test_import_of_agpl_pack_needs_accept_licence(tmp_path: Path, parity_images: list[Path]) -> None:
    weights = tmp_path / "tiny.pt"
    torch.manual_seed(1)
    torch.save(TinyYoloV5().state_dict(), weights)
    md5 = hashlib.md5(weights.read_bytes(), usedforsecurity=False).hexdigest()
    entry = replace(load_catalogue().get("mdv1000-spruce"), id="tiny-spruce",
                    sources=(WeightSource("file://test", weights.name, md5=md5),))

    def loader(path: Path, _entry: object) -> torch.nn.Module:
        m = TinyYoloV5()
        m.load_state_dict(torch.load(path, weights_only=True))
        return m.eval()

    report = build_pack(weights, entry, tmp_path / "packs", images=parity_images[:1], loader=loader,
                        random_weights=True, input_size=320, conf_floor=0.05)
    refused = cli("models", "import", str(report.pack_dir), check=False)
    assert refused.returncode == 1 and "--accept-licence" in refused.stderr
    assert "AGPL-3.0" in refused.stdout
    ok = cli("models", "import", str(report.pack_dir), "--accept-licence")
    assert "Installed tiny-spruce" in ok.stdout and "RANDOM WEIGHTS" in ok.stderr
