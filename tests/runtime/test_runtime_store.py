"""Model store: import, list, get, verify, tamper detection, conflicts, removal, packs and zips."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelLoadError, ModelPackError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime import Detector, ModelStore, sha256_file
from wildlife_desktop.runtime.manifest import MANIFEST_NAME

from .conftest import DET_LABELS


def v10_output(score: float = 0.9) -> np.ndarray:
    rows = np.zeros((1, 300, 6), dtype=np.float32)
    rows[0, 0] = [64, 64, 320, 320, score, 0]
    return rows


@pytest.fixture
def v10(make_const_model: Callable[..., Path]) -> Path:
    return make_const_model("md-test.onnx", v10_output())


def test_import_list_get_open(store: ModelStore, v10: Path) -> None:
    m = store.import_onnx(v10, family="yolov10", labels=DET_LABELS, licence="MIT")
    assert (m.id, m.task, m.input_size, m.letterbox, m.random_weights) == ("md-test", "detection", 640,
                                                                           "square", False)
    assert m.sha256 == sha256_file(v10)
    assert [x.id for x in store.list()] == ["md-test"]
    got, path = store.get("md-test")
    assert got == m and path.read_bytes() == v10.read_bytes()
    assert path.parent.parent == store.root and (path.parent / MANIFEST_NAME).is_file()
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no temp dirs left
    det = store.open_detector("md-test", intra_threads=1)
    assert isinstance(det, Detector)
    out = det.detect(np.zeros((480, 640, 3), dtype=np.uint8))
    assert len(out) == 1 and out[0].confidence == 0.9
    with pytest.raises(ModelLoadError, match="not a classification model"):
        store.open_classifier("md-test")
    assert store.verify() == [("md-test", True, f"OK, sha256 {m.sha256[:12]}...")]


def test_tampered_file_is_refused(store: ModelStore, v10: Path) -> None:
    store.import_onnx(v10, family="yolov10", labels=DET_LABELS)
    store.open_detector("md-test")  # fine before the change
    _, path = store.get("md-test")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"Model 'md-test'.*re-import the model pack"):
        store.open_detector("md-test")
    [(ident, ok, msg)] = store.verify()
    assert ident == "md-test" and not ok and "does not match its manifest" in msg
    path.unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        store.open_detector("md-test")


def test_unknown_model_is_refused(store: ModelStore) -> None:
    with pytest.raises(ModelLoadError, match="not installed"):
        store.open_detector("nope")
    with pytest.raises(ModelLoadError, match="not installed"):
        store.remove("nope")


def test_duplicate_id_with_different_sha(store: ModelStore, make_const_model: Callable[..., Path],
                                         tmp_path: Path) -> None:
    first = make_const_model("a.onnx", v10_output(0.9))
    second = make_const_model("b.onnx", v10_output(0.7))
    store.import_onnx(first, family="yolov10", labels=DET_LABELS, model_id="md")
    store.import_onnx(first, family="yolov10", labels=DET_LABELS, model_id="md")  # same file: fine
    with pytest.raises(ModelPackError, match="different model with id 'md' is already installed"):
        store.import_onnx(second, family="yolov10", labels=DET_LABELS, model_id="md")
    assert store.get("md")[0].sha256 == sha256_file(first)
    m = store.import_onnx(second, family="yolov10", labels=DET_LABELS, model_id="md", replace=True)
    assert store.get("md")[0].sha256 == m.sha256 == sha256_file(second)
    assert store.open_detector("md").detect(np.zeros((64, 64, 3), dtype=np.uint8))[0].confidence == 0.7
    assert [x.id for x in store.list()] == ["md"]
    store.remove("md")
    assert store.list() == [] and list(store.root.iterdir()) == []


def test_non_onnx_file_is_refused(store: ModelStore, tmp_path: Path) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_text("this is not a neural network\n", encoding="utf-8")
    with pytest.raises(ModelPackError, match="not a valid ONNX model"):
        store.import_onnx(bogus, family="yolov10", labels=DET_LABELS)
    with pytest.raises(ModelPackError, match="not a model pack"):
        store.import_pack(bogus)
    assert store.list() == []


def test_bad_family_layout_and_dynamic_size(store: ModelStore, make_const_model: Callable[..., Path]) -> None:
    v10 = make_const_model("x.onnx", v10_output())
    with pytest.raises(ModelPackError, match="Unknown model family"):
        store.import_onnx(v10, family="yolo-nas", labels=DET_LABELS)
    with pytest.raises(ModelPackError, match="last dimension 8"):
        store.import_onnx(v10, family="yolov5", labels=DET_LABELS)
    dyn = make_const_model("dyn.onnx", v10_output(), input_shape=(1, 3, "h", "w"))
    with pytest.raises(ModelPackError, match="give input_size"):
        store.import_onnx(dyn, family="yolov10", labels=DET_LABELS)
    m = store.import_onnx(dyn, family="yolov10", labels=DET_LABELS, input_size=1280)
    assert (m.input_size, m.letterbox) == (1280, "classic")


def test_random_weights_metadata_forces_flag(
    store: ModelStore, make_const_model: Callable[..., Path]
) -> None:
    path = make_const_model("twin.onnx", v10_output(), metadata={"weights": "RANDOM weights, detect nothing"})
    m = store.import_onnx(path, family="yolov10", labels=DET_LABELS, random_weights=False)
    assert m.random_weights is True and store.get("twin")[0].random_weights is True
    assert store.open_detector("twin").random_weights is True


def test_import_pack_folder_and_zip(store: ModelStore, v10: Path, tmp_path: Path) -> None:
    m = store.import_onnx(v10, family="yolov10", labels=DET_LABELS, source_url="https://example.org/x")
    pack = tmp_path / "pack"
    shutil.copytree(store.root / m.id, pack)
    zpath = tmp_path / "pack.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in pack.iterdir():
            zf.write(f, f"md-test-pack/{f.name}")

    other = ModelStore(AppPaths.under(tmp_path / "other"))
    assert other.import_pack(pack) == m
    other.remove(m.id)
    assert other.import_pack(zpath) == m
    assert other.open_detector(m.id).detect(np.zeros((32, 32, 3), dtype=np.uint8))
    assert not [p for p in other.root.iterdir() if p.name.startswith(".")]

    # A pack whose file does not match its manifest is refused and leaves nothing behind.
    data = json.loads((pack / MANIFEST_NAME).read_text(encoding="utf-8"))
    data["sha256"] = "1" * 64
    data["id"] = "corrupt"
    (pack / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelPackError, match="does not match the manifest's sha256"):
        other.import_pack(pack)
    assert [x.id for x in other.list()] == [m.id]
    assert not [p for p in other.root.iterdir() if p.name.startswith(".")]
