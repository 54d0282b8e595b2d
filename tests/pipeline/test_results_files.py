"""``load_results(files=...)``: a caller that already scanned the folder is not rescanned."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox, Detection, MediaMeta, Prediction
from wildlife_desktop.pipeline import results as results_mod
from wildlife_desktop.pipeline.journal import LayerInfo, Workspace
from wildlife_desktop.pipeline.scan import scan_folder


def _folder_with_layer(tmp_path: Path) -> tuple[Path, AppPaths]:
    folder = tmp_path / "card"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / name).write_bytes(b"\xff\xd8\xff\xd9" + name.encode())
    paths = AppPaths.under(tmp_path / "home")
    ws = Workspace.locate(folder, paths, create=True)
    assert ws is not None
    lid = ws.ensure_layer(LayerInfo(source="run", detector="x.onnx"))
    ws.set_active(lid)
    journal = ws.journal(lid)
    for f in scan_folder(folder).files:
        det = Detection("1", 0.8, BBox(0.1, 0.1, 0.2, 0.2))
        journal.append(f.key, Prediction(f.rel_path, "image", MediaMeta(10, 10), (det,)))
    journal.close()
    return folder, paths


def test_given_files_match_a_rescan_and_skip_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, paths = _folder_with_layer(tmp_path)
    files = scan_folder(folder).files
    rescanned = results_mod.load_results(folder, paths)

    def no_scan(*_a: object, **_k: object) -> None:
        raise AssertionError("load_results rescanned the folder although files were given")

    monkeypatch.setattr(results_mod, "scan_folder", no_scan)
    given = results_mod.load_results(folder, paths, files=files)
    assert rescanned is not None and given is not None
    assert given.predictions == rescanned.predictions and set(given.predictions) == {"a.jpg", "b.jpg"}
    assert given.total_files == rescanned.total_files == 2
    # files given = what is on disk now: a file missing from them is not part of the results
    only_a = results_mod.load_results(folder, paths, files=[f for f in files if f.rel_path == "a.jpg"])
    assert only_a is not None and set(only_a.predictions) == {"a.jpg"} and only_a.total_files == 1
