"""Folder scan: what is found, what is skipped, ordering, errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.pipeline.fixtures_media import make_jpeg
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.pipeline.scan import ScanResult, scan_folder


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture()
def card(tmp_path: Path) -> Path:
    root = tmp_path / "card"
    make_jpeg(root / "DCIM/100RECNX/IMG_0001.JPG")
    make_jpeg(root / "DCIM/101RECNX/IMG_0001.JPG")  # same name in the next overflow folder
    make_jpeg(root / "Kamera 1/ñandú 01.JPG")
    _touch(root / "a.jpeg")
    _touch(root / "b.PNG")
    _touch(root / "c.TiF")
    _touch(root / "zero.jpg", b"")  # zero-byte: kept, reported later as failed
    _touch(root / "clip.MP4")
    _touch(root / "clip2.avi")
    _touch(root / "notes.txt")
    _touch(root / "no_extension")
    # junk that must not be reported
    _touch(root / ".hidden.jpg")
    _touch(root / "._IMG_0001.JPG")
    _touch(root / "Thumbs.db")
    _touch(root / ".wildlife/cache/x.jpg")
    _touch(root / "__MACOSX/DCIM/._y.jpg")
    _touch(root / "__MACOSX/z.jpg")
    _touch(root / "$RECYCLE.BIN/del.jpg")
    _touch(root / "System Volume Information/sv.jpg")
    _touch(root / ".Trashes/t.jpg")
    return root


def test_finds_media_with_relative_forward_slash_paths(card: Path) -> None:
    res = scan_folder(card)
    assert isinstance(res, ScanResult)
    paths = [f.rel_path for f in res.files]
    assert paths == [
        "DCIM/100RECNX/IMG_0001.JPG",
        "DCIM/101RECNX/IMG_0001.JPG",
        "Kamera 1/ñandú 01.JPG",
        "a.jpeg",
        "b.PNG",
        "c.TiF",
        "clip.MP4",
        "clip2.avi",
        "zero.jpg",
    ]
    assert paths == sorted(paths)
    kinds = {f.rel_path: f.kind for f in res.files}
    assert kinds["clip.MP4"] == "video" and kinds["clip2.avi"] == "video"
    assert kinds["b.PNG"] == "image"
    zero = next(f for f in res.files if f.rel_path == "zero.jpg")
    assert zero.size == 0
    st = (card / "Kamera 1/ñandú 01.JPG").stat()
    uni = next(f for f in res.files if f.rel_path == "Kamera 1/ñandú 01.JPG")
    assert (uni.size, uni.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert res.n_images == 7 and res.n_videos == 2
    assert res.skipped == ()


def test_include_videos_false(card: Path) -> None:
    res = scan_folder(card, include_videos=False)
    assert all(f.kind == "image" for f in res.files)
    assert "clip.MP4" not in {f.rel_path for f in res.files}
    assert len(res.files) == 7


def test_ordering_is_plain_case_sensitive_string_order(tmp_path: Path) -> None:
    for name in ["b.jpg", "B.jpg", "a10.jpg", "a2.jpg", "a/z.jpg", "a-b.jpg"]:
        _touch(tmp_path / name)
    paths = [f.rel_path for f in scan_folder(tmp_path).files]
    assert paths == sorted(["b.jpg", "B.jpg", "a10.jpg", "a2.jpg", "a/z.jpg", "a-b.jpg"])
    assert paths[0] == "B.jpg"  # uppercase sorts first: no natural/locale sort


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    _touch(tmp_path / "cam/x.jpg")
    os.symlink(tmp_path, tmp_path / "cam/loop")  # dir symlink back to the root
    os.symlink(tmp_path / "cam/x.jpg", tmp_path / "cam/link.jpg")  # file symlink: reported
    os.symlink(tmp_path / "missing.jpg", tmp_path / "cam/dangling.jpg")
    res = scan_folder(tmp_path)
    assert [f.rel_path for f in res.files] == ["cam/link.jpg", "cam/x.jpg"]
    assert [p for p, _ in res.skipped] == ["cam/dangling.jpg"]


def test_unreadable_subfolder_is_skipped_or_read_as_root(tmp_path: Path) -> None:
    _touch(tmp_path / "ok/a.jpg")
    locked = tmp_path / "locked"
    _touch(locked / "b.jpg")
    locked.chmod(0)
    try:
        can_still_read = os.access(locked, os.R_OK)  # root ignores the mode bits
        res = scan_folder(tmp_path)
    finally:
        locked.chmod(0o755)
    paths = [f.rel_path for f in res.files]
    if can_still_read:
        assert paths == ["locked/b.jpg", "ok/a.jpg"] and res.skipped == ()
    else:
        assert paths == ["ok/a.jpg"]
        assert len(res.skipped) == 1 and res.skipped[0][0] == "locked"
        assert "cannot read folder" in res.skipped[0][1]


def test_bad_roots_raise_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        scan_folder(tmp_path / "nope")
    f = _touch(tmp_path / "file.jpg")
    with pytest.raises(DatasetError, match="Not a folder"):
        scan_folder(f)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # running as root: the mode does not block us
            assert scan_folder(locked).files == ()
        else:
            with pytest.raises(DatasetError, match="Cannot read folder"):
                scan_folder(locked)
    finally:
        locked.chmod(0o755)


def test_scan_many_files(tmp_path: Path) -> None:
    n_dirs, per_dir = 20, 500  # 10k files; the rate is printed for the report
    for d in range(n_dirs):
        folder = tmp_path / f"cam{d:02d}" / "100MEDIA"
        folder.mkdir(parents=True)
        for i in range(per_dir):
            (folder / f"IMG_{i:04d}.JPG").touch()
    t0 = time.perf_counter()
    res = scan_folder(tmp_path)
    dt = time.perf_counter() - t0
    assert len(res.files) == n_dirs * per_dir
    print(f"scan: {len(res.files)} files in {dt:.3f} s = {len(res.files) / dt:,.0f} files/s")
