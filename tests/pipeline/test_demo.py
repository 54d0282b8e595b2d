"""The demo opens a private copy of the sample, never the sample itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.demo import SAMPLE_RESULTS, prepare_demo


def _read_only_sample(tmp_path: Path) -> Path:
    src = tmp_path / "shared" / "samples" / "lila_test_images"
    src.mkdir(parents=True)
    (src / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (src / SAMPLE_RESULTS).write_text('{"images": []}', encoding="utf-8")
    for p in (*src.iterdir(), src):
        os.chmod(p, 0o555 if p.is_dir() else 0o444)
    return src


def test_demo_is_a_writable_copy_and_results_import_only_once(tmp_path: Path) -> None:
    src = _read_only_sample(tmp_path)
    paths = AppPaths.under(tmp_path / "home")
    first = prepare_demo(paths, src)
    assert first is not None and first.folder != src
    assert first.folder.is_relative_to(paths.data)
    assert (first.folder / "a.jpg").read_bytes() == (src / "a.jpg").read_bytes()
    assert first.import_json == first.folder / SAMPLE_RESULTS
    (first.folder / ".wildlife").mkdir()  # what opening the folder writes; goes to the copy
    (first.folder / "a.jpg").write_bytes(b"changed")  # the copy is writable
    second = prepare_demo(paths, src)
    assert second is not None and second.folder == first.folder and second.import_json is None
    assert (src / "a.jpg").read_bytes() == b"\xff\xd8 not really a jpeg"
    assert sorted(p.name for p in src.iterdir()) == ["a.jpg", SAMPLE_RESULTS]  # nothing written into it
    for p in (*src.iterdir(), src):
        os.chmod(p, 0o755)
    shutil.rmtree(src)


def test_no_sample_means_no_demo(tmp_path: Path) -> None:
    assert prepare_demo(AppPaths.under(tmp_path), tmp_path / "missing") is None
