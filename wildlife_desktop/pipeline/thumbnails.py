"""Qt-free thumbnail bytes with a disk cache keyed by (absolute path, size, mtime, px).

The GUI decodes thumbnails on a worker pool through :meth:`ThumbnailCache.get`; the cache
makes a second visit of a 100k-image folder cost one small file read per visible cell.
Cache files are JPEG bytes under ``AppPaths.thumbnails/<2 hex>/<sha1>.jpg`` (two-level
fan-out, because some file systems slow down with 100k entries in one folder), written
atomically so a killed process never leaves half a JPEG that later decodes as grey.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from ..core.atomic import atomic_write_bytes
from ..core.errors import ImageReadError, SidecarWriteError
from ..core.paths import AppPaths
from .images import thumbnail_bytes

#: Default edge length of a cached thumbnail, in pixels (the long side).
DEFAULT_PX: Final[int] = 256


def thumbnail_key(path: Path, size: int, mtime_ns: int, px: int) -> str:
    """Cache key of one thumbnail: sha1 of the absolute path, file size, mtime and edge length."""
    text = f"{os.path.abspath(path)}|{size}|{mtime_ns}|{px}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def make_thumbnail_bytes(path: Path, px: int = DEFAULT_PX) -> bytes:
    """Decode ``path`` at reduced size and return JPEG bytes whose long side is at most ``px``.

    :func:`wildlife_desktop.pipeline.images.thumbnail_bytes`, so the GUI and the core agree on
    EXIF orientation.

    Raises:
        ImageReadError: the file cannot be decoded.
    """
    return thumbnail_bytes(path, px)


class ThumbnailCache:
    """Disk cache of thumbnail JPEG bytes. Thread-safe: writes are atomic, reads are plain."""

    def __init__(self, root: Path, px: int = DEFAULT_PX) -> None:
        self.root = Path(root)
        self.px = px

    @classmethod
    def for_paths(cls, paths: AppPaths, px: int = DEFAULT_PX) -> ThumbnailCache:
        """The cache under ``paths.thumbnails``."""
        return cls(paths.thumbnails, px)

    def cache_path(self, path: Path, size: int, mtime_ns: int) -> Path:
        """Where the thumbnail of this exact file version lives (it may not exist yet)."""
        key = thumbnail_key(path, size, mtime_ns, self.px)
        return self.root / key[:2] / f"{key}.jpg"

    def cached(self, path: Path, size: int, mtime_ns: int) -> bytes | None:
        """Cached bytes, or None when this file version was never thumbnailed."""
        return _read_complete(self.cache_path(path, size, mtime_ns))

    def get(self, path: Path, size: int | None = None, mtime_ns: int | None = None) -> bytes:
        """Thumbnail bytes of ``path``, from the cache or freshly decoded (and then cached).

        ``size`` and ``mtime_ns`` come from the folder scan; when omitted they are read with
        one ``stat``. A cache that cannot be written (full disk) is ignored, never fatal.

        Raises:
            ImageReadError: the file is missing or cannot be decoded.
        """
        path = Path(path)
        if size is None or mtime_ns is None:
            try:
                st = path.stat()
            except OSError as exc:
                raise ImageReadError(f"Cannot read {path.name}: {exc.strerror or exc}") from exc
            size, mtime_ns = st.st_size, st.st_mtime_ns
        target = self.cache_path(path, size, mtime_ns)
        cached = _read_complete(target)
        if cached is not None:
            return cached
        data = make_thumbnail_bytes(path, self.px)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # No fsync per thumbnail (it stalled the decode threads on slow disks): a file cut
            # short by a power loss fails the JPEG-markers check in ``cached`` and is remade.
            atomic_write_bytes(target, data, durable=False)
        except (OSError, SidecarWriteError):
            pass  # a read-only or full cache only costs speed
        return data


def _read_complete(entry: Path) -> bytes | None:
    """A cache entry's bytes when it is a whole JPEG (start- and end-of-image markers), else None."""
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    return data if data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9" else None
