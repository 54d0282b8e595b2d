"""Packaging inputs, checked fast (the PyInstaller build itself is too slow for the suite).

``build.spec`` is executed with stand-ins for PyInstaller's spec globals, so the decisions it
encodes (two executables, console flags, upx off, excludes, flavours, bundled packs) are
checked without building anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from wildlife_desktop.cli.selftest_assets import write_selftest_pack

SPEC = REPO / "build.spec"


class _Rec:
    """Records the arguments of one PyInstaller spec object (Analysis, EXE, ...)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        self.pure, self.scripts, self.binaries, self.datas = [], [], [], []


def run_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, list[_Rec]]:
    for k in ("WILDLIFE_BUILD_LITE", "WILDLIFE_BUNDLED_PACKS"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda name, filter=None: [name]  # type: ignore[attr-defined]
    hooks.collect_dynamic_libs = lambda name, destdir=None: []  # type: ignore[attr-defined]
    hooks.collect_data_files = (  # type: ignore[attr-defined]
        lambda name, subdir=None, include_py_files=False: [(f"{name}/{subdir}/x.py", f"{name}/{subdir}")])
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name) or types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    made: dict[str, list[_Rec]] = {}

    def factory(kind: str) -> Any:
        def make(*args: Any, **kwargs: Any) -> _Rec:
            rec = _Rec(*args, **kwargs)
            made.setdefault(kind, []).append(rec)
            return rec
        return make

    g = {k: factory(k) for k in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    g |= {"SPECPATH": str(REPO), "workpath": str(tmp_path / "work"), "__name__": "__main__"}
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), g)
    return made


def test_spec_compiles() -> None:
    compile(SPEC.read_text(encoding="utf-8"), "build.spec", "exec")


def test_lite_build_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = run_spec(tmp_path, monkeypatch, WILDLIFE_BUILD_LITE="1")
    exes = {e.kwargs["name"]: e.kwargs for e in made["EXE"]}
    assert set(exes) == {"WildlifeDesktop", "wildlife-cli"}
    assert exes["WildlifeDesktop"]["console"] is False and exes["wildlife-cli"]["console"] is True
    assert all(e["upx"] is False and e["exclude_binaries"] is True for e in exes.values())  # onedir
    (coll,) = made["COLLECT"]
    assert coll.kwargs["upx"] is False and coll.kwargs["name"] == "WildlifeDesktop"
    gui, cli = made["Analysis"]
    assert Path(gui.args[0][0]).name == "gui_entry.py" and Path(cli.args[0][0]).name == "cli_entry.py"
    assert "wildlife_desktop.training.packs.cli_build" in cli.kwargs["hiddenimports"]  # clear "needs torch" error
    for a in (gui, cli):  # fine-tuning (numpy + ONNX + the int8 quantiser) in both; checkpoint conversion in neither
        assert {"wildlife_desktop.training.finetune", "onnxruntime.quantization"} <= set(a.kwargs["hiddenimports"])
        assert "wildlife_desktop.training.packs.build" in a.kwargs["excludes"]
    assert ("onnxruntime/transformers/x.py", "onnxruntime/transformers") in gui.kwargs["datas"]
    for a in (gui, cli):
        assert {"torch", "torchvision", "tkinter"} <= set(a.kwargs["excludes"])
        assert any(Path(h).name == "rthook_portable.py" for h in a.kwargs["runtime_hooks"])
    assert {"PySide6", "wildlife_desktop.gui"} <= set(cli.kwargs["excludes"])
    assert (str(REPO / "wildlife_desktop" / "assets"), "wildlife_desktop/assets") in gui.kwargs["datas"]
    assert not any(d.startswith("models/") for _, d in gui.kwargs["datas"])


