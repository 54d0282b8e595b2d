"""The headless CLI as a user runs it (subprocesses): models, detect, kill -9 + resume, import, export."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fixtures.folders import make_card, real_jpegs
from tests.fixtures.md_validator import assert_valid_md
from tests.fixtures.tiny_onnx import tiny_yolov10

SIDECARS = ("recognitions.json", "coco_cameratraps.json", "detections.csv")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "wildlife_desktop", *args], cwd=REPO, capture_output=True,
                         text=True, env=os.environ.copy(), timeout=300)
    if check:
        assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
    return res


def _normalised(path: Path) -> object:
    if path.suffix == ".csv":
        return path.read_text(encoding="utf-8-sig")
    data = json.loads(path.read_text(encoding="utf-8"))
    for k in ("detection_completion_time", "classification_completion_time", "date_created"):
        data.get("info", {}).pop(k, None)
    return data


def test_models_import_list_verify_and_tamper(tmp_path: Path) -> None:
    onnx = tiny_yolov10(tmp_path / "tiny det.onnx")
    out = cli("models", "import", str(onnx), "--family", "yolov10", "--labels", "animal,person,vehicle",
              "--id", "tiny")
    assert "Installed tiny" in out.stdout
    listing = json.loads(cli("models", "list", "--json").stdout)
    assert [m["id"] for m in listing["models"]] == ["tiny"]
    assert cli("models", "verify").returncode == 0
    installed = Path(os.environ["WILDLIFE_DESKTOP_HOME"]) / "data" / "models" / "tiny"
    target = next(installed.glob("*.onnx"))
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    bad = cli("models", "verify", check=False)
    assert bad.returncode == 1 and "FAIL" in bad.stdout
    card = tmp_path / "card"
    card.mkdir()
    shutil.copy2(onnx, card / "not-a-picture.onnx")  # ignored: not a media file
    from PIL import Image

    Image.new("RGB", (64, 48)).save(card / "a.jpg")
    res = cli("detect", str(card), "--detector", "tiny", check=False)
    assert res.returncode == 1 and "error:" in res.stderr and "Traceback" not in res.stderr
    assert "tiny" in res.stderr and "import" in res.stderr.lower()  # says which model and what to do


def test_clear_errors_for_bad_arguments(tmp_path: Path) -> None:
    res = cli("detect", str(tmp_path / "does not exist"), "--detector", "x", check=False)
    assert res.returncode == 1 and "error:" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "card").mkdir()
    res = cli("detect", str(tmp_path / "card"), "--detector", "no-such-model", check=False)
    assert res.returncode == 1 and "no-such-model" in res.stderr
    res = cli("import-results", str(tmp_path / "card"), str(tmp_path / "missing.json"), check=False)
    assert res.returncode == 1 and "error:" in res.stderr


def _journal_lines(folder: Path) -> int:
    js = list((folder / ".wildlife" / "layers").glob("*/journal.jsonl"))
    if not js:
        return 0
    return max(0, js[0].read_bytes().count(b"\n") - 1)


def test_kill_9_at_several_points_then_resume_equals_uninterrupted(shared: Path, tmp_path: Path) -> None:
    twin = shared / "models" / "twins" / "twin-yolov10n-640-random.onnx"
    cli("models", "import", str(twin), "--family", "yolov10", "--labels", "animal,person,vehicle", "--id", "twin")
    ref = make_card(shared, tmp_path / "ref", n_good=40)
    run = make_card(shared, tmp_path / "run", n_good=40)
    args = ["--detector", "twin", "--threads", "1", "--checkpoint", "0.5"]
    done = cli("detect", str(ref), *args)
    assert "RANDOM WEIGHTS" in done.stderr or "random weights" in done.stderr

    kills = 0
    for stop_after in (2, 15, 30):
        proc = subprocess.Popen([sys.executable, "-m", "wildlife_desktop", "detect", str(run), *args], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        deadline = time.monotonic() + 120
        while proc.poll() is None and _journal_lines(run) < stop_after and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the run finished before it could be killed: make it slower"
    before = _journal_lines(run)
    res = cli("detect", str(run), *args)
    first = res.stderr.splitlines()
    assert any("already done" in line for line in first)
    assert before < 45
    for name in SIDECARS:
        assert _normalised(ref / name) == _normalised(run / name), name
    assert_valid_md(run)


def test_import_real_megadetector_results_then_export(shared: Path, tmp_path: Path) -> None:
    src = shared / "samples" / "lila_test_images"
    folder = tmp_path / "lila copy"
    shutil.copytree(src, folder)
    folder.chmod(0o755)  # the shared samples are read-only; copies keep that mode
    ref = json.loads((src / "md_v5a_reference_output.json").read_text(encoding="utf-8"))
    res = cli("import-results", str(folder), str(src / "md_v5a_reference_output.json"), "--json")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["imported"] == len(ref["images"]) and out["missing"] == 0
    md = json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))
    assert md["info"]["format_version"] == "1.5"
    got = {im["file"]: len(im["detections"] or []) for im in md["images"]}
    want = {im["file"]: len(im.get("detections") or []) for im in ref["images"]}
    assert got == want  # the MD sidecar keeps every stored box, like MegaDetector
    assert_valid_md(folder)
    # COCO/CSV apply the threshold; a stricter export keeps fewer rows
    rows_default = (folder / "detections.csv").read_text(encoding="utf-8-sig").count("\n")
    cli("export", str(folder), "--threshold", "0.8")
    rows_strict = (folder / "detections.csv").read_text(encoding="utf-8-sig").count("\n")
    assert rows_strict < rows_default
    n_above = sum(1 for im in ref["images"] for d in im.get("detections") or [] if d["conf"] >= 0.8)
    coco = json.loads((folder / "coco_cameratraps.json").read_text(encoding="utf-8"))
    assert sum(1 for a in coco["annotations"] if "bbox" in a) == n_above

    # every reference box (conf >= 0.005) survives in both sidecars, to within one pixel
    cli("export", str(folder), "--threshold", "0.005")
    md = json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))
    coco = json.loads((folder / "coco_cameratraps.json").read_text(encoding="utf-8"))
    sizes = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}
    ours_md = {im["file"]: im["detections"] for im in md["images"]}
    ours_coco: dict[str, list[dict]] = {}
    for a in coco["annotations"]:
        if "bbox" in a:
            ours_coco.setdefault(a["image_id"], []).append(a)
    n_checked = 0
    for im in ref["images"]:
        w, h = sizes[im["file"]]
        for d in im.get("detections") or []:
            if d["conf"] < 0.005:
                continue
            px = [d["bbox"][0] * w, d["bbox"][1] * h, d["bbox"][2] * w, d["bbox"][3] * h]
            assert any(
                m["category"] == d["category"] and abs(m["conf"] - d["conf"]) < 1e-3
                and all(abs(a * s - b * s) <= 1.0 for a, b, s in zip(m["bbox"], d["bbox"], (w, h, w, h), strict=True))
                for m in ours_md[im["file"]]
            ), (im["file"], d)
            assert any(
                abs(a.get("score", -1) - d["conf"]) < 1e-3
                and all(abs(p - q) <= 1.0 for p, q in zip(a["bbox"], px, strict=True))
                for a in ours_coco.get(im["file"], [])
            ), (im["file"], d)
            n_checked += 1
    assert n_checked > 50


def test_import_pytorch_wildlife_mdv6_results(shared: Path, tmp_path: Path) -> None:
    src = shared / "samples" / "caltech_cct"
    folder = tmp_path / "cct"
    shutil.copytree(src, folder)
    folder.chmod(0o755)
    res = cli("import-results", str(folder), str(src / "mdv6_yolov10c_pytorchwildlife_output.json"), "--json")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["imported"] > 0 and out["missing"] == 0
    md = json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))
    cars = [im for im in md["images"] if im["file"].startswith("car__") and im["detections"]]
    assert cars and all(d["category"] == "3" for im in cars for d in im["detections"])
    assert_valid_md(folder)


def test_scan_counts_and_unicode_paths(shared: Path, tmp_path: Path) -> None:
    card = make_card(shared, tmp_path / "Tarjeta SD ñ", n_good=3, video=True)
    out = json.loads(cli("scan", str(card), "--json").stdout)
    assert out["images"] == 3 + 4 + 1 and out["videos"] == 1  # good + bad files + PNG
    assert len(real_jpegs(shared, 3)) == 3


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_entry_points_run(argv: list[str]) -> None:
    assert cli(*argv).returncode == 0
