"""Camera location and sequence (burst/episode) assignment, MegaDetector style.

``docs/formats.md`` §8.3: group files by location (camera folder with overflow folders
stripped), sort by capture time (missing times last, ties by path), and start a new
sequence when the gap to the previous file is > ``gap_s`` (60 s by default, the MD/LILA
convention) or the capture time is missing (a file without a time is a singleton).

Differences from MD's ``create_sequences`` (deliberate, documented):

* ``seq_id`` is ``"<location>/seq_00000"`` (readable, deterministic) instead of
  ``"location_<loc>_sequence_index_00000"``;
* overflow folders are matched case-insensitively and at any depth, including directly
  under the root (MD needs a leading ``/`` and exact case);
* files whose camera folder is the processed folder itself get the location
  :data:`ROOT_LOCATION` (``"(root)"``) rather than ``""``, so the location is never empty.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Final

from ..formats.bundle import SequenceInfo

#: Location of files that sit directly in the processed folder (or only in overflow folders).
ROOT_LOCATION: Final = "(root)"
#: Default gap between two frames of one sequence (seconds); MD's ``episode_interval_seconds``.
DEFAULT_GAP_S: Final = 60.0

#: Camera overflow folders (Reconyx, Bushnell, Browning, consumer cameras); see §8.2.
OVERFLOW_FOLDER_RE: Final = re.compile(r"\d+RECNX|\d+EK\d+|\d+_BTCF|\d+MEDIA|\d+DSCIM", re.IGNORECASE)
_EPOCH: Final = dt.datetime(1970, 1, 1)


def folder_location(folder: str) -> str:
    """Location of a folder (relative, forward slashes): overflow components removed.

    Args:
        folder: Relative folder path, ``""`` for the processed folder itself.

    Returns:
        The location, :data:`ROOT_LOCATION` if nothing remains.
    """
    parts = [p for p in folder.replace("\\", "/").split("/") if p and not OVERFLOW_FOLDER_RE.fullmatch(p)]
    return "/".join(parts) or ROOT_LOCATION


def camera_location(rel_path: str) -> str:
    """Camera location of a file, like MD's ``ct_utils.image_file_to_camera_folder``.

    Example: ``"cam1/100RECNX/IMG_0001.JPG"`` → ``"cam1"``; ``"IMG_0001.JPG"`` → ``"(root)"``.

    Args:
        rel_path: Path relative to the processed folder (forward or back slashes).

    Returns:
        The file's folder with overflow folders stripped, never empty.
    """
    path = rel_path.replace("\\", "/")
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    return folder_location(folder)


def _seconds(value: str | None) -> float | None:
    """``"YYYY-MM-DD HH:MM:SS"`` → seconds since 1970 (naive, no DST games); None if invalid."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.replace(tzinfo=None)
    return (parsed - _EPOCH).total_seconds()


def assign_sequences(
    entries: Iterable[tuple[str, str | None]], *, gap_s: float = DEFAULT_GAP_S
) -> dict[str, SequenceInfo]:
    """Assign every file to a sequence.

    O(n log n): one pass to group, one sort per location, one pass to cut. Duplicate
    paths: the last entry wins.

    Args:
        entries: ``(rel_path, datetime)`` with datetime ``"YYYY-MM-DD HH:MM:SS"`` or ``None``
            (an unparsable string counts as ``None``).
        gap_s: A gap strictly greater than this (seconds) starts a new sequence.

    Returns:
        ``rel_path`` → :class:`SequenceInfo` for every distinct input path.
    """
    times: dict[str, str | None] = dict(entries)
    folder_cache: dict[str, str] = {}
    secs_cache: dict[str, float | None] = {}
    timed: dict[str, list[tuple[float, str]]] = {}  # location -> (seconds, path)
    untimed: dict[str, list[str]] = {}  # location -> paths without a usable time
    for rel_path, value in times.items():
        folder = rel_path.replace("\\", "/").rpartition("/")[0]
        location = folder_cache.get(folder)
        if location is None:
            location = folder_cache[folder] = folder_location(folder)
        secs: float | None = None
        if value is not None:
            if value in secs_cache:  # bursts share timestamps; parsing is the costly part
                secs = secs_cache[value]
            else:
                secs = secs_cache[value] = _seconds(value)
        if secs is None:
            untimed.setdefault(location, []).append(rel_path)
        else:
            timed.setdefault(location, []).append((secs, rel_path))

    out: dict[str, SequenceInfo] = {}
    for location in sorted(timed.keys() | untimed.keys()):
        items = timed.get(location, [])
        items.sort()
        # Cut points: index i starts a new run when the gap to item i-1 exceeds gap_s.
        starts = [0] if items else []
        starts.extend(i for i in range(1, len(items)) if items[i][0] - items[i - 1][0] > gap_s)
        starts.append(len(items))
        seq_index = 0
        for a, b in zip(starts, starts[1:], strict=False):
            seq_id = f"{location}/seq_{seq_index:05d}"
            n = b - a
            for frame_num in range(n):
                out[items[a + frame_num][1]] = SequenceInfo(location, seq_id, frame_num, n)
            seq_index += 1
        for rel_path in sorted(untimed.get(location, ())):  # each one is a singleton, after the timed
            out[rel_path] = SequenceInfo(location, f"{location}/seq_{seq_index:05d}", 0, 1)
            seq_index += 1
    return out