def test_full_build_adds_a_torch_worker_only_when_torch_exists(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    made = run_spec(tmp_path, monkeypatch)
    names = [e.kwargs["name"] for e in made["EXE"]]
    if importlib.util.find_spec("torch") is None:
        assert names == ["WildlifeDesktop", "wildlife-cli"]
        return
    assert names == ["WildlifeDesktop", "wildlife-cli", "wildlife-train-worker"]
    worker = made["Analysis"][2]
    assert "torch" in worker.kwargs["hiddenimports"] and "torch" not in worker.kwargs["excludes"]
    assert "PySide6" in worker.kwargs["excludes"]
    assert "torch" in made["Analysis"][0].kwargs["excludes"]  # never in the GUI's archive


def test_bundled_packs_are_checked_and_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packs = tmp_path / "packs"
    write_selftest_pack(packs / "tiny")
    made = run_spec(tmp_path, monkeypatch, WILDLIFE_BUILD_LITE="1", WILDLIFE_BUNDLED_PACKS=str(packs))
    shipped = sorted((Path(s).name, d) for s, d in made["Analysis"][0].kwargs["datas"] if d.startswith("models/"))
    assert shipped == [("manifest.json", "models/tiny"), ("selftest_yolov10.onnx", "models/tiny")]
    onnx = packs / "tiny" / "selftest_yolov10.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"x")
    with pytest.raises(SystemExit, match="does not match its sha256"):
        run_spec(tmp_path, monkeypatch, WILDLIFE_BUILD_LITE="1", WILDLIFE_BUNDLED_PACKS=str(packs))


def test_packaging_files_exist() -> None:
    for rel in ("installers/pyinstaller/rthook_portable.py", "installers/pyinstaller/rthook_ort_dlls.py",
                "installers/windows/version_info.txt.in", "installers/windows/wildlife_desktop.iss",
                "installers/macos/entitlements.plist", "installers/linux/AppRun", "resources/app.ico",
                "resources/app.png"):
        assert (REPO / rel).is_file(), rel
    assert os.access(REPO / "installers/linux/AppRun", os.X_OK)
    iss = (REPO / "installers/windows/wildlife_desktop.iss").read_text(encoding="utf-8")
    assert "AppId={{E8F755F8-3241-4B11-961A-AB9644C1EA8B}" in iss and "{#VERSION}" in iss


def test_selftest_pack_is_small_consistent_and_reproducible(tmp_path: Path) -> None:
    first = write_selftest_pack(tmp_path / "a")
    man = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    onnx = first / man["file"]
    assert onnx.stat().st_size < 50_000
    assert hashlib.sha256(onnx.read_bytes()).hexdigest() == man["sha256"]
    again = write_selftest_pack(tmp_path / "b")
    assert (again / man["file"]).read_bytes() == onnx.read_bytes()  # same bytes, same sha256 every time


def test_portable_runtime_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = str(REPO / "installers" / "pyinstaller" / "rthook_portable.py")
    monkeypatch.delenv("WILDLIFE_DESKTOP_HOME")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "WildlifeDesktop"))
    runpy.run_path(hook)
    assert "WILDLIFE_DESKTOP_HOME" not in os.environ  # installed copy: platform folders
    (tmp_path / "portable.txt").write_text("", encoding="utf-8")
    runpy.run_path(hook)
    assert os.environ["WILDLIFE_DESKTOP_HOME"] == str(tmp_path / "data") and (tmp_path / "data").is_dir()
    monkeypatch.setenv("WILDLIFE_DESKTOP_HOME", "/explicit")
    runpy.run_path(hook)
    assert os.environ["WILDLIFE_DESKTOP_HOME"] == "/explicit"  # an explicit home always wins


def test_windows_version_resource_template_evaluates() -> None:
    """PyInstaller evals this text with its versioninfo classes (loadable on Windows only): stand-ins here."""
    text = (REPO / "installers/windows/version_info.txt.in").read_text(encoding="utf-8")
    text = text.replace("{version_tuple}", repr((0, 1, 0, 0))).replace("{version}", "0.1.0")
    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo",
             "VarStruct")
    made: dict[str, list[Any]] = {}

    def stand_in(name: str) -> Any:
        def make(*args: Any, **kwargs: Any) -> tuple[str, Any, Any]:
            made.setdefault(name, []).append((args, kwargs))
            return name, args, kwargs
        return make

    eval(text, {n: stand_in(n) for n in names})  # noqa: S307 - the template is ours
    assert made["FixedFileInfo"][0][1]["filevers"] == (0, 1, 0, 0)
    strings = {a[0]: a[1] for a, _ in made["StringStruct"]}
    assert strings["FileVersion"] == strings["ProductVersion"] == "0.1.0"
    assert strings["OriginalFilename"] == "WildlifeDesktop.exe"
