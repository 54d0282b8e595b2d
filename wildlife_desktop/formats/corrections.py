"""Camera and time corrections, stored apart from the images: ``.wildlife/corrections.json``.

The originals are never rewritten. What a person corrects per camera location (the folder
names the app shows, e.g. ``site1/camA``):

* ``time_offsets``: seconds added to every capture time of a location (a clock set wrong, a
  camera left on another time zone); sequences, dates in every export and Camtrap DP
  deployments are computed from the corrected times;
* ``deployments``: a named deployment per location (Camtrap DP ``deploymentID``), e.g. when
  one camera's card moved between folders.

The file is written atomically, under the folder's write lock, with a format version, and
every change is logged in it (``log``: who, when, what) so it says how the data were changed.
It sits in ``formats`` so that ``pipeline`` (exports) and ``review`` (sequences for smoothing)
both read it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..core.atomic import atomic_write_json
from ..core.errors import WildlifeError
from ..core.locks import write_lock
from ..core.records import Prediction

CORRECTIONS_FILENAME: Final = "corrections.json"
CORRECTIONS_FORMAT: Final = "wildlife-desktop-corrections"
CORRECTIONS_VERSION: Final = 1
_DT_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
_OFFSET_UNITS: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)
_OFFSET_CLOCK: Final = re.compile(r"^(\d{1,3}):(\d{2})(?::(\d{2}))?$")
_UNIT_S: Final = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class CorrectionError(WildlifeError):
    """A bad correction (the message is one line for the user)."""


@dataclass(frozen=True)
class Corrections:
    """A folder's corrections; empty when none were made."""

    time_offsets: Mapping[str, int] = field(default_factory=dict)  # location -> seconds to add
    deployments: Mapping[str, str] = field(default_factory=dict)  # location -> deployment name
    log: tuple[Mapping[str, Any], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.time_offsets or self.deployments)

    def offset(self, location: str) -> int:
        return int(self.time_offsets.get(location, 0))

    def deployment(self, location: str, default: str) -> str:
        return self.deployments.get(location) or default

    def shift(self, value: str | None, location: str) -> str | None:
        """A ``"YYYY-MM-DD HH:MM:SS"`` capture time corrected for its location (None stays None)."""
        seconds = self.offset(location)
        if not value or not seconds:
            return value
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return (parsed + dt.timedelta(seconds=seconds)).strftime(_DT_FORMAT)

    def apply(self, predictions: Mapping[str, Prediction], location_of: Callable[[str], str]) -> dict[str, Prediction]:
        """Predictions with corrected capture times (the same objects where nothing changes)."""
        if not self.time_offsets:
            return dict(predictions)
        out: dict[str, Prediction] = {}
        for rel, pred in predictions.items():
            value = pred.meta.datetime
            new = self.shift(value, location_of(rel)) if value else value
            out[rel] = pred if new == value else replace(pred, meta=replace(pred.meta, datetime=new))
        return out


def parse_offset(text: str) -> int:
    """``+2h``, ``-30m``, ``+1h30m``, ``-1d``, ``+01:00``, ``-90s`` or ``3600`` (seconds) -> seconds.

    Raises:
        CorrectionError: not an offset.
    """
    raw = text.strip()
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-").strip()
    if re.fullmatch(r"\d+", body):
        return sign * int(body)
    m = _OFFSET_CLOCK.match(body)
    if m:
        return sign * (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0))
    parts = _OFFSET_UNITS.findall(body)
    if not parts or _OFFSET_UNITS.sub("", body).strip():
        raise CorrectionError(f"{text!r} is not a time offset: use e.g. +2h, -30m, +1h30m, -1d, +01:00 or seconds.")
    return sign * round(sum(float(v) * _UNIT_S[u.lower()] for v, u in parts))


def format_offset(seconds: int) -> str:
    """``7200`` -> ``+2h``, ``-5400`` -> ``-1h30m``, ``0`` -> ``0``."""
    if not seconds:
        return "0"
    sign = "-" if seconds < 0 else "+"
    rest = abs(int(seconds))
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, rest = divmod(rest, size)
        out += f"{n}{unit}" if n else ""
    return sign + out


def corrections_path(state_dir: Path) -> Path:
    return Path(state_dir) / CORRECTIONS_FILENAME


def load_corrections(state_dir: Path) -> Corrections:
    """The folder's corrections (none when the file is missing).

    Raises:
        CorrectionError: the file is damaged or from a newer version of the app.
    """
    path = corrections_path(state_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Corrections()
    except (OSError, ValueError) as exc:
        raise CorrectionError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != CORRECTIONS_FORMAT:
        raise CorrectionError(f"{path} is not a corrections file.")
    if int(raw.get("version", 0)) > CORRECTIONS_VERSION:
        raise CorrectionError(f"{path} was written by a newer version of Wildlife Desktop.")
    try:
        offsets = {str(k): int(v) for k, v in (raw.get("time_offsets") or {}).items()}
        deps = {str(k): str(v) for k, v in (raw.get("deployments") or {}).items() if str(v).strip()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise CorrectionError(f"{path} is damaged: {exc}") from exc
    log = tuple(e for e in raw.get("log") or () if isinstance(e, dict))
    return Corrections(offsets, deps, log)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def update_corrections(state_dir: Path, change: Callable[[Corrections], Corrections], *, who: str = "",
                       what: str = "") -> Corrections:
    """Read, change and write the corrections under the folder's write lock; log ``what``."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    with write_lock(state_dir):
        new = change(load_corrections(state_dir))
        entry = {"time": _now(), "who": who, "what": what}
        new = replace(new, log=(*new.log, entry))
        atomic_write_json(corrections_path(state_dir), {
            "format": CORRECTIONS_FORMAT, "version": CORRECTIONS_VERSION,
            "time_offsets": dict(sorted(new.time_offsets.items())),
            "deployments": dict(sorted(new.deployments.items())), "log": list(new.log)})
    return new


def set_time_offset(state_dir: Path, location: str, seconds: int, *, who: str = "") -> Corrections:
    """Set (replace) the time offset of ``location``; ``0`` removes it."""
    def change(c: Corrections) -> Corrections:
        offsets = dict(c.time_offsets)
        offsets.pop(location, None)
        if seconds:
            offsets[location] = int(seconds)
        return replace(c, time_offsets=offsets)
    return update_corrections(state_dir, change, who=who, what=f"time offset {location} {format_offset(seconds)}")


def set_deployment(state_dir: Path, location: str, name: str, *, who: str = "") -> Corrections:
    """Assign ``location`` to the deployment ``name`` ("" removes the assignment)."""
    if any(ch in name for ch in "\n\r\t"):
        raise CorrectionError("A deployment name is one line of text.")

    def change(c: Corrections) -> Corrections:
        deps = dict(c.deployments)
        deps.pop(location, None)
        if name.strip():
            deps[location] = name.strip()
        return replace(c, deployments=deps)
    return update_corrections(state_dir, change, who=who, what=f"deployment {location} = {name.strip() or '(none)'}")
