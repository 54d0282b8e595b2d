"""Camera serial numbers per folder, to catch swapped cards (``review cameras``).

A serial comes from EXIF ``BodySerialNumber``, ``Image CameraSerialNumber`` or the maker notes
(exifread parses some makers' notes, Reconyx's among them, when ``details`` is on, which the
per-file read leaves off for speed). Reading every file's whole EXIF is slow, so an evenly
spaced sample of each camera location is read (``per_location``, default 40, first and last
files included). Flagged: a location whose files carry several serials (a card from another
camera was copied into it) and a serial seen in several locations (one camera, two folders).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import exifread

from .sequences import camera_location

log = logging.getLogger(__name__)
_SERIAL_TAGS: Final = ("EXIF BodySerialNumber", "Image CameraSerialNumber", "MakerNote SerialNumber",
                       "MakerNote InternalSerialNumber", "MakerNote CameraSerialNumber")


def read_serial(path: Path) -> str:
    """The camera's serial number in a file's EXIF (maker notes included), "" when none; never raises."""
    try:
        with open(path, "rb") as fh:
            tags: dict[str, Any] = exifread.process_file(fh, details=True, extract_thumbnail=False)
    except Exception as exc:  # noqa: BLE001 - exifread raises many kinds on corrupt data
        log.debug("EXIF unreadable for %s: %s", path, exc)
        return ""
    for key in _SERIAL_TAGS:
        tag = tags.get(key)
        if tag is None:
            continue
        values = getattr(tag, "values", None)
        text = (values if isinstance(values, str) else str(tag)).replace("\x00", " ").strip()
        if text and text not in ("0", "[]"):
            return text
    return ""


@dataclass(frozen=True)
class LocationSerials:
    location: str
    files: int
    read: int
    serials: dict[str, list[str]]  # serial -> the sampled files carrying it ("" = no serial)

    @property
    def mixed(self) -> bool:
        return len([s for s in self.serials if s]) > 1


@dataclass(frozen=True)
class CameraReport:
    locations: tuple[LocationSerials, ...]
    shared: dict[str, list[str]]  # serial -> locations, for serials seen in more than one


def _spread(files: list[str], n: int) -> list[str]:
    if len(files) <= n:
        return files
    step = (len(files) - 1) / (n - 1)
    return [files[round(i * step)] for i in range(n)]


def camera_serials(folder: Path, rel_paths: Iterable[str], *, per_location: int = 40) -> CameraReport:
    """Serials of an evenly spaced sample of each location's images (see the module docstring)."""
    by_loc: dict[str, list[str]] = {}
    for rel in sorted(rel_paths):
        by_loc.setdefault(camera_location(rel), []).append(rel)
    out = []
    where: dict[str, set[str]] = {}
    for loc, files in sorted(by_loc.items()):
        serials: dict[str, list[str]] = {}
        sample = _spread(files, max(2, per_location))
        for rel in sample:
            s = read_serial(Path(folder) / rel)
            serials.setdefault(s, []).append(rel)
            if s:
                where.setdefault(s, set()).add(loc)
        out.append(LocationSerials(loc, len(files), len(sample), serials))
    shared = {s: sorted(locs) for s, locs in sorted(where.items()) if len(locs) > 1}
    return CameraReport(tuple(out), shared)
