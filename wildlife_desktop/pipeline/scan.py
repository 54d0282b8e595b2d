"""Recursive folder scan: find every image/video on a card without opening any file.

The scan is ``os.scandir`` based (one ``stat`` per entry, served from the directory listing
on Windows), so 100k files take a few seconds even on a slow laptop. It never follows
directory symlinks (no loops), skips hidden and OS-junk entries and our own ``.wildlife``
folder, and *keeps* zero-byte files: they are reported as failures later, never silently
dropped. Paths are relative to the root, with forward slashes, and sorted by plain
case-sensitive string order so the order is the same on every OS.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..core.errors import DatasetError
from ..core.records import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, MediaFile, MediaKind

#: Folder names never descended into (compared case-insensitively). Dot-names are skipped too.
JUNK_DIRS: Final[frozenset[str]] = frozenset(
    {"__macosx", "$recycle.bin", "system volume information", ".wildlife", ".trashes", ".spotlight-v100"}
)
#: File names never reported (compared case-insensitively). ``._*`` and dot-files are skipped too.
JUNK_FILES: Final[frozenset[str]] = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})


@dataclass(frozen=True)
class ScanResult:
    """Outcome of :func:`scan_folder`.

    Attributes:
        files: Media files found, sorted by ``rel_path`` (plain string order).
        skipped: ``(relative path, reason)`` for folders/files that could not be read,
            sorted by path. The root itself is never in here (it raises instead).
    """

    files: tuple[MediaFile, ...]
    skipped: tuple[tuple[str, str], ...]

    @property
    def n_images(self) -> int:
        """Number of still images found."""
        return sum(1 for f in self.files if f.kind == "image")

    @property
    def n_videos(self) -> int:
        """Number of videos found."""
        return sum(1 for f in self.files if f.kind == "video")


def _is_junk(name: str, is_dir: bool) -> bool:
    if name.startswith("."):  # hidden files/folders, AppleDouble "._x.jpg", ".wildlife"
        return True
    lower = name.lower()
    return lower in JUNK_DIRS if is_dir else lower in JUNK_FILES


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def _check_root(root: Path) -> None:
    try:
        st = root.stat()
    except FileNotFoundError:
        raise DatasetError(f"Folder not found: {root}") from None
    except OSError as exc:
        raise DatasetError(f"Cannot open folder {root}: {_reason(exc)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise DatasetError(f"Not a folder: {root}")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise DatasetError(f"Cannot read folder {root}: {_reason(exc)}") from None


def scan_folder(root: Path, *, include_videos: bool = True) -> ScanResult:
    """Find every image (and optionally video) under ``root``.

    Args:
        root: The folder to scan (e.g. an SD card's ``DCIM`` or the card itself).
        include_videos: Also report files with a :data:`VIDEO_EXTENSIONS` extension.

    Returns:
        A :class:`ScanResult`; unreadable subfolders and files end up in ``skipped``.

    Raises:
        DatasetError: ``root`` does not exist, is not a folder, or cannot be listed.
    """
    root = Path(root)
    _check_root(root)
    files: list[MediaFile] = []
    skipped: list[tuple[str, str]] = []
    # Iterative DFS over (absolute dir, relative prefix with trailing "/" or "").
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        dir_path, prefix = stack.pop()
        try:
            it = os.scandir(dir_path)
        except OSError as exc:
            skipped.append((prefix.rstrip("/"), f"cannot read folder: {_reason(exc)}"))
            continue
        with it:
            while True:
                try:
                    entry = next(it)
                except StopIteration:
                    break
                except OSError as exc:  # listing broke half-way (I/O error on a flaky card)
                    skipped.append((prefix.rstrip("/"), f"folder listing incomplete: {_reason(exc)}"))
                    break
                name = entry.name
                rel = prefix + name
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError as exc:
                    skipped.append((rel, _reason(exc)))
                    continue
                if _is_junk(name, is_dir):
                    continue
                if is_dir and getattr(entry, "is_junction", lambda: False)():
                    continue  # Windows junction (Python >= 3.12): may loop, treat like a symlink
                if is_dir:
                    stack.append((entry.path, rel + "/"))
                    continue
                ext = os.path.splitext(name)[1].lower()
                if ext in IMAGE_EXTENSIONS:
                    kind: MediaKind = "image"
                elif include_videos and ext in VIDEO_EXTENSIONS:
                    kind = "video"
                else:
                    continue
                try:
                    st = entry.stat()  # follows file symlinks; a dangling one lands in skipped
                except OSError as exc:
                    skipped.append((rel, _reason(exc)))
                    continue
                if not stat.S_ISREG(st.st_mode):
                    if stat.S_ISDIR(st.st_mode):  # symlink to a folder named like a file: not followed
                        continue
                    skipped.append((rel, "not a regular file"))
                    continue
                files.append(MediaFile(rel_path=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, kind=kind))
    files.sort(key=lambda f: f.rel_path)
    skipped.sort()
    return ScanResult(files=tuple(files), skipped=tuple(skipped))
