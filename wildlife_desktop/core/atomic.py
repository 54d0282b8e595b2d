"""Atomic file writes: write a temp file in the same folder, fsync, then ``os.replace``.

A reader (or Timelapse) never sees a half-written file, and a process killed mid-write
leaves the previous version intact. The temp file lives in the destination folder because
``os.replace`` is only atomic within one file system.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import SidecarWriteError


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; outputs must get the permissions any new file would get.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str, *, durable: bool = True, **kwargs: Any) -> Iterator[IO[Any]]:
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SidecarWriteError(f"Cannot write in {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), _FILE_MODE)
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SidecarWriteError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_open(path: Path, *, newline: str | None = None) -> contextlib.AbstractContextManager[IO[str]]:
    """A UTF-8 text file handle whose content replaces ``path`` atomically when the block ends.

    For outputs too large to build in memory first (a 1M-image sidecar): write piece by piece.
    If the block raises, the temp file is removed and ``path`` is left as it was.

    Raises:
        SidecarWriteError: the folder is missing, read-only or full.
    """
    return _atomic_file(path, "w", encoding="utf-8", newline=newline)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically.

    ``durable=False`` skips the ``fsync`` (a cache: after a power cut the file may be empty
    or short, never half-replaced; its reader must treat that as a miss).

    Raises:
        SidecarWriteError: the folder is missing, read-only or full.
    """
    with _atomic_file(path, "wb", durable=durable) as fh:
        fh.write(data)


def atomic_write_json_streamed(path: Path, head: dict[str, Any], lists: dict[str, Iterable[Any]]) -> None:
    """Write ``{**head, **lists}`` as JSON atomically, one list element per line.

    The lists are consumed lazily, so memory stays flat however many images a folder has.
    """
    with atomic_open(path) as fh:
        fh.write("{")
        first = True
        for key, value in head.items():
            fh.write(("" if first else ",") + "\n" + json.dumps(key) + ": "
                     + json.dumps(value, indent=1, ensure_ascii=False))
            first = False
        for key, items in lists.items():
            fh.write(("" if first else ",") + "\n" + json.dumps(key) + ": [")
            sep = "\n"
            for item in items:
                fh.write(sep + json.dumps(item, ensure_ascii=False))
                sep = ",\n"
            fh.write("\n]")
            first = False
        fh.write("\n}\n")


#: The temp files :func:`_atomic_file` makes: ``.<name>.<8 random characters>.tmp``.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def remove_stale_temps(folder: Path, names: Iterable[str] | None = None) -> list[Path]:
    """Delete the temp files a killed process left in ``folder`` by our atomic writes.

    A ``kill -9`` (or power cut) during a write leaves ``.recognitions.json.k3j9x2ab.tmp`` behind
    (tens of MB for a large folder). Only names matching our temp pattern are touched, and with
    ``names`` only those of these destination files. The caller must hold the lock under which
    those files are written, so no live write loses its temp file.

    Returns:
        The files removed (files that vanish meanwhile or cannot be removed are skipped).
    """
    wanted = None if names is None else set(names)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or (wanted is not None and m["name"] not in wanted):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, *, indent: int | None = 1) -> None:
    """Serialise ``obj`` as UTF-8 JSON and write it atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def is_writable_dir(folder: Path) -> bool:
    """True when we may and can create files in ``folder``.

    A folder with no write permission bits at all counts as read-only even for root/admin
    accounts (which bypass the bits): its owner made it read-only on purpose. Otherwise we
    really create a probe file, because ``os.access`` lies on some mounts (write-locked SD
    cards, network shares).
    """
    try:
        if os.stat(folder).st_mode & 0o222 == 0:
            return False
    except OSError:
        return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=".wd-probe.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return True
