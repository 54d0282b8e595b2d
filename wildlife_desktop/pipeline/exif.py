"""EXIF metadata (capture time, camera, orientation) with exifread, fast and never raising.

Rules (``docs/formats.md`` §8.1, MegaDetector's ``read_exif``/``exif_results_to_cct``):

* capture time = ``DateTimeOriginal`` → ``DateTimeDigitized`` → IFD0 ``DateTime``,
  parsed with ``'%Y:%m:%d %H:%M:%S'`` and written as ``"YYYY-MM-DD HH:MM:SS"``;
* a date before 2001 (clock never set) or in the future is invalid → ``None``;
* ``Make``/``Model`` are stripped of padding (Reconyx pads with spaces, others with NULs);
* width/height are not read here (the decoder knows them for sure).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import exifread

from ..core.records import MediaMeta

log = logging.getLogger(__name__)

EXIF_DATETIME_FORMAT: Final = "%Y:%m:%d %H:%M:%S"
OUTPUT_DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
#: Dates before this year are a camera whose clock was never set (MD's default).
MIN_VALID_YEAR: Final = 2001
#: Tolerance for "in the future": camera clocks in another time zone than the laptop.
FUTURE_SLACK: Final = dt.timedelta(days=1)

_DATETIME_TAGS: Final = ("EXIF DateTimeOriginal", "EXIF DateTimeDigitized", "Image DateTime")
_OFFSET_RE: Final = re.compile(r"^[+-]\d{2}:\d{2}$|^Z$")


def parse_exif_datetime(value: str | None, *, now: dt.datetime | None = None) -> str | None:
    """Parse an EXIF date string; return ``"YYYY-MM-DD HH:MM:SS"`` or ``None`` if invalid.

    Args:
        value: Raw tag text such as ``"2019:06:01 06:00:02"`` (NULs/spaces tolerated;
            ``-`` or ``/`` as date separators tolerated, as some cameras write them).
        now: Reference "now" for the future check (default: the local clock).

    Returns:
        The normalised string, or ``None`` when unparsable, before 2001 or in the future.
    """
    if not value:
        return None
    text = value.strip().strip("\x00").strip()
    if len(text) < 19:
        return None
    text = text[:19]
    if text[4] in "-/" and text[7] in "-/":
        text = f"{text[:4]}:{text[5:7]}:{text[8:]}"
    try:
        parsed = dt.datetime.strptime(text, EXIF_DATETIME_FORMAT)
    except ValueError:
        return None
    if parsed.year < MIN_VALID_YEAR:
        return None
    if parsed > (now or dt.datetime.now()) + FUTURE_SLACK:
        return None
    return parsed.strftime(OUTPUT_DATETIME_FORMAT)


def _text(tags: dict[str, Any], key: str) -> str | None:
    tag = tags.get(key)
    if tag is None:
        return None
    values = getattr(tag, "values", None)
    text = values if isinstance(values, str) else str(tag)
    text = text.replace("\x00", " ").strip()
    return text or None


def _orientation(tags: dict[str, Any]) -> int:
    tag = tags.get("Image Orientation")
    if tag is None:
        return 1
    try:
        value = int(tag.values[0])
    except (AttributeError, IndexError, TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def read_meta(path: Path) -> MediaMeta:
    """Read capture time, camera make/model and orientation from a file's EXIF.

    Never raises for a missing, corrupt or unreadable file: whatever could be read is
    returned (possibly an all-default :class:`MediaMeta`). Decoding problems are the
    image loader's job to report.

    Args:
        path: Image file (JPEG or TIFF; PNG/others simply yield no EXIF).

    Returns:
        ``MediaMeta`` with ``datetime``, ``make``, ``model``, ``orientation``; width and
        height left ``None``.
    """
    try:
        with open(path, "rb") as fh:
            # details=False skips maker notes; stop after DateTimeOriginal (tags are read in
            # IFD order: IFD0 Make/Model/Orientation/DateTime come first, then the Exif IFD).
            tags = exifread.process_file(fh, details=False, stop_tag="DateTimeOriginal", extract_thumbnail=False)
    except Exception as exc:  # noqa: BLE001 - exifread raises many kinds on corrupt data
        log.debug("EXIF unreadable for %s: %s", path, exc)
        return MediaMeta()
    datetime: str | None = None
    for key in _DATETIME_TAGS:
        datetime = parse_exif_datetime(_text(tags, key))
        if datetime is not None:
            break
    return MediaMeta(
        datetime=datetime,
        make=_text(tags, "Image Make"),
        model=_text(tags, "Image Model"),
        orientation=_orientation(tags),
    )


@dataclass(frozen=True)
class ExifExtras:
    """Tags read only at export time (Camtrap DP): camera serial, GPS position, UTC offset."""

    serial: str = ""
    latitude: float | None = None
    longitude: float | None = None
    utc_offset: str = ""  # OffsetTimeOriginal (EXIF 2.31), e.g. "+02:00"


_OFFSET_TAGS: Final = ("EXIF OffsetTimeOriginal", "EXIF OffsetTimeDigitized", "EXIF OffsetTime")
_SERIAL_TAGS: Final = ("EXIF BodySerialNumber", "MakerNote SerialNumber", "Image CameraSerialNumber")


def _gps_degrees(tags: dict[str, Any], key: str, ref_key: str) -> float | None:
    tag, ref = tags.get(key), _text(tags, ref_key)
    try:
        d, m, s = (float(v.num) / float(v.den) for v in tag.values[:3])  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if ref and ref.upper()[:1] in ("S", "W") else value


def read_exif_extras(path: Path) -> ExifExtras:
    """Serial number, GPS position and UTC offset from a file's EXIF; never raises.

    Reads the whole EXIF block (the per-file read stops early for speed), so call it for a few
    files per camera, not every file. "Null island" (0, 0) is treated as no position, as MD does.
    """
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False, extract_thumbnail=False)
    except Exception as exc:  # noqa: BLE001 - exifread raises many kinds on corrupt data
        log.debug("EXIF unreadable for %s: %s", path, exc)
        return ExifExtras()
    offset = next((t for t in (_text(tags, k) for k in _OFFSET_TAGS) if t and _OFFSET_RE.match(t)), "")
    lat = _gps_degrees(tags, "GPS GPSLatitude", "GPS GPSLatitudeRef")
    lon = _gps_degrees(tags, "GPS GPSLongitude", "GPS GPSLongitudeRef")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        lat = lon = None
    serial = next((t for t in (_text(tags, k) for k in _SERIAL_TAGS) if t), "")
    return ExifExtras(serial=serial, latitude=lat, longitude=lon, utc_offset=offset)
