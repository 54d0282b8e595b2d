"""Atomic writes: a failure mid-write leaves the previous file untouched; streamed JSON is valid."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wildlife_desktop.core.atomic import atomic_open, atomic_write_json_streamed, atomic_write_text
from wildlife_desktop.core.errors import SidecarWriteError


def test_failure_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "recognitions.json"
    atomic_write_text(target, "old")

    def images() -> object:
        yield {"file": "a.jpg"}
        raise RuntimeError("disk pulled out")

    with pytest.raises(RuntimeError):
        atomic_write_json_streamed(target, {"info": {}}, {"images": images()})
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["recognitions.json"]  # no temp file left


def test_streamed_json_equals_the_object(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    head = {"info": {"format_version": "1.5", "name": "ñandú"}}
    lists = {"images": [{"file": f"cam/{i}.jpg", "detections": []} for i in range(3)], "empty": []}
    atomic_write_json_streamed(target, head, {k: iter(v) for k, v in lists.items()})
    assert json.loads(target.read_text(encoding="utf-8")) == {**head, **lists}


def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    missing = folder / "gone" / "x.csv"
    with pytest.raises(SidecarWriteError, match="Cannot write"), atomic_open(missing) as fh:
        fh.write("never")
    assert not missing.parent.exists()
    assert os.listdir(folder) == []
