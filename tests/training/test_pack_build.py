"""build -> parity -> pack -> import -> detect/classify, on random-weight networks of the real families.

The weights are random (no real weights can be downloaded here), so outputs mean nothing; what is
checked is the chain: checkpoint loading, ONNX export (dynamic shapes where the family allows it),
torch-vs-ONNX parity on real images, the pack files, import into the store and running it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", exc_type=ImportError,
                            reason="torch not installed: pip install torch==2.13.0 (the 'train' extra)")

from wildlife_desktop.core.errors import ModelPackError  # noqa: E402
from wildlife_desktop.core.paths import AppPaths  # noqa: E402
from wildlife_desktop.runtime.catalogue import CatalogueEntry, WeightSource, load_catalogue  # noqa: E402
from wildlife_desktop.runtime.store import ModelStore  # noqa: E402
from wildlife_desktop.training.packs.build import build_pack  # noqa: E402
from wildlife_desktop.training.packs.fetch import check_weights  # noqa: E402
from wildlife_desktop.training.packs.parity import read_rgb  # noqa: E402
from wildlife_desktop.training.packs.resnet import PWResNetClassifier  # noqa: E402

from .tiny_torch import TinyYoloV5, TinyYoloV10  # noqa: E402

pytestmark = pytest.mark.training


def _pw_checkpoint(path: Path, depth: int, n_out: int) -> Path:
    """A checkpoint laid out like Pytorch-Wildlife's: {"state_dict": {"net.feature.*", "net.classifier.*"}},
    including the unused ImageNet fc of the torchvision backbone."""
    torch.manual_seed(0)
    net = PWResNetClassifier(depth, n_out)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    state["net.feature.fc.weight"] = torch.zeros(1000, net.feature.out_features)
    state["net.feature.fc.bias"] = torch.zeros(1000)
    torch.save({"state_dict": state, "epoch": 1}, path)
    return path


def _tiny_entry(base: str, **changes: object) -> CatalogueEntry:
    return replace(load_catalogue().get(base), **changes)


def _tiny_loader(cls: type[torch.nn.Module]):
    def load(path: Path, entry: CatalogueEntry) -> torch.nn.Module:
        model = cls()
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()

    return load


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _install_and_check(report, paths: AppPaths) -> ModelStore:
    pack = report.pack_dir
    for name in ("manifest.json", "model.onnx", "LICENCE.txt", "provenance.json", "parity.json"):
        assert (pack / name).is_file(), name
    store = ModelStore(paths)
    installed = store.import_pack(pack)
    assert installed.random_weights, "a random-weight build must be flagged as such after import"
    assert installed.extra_dict()["parity"]["passed"] is True
    return store


@pytest.mark.parametrize("cls,base,size", [(TinyYoloV5, "mdv1000-spruce", 320), (TinyYoloV10, "mdv6-yolov10-c", 320)])
def test_detector_build_parity_import_detect(tmp_path: Path, parity_images: list[Path], cls: type, base: str,
                                             size: int) -> None:
    weights = tmp_path / f"tiny-{base}.pt"
    torch.manual_seed(1)
    torch.save(cls().state_dict(), weights)
    src = WeightSource(url="file://test", filename=weights.name, md5=_md5(weights), checksum_source="test")
    entry = _tiny_entry(base, id=f"tiny-{base}", sources=(src,))
    report = build_pack(weights, entry, tmp_path / "packs", images=parity_images, loader=_tiny_loader(cls),
                        random_weights=True, input_size=size, conf_floor=0.05)
    p = report.parity
    assert p.passed and p.kind == "detection" and p.images == 3
    assert p.matched > 0 and p.unmatched == 0
    assert p.min_iou is not None and p.min_iou >= 0.99 and p.max_conf_diff is not None and p.max_conf_diff < 1e-3
    assert len(set(p.input_shapes)) > 1, "classic letterbox must give rectangular inputs of different shapes"
    assert report.checksum.verified
    parity_file = json.loads((report.pack_dir / "parity.json").read_text(encoding="utf-8"))
    assert parity_file["matched"] == p.matched
    prov = json.loads((report.pack_dir / "provenance.json").read_text(encoding="utf-8"))
    assert prov["weights_md5"] == src.md5 and prov["checksum_verified"] is True
    assert prov["isolated_process"] is False  # a caller's own loader (weights_only) runs in this process
    assert "AGPL-3.0" in (report.pack_dir / "LICENCE.txt").read_text(encoding="utf-8")

    paths = AppPaths.default()
    store = _install_and_check(report, paths)
    det = store.open_detector(entry.id)
    assert det.letterbox_mode == "classic"
    dets = det.detect(read_rgb(parity_images[0]), conf_floor=0.05)
    assert all(0.0 <= d.bbox.x <= 1.0 and d.category in ("1", "2", "3") for d in dets)


@pytest.mark.parametrize("base,depth", [("ai4g-serengeti", 18), ("ai4g-opossum", 50)])
def test_classifier_build_from_pytorch_wildlife_layout(tmp_path: Path, parity_images: list[Path], base: str,
                                                       depth: int) -> None:
    entry = load_catalogue().get(base)
    n_out = 1 if len(entry.labels) == 2 else len(entry.labels)
    weights = _pw_checkpoint(tmp_path / entry.sources[0].filename, depth, n_out)
    report = build_pack(weights, entry, tmp_path / "packs", images=parity_images[:2], random_weights=True,
                        trust_unverified=True)
    p = report.parity
    assert p.passed and p.kind == "classification" and p.crops == 6 and p.top1_agree == 6
    assert p.max_prob_diff is not None and p.max_prob_diff < 1e-3
    assert not report.checksum.verified and "unverified" in report.checksum.note  # upstream publishes none
    prov = json.loads((report.pack_dir / "provenance.json").read_text(encoding="utf-8"))
    assert prov["isolated_process"] is True  # an unverified file: loaded, exported and run in a child process
    assert prov["tools"]["torch"] == torch.__version__  # as the child reported it
    assert report.manifest.extra_dict()["bundleable"] is True
    store = _install_and_check(report, AppPaths.default())
    clf = store.open_classifier(entry.id)
    assert clf.labels == entry.labels


def test_wrong_checkpoint_shape_is_refused(tmp_path: Path, parity_images: list[Path]) -> None:
    entry = load_catalogue().get("ai4g-serengeti")
    weights = _pw_checkpoint(tmp_path / "AI4GSnapshotSerengeti.ckpt", 18, 7)  # 7 classes, catalogue says 10
    with pytest.raises(ModelPackError, match="does not fit ResNet-18"):
        build_pack(weights, entry, tmp_path / "packs", images=parity_images[:1], trust_unverified=True)
    assert not (tmp_path / "packs" / entry.id).exists()


def test_corrupted_download_is_refused(tmp_path: Path, parity_images: list[Path]) -> None:
    entry = load_catalogue().get("mdv5a")
    fake = tmp_path / "md_v5a.0.0.pt"  # official file name, wrong content -> md5 differs from upstream's
    fake.write_bytes(b"truncated download")
    with pytest.raises(ModelPackError, match="Refusing md_v5a.0.0.pt.*ec1d7603ec8cf642d6e0cd008ba2be8c"):
        check_weights(fake, entry)
    with pytest.raises(ModelPackError, match="Refusing"):
        build_pack(fake, entry, tmp_path / "packs", images=parity_images[:1])
    assert not (tmp_path / "packs").exists() or not any((tmp_path / "packs").iterdir())


def test_unsupported_builder_says_why(tmp_path: Path, parity_images: list[Path]) -> None:
    entry = load_catalogue().get("mdv6-mit-yolov9-c")
    weights = tmp_path / "MDV6-mit-yolov9-c.ckpt"
    weights.write_bytes(b"x")
    with pytest.raises(ModelPackError, match="cannot convert it yet"):
        build_pack(weights, entry, tmp_path / "packs", images=parity_images[:1], trust_unverified=True)
