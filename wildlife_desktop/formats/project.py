"""Project metadata: what the images cannot tell, asked once per folder and remembered.

Stored in ``<folder>/.wildlife/project.json`` (the folder's state directory, or its fallback
for a read-only card), written atomically, with a format version. Every export that needs it
reads it (Camtrap DP; the analysis tables and copies reuse the coordinates and precision).

Keys set from the CLI (``wildlife-desktop project set FOLDER key=value ...``) and the
*Camtrap DP* dialog:

* ``title``, ``description``, ``contributors`` (``"Name <email> (role); Other"``),
  ``data_licence`` / ``media_licence`` (SPDX id such as ``CC-BY-4.0``, or a URL);
* ``timezone``: UTC offset of the cameras' clocks, ``+02:00`` / ``-0530`` / ``Z``, or an IANA
  name (``Africa/Lusaka``) when this system knows it;
* ``coordinate_decimals``: locations are rounded to this many decimals in every shared export
  (default 2, about 1 km; ``-1`` keeps full precision);
* ``sampling_design``, ``capture_method`` (Camtrap DP vocabularies);
* ``location.<name>.lat`` / ``.lon`` / ``.uncertainty_m`` / ``.timezone``: per camera location
  (the folder names the app shows, e.g. ``site1/camA``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..core.atomic import atomic_write_json
from ..core.errors import WildlifeError

PROJECT_FILENAME: Final = "project.json"
PROJECT_FORMAT: Final = "wildlife-desktop-project"
PROJECT_VERSION: Final = 1
DEFAULT_COORDINATE_DECIMALS: Final = 2
SAMPLING_DESIGNS: Final = ("simpleRandom", "systematicRandom", "clusteredRandom", "experimental", "targeted",
                           "opportunistic")
CAPTURE_METHODS: Final = ("activityDetection", "timeLapse")
CONTRIBUTOR_ROLES: Final = ("contact", "principalInvestigator", "rightsHolder", "publisher", "contributor")
_OFFSET: Final = re.compile(r"^(?:Z|UTC|([+-])(\d{2}):?(\d{2}))$", re.IGNORECASE)
_CONTRIBUTOR: Final = re.compile(r"^\s*(?P<name>[^<(]*?)\s*(?:<(?P<email>[^>]*)>)?\s*(?:\((?P<role>[^)]*)\))?\s*$")


class ProjectError(WildlifeError):
    """A bad project value (the message is one line for the user)."""


@dataclass(frozen=True)
class Contributor:
    title: str
    email: str = ""
    role: str = "contributor"


@dataclass(frozen=True)
class LocationSettings:
    """What the user told us about one camera location."""

    latitude: float | None = None
    longitude: float | None = None
    uncertainty_m: int | None = None  # of the measured position, before any rounding
    timezone: str = ""  # overrides the project's


@dataclass(frozen=True)
class ProjectSettings:
    title: str = ""
    description: str = ""
    contributors: tuple[Contributor, ...] = ()
    data_licence: str = ""
    media_licence: str = ""
    timezone: str = ""
    coordinate_decimals: int = DEFAULT_COORDINATE_DECIMALS
    sampling_design: str = "opportunistic"
    capture_method: tuple[str, ...] = ("activityDetection",)
    locations: Mapping[str, LocationSettings] = field(default_factory=dict)

    def location(self, name: str) -> LocationSettings:
        return self.locations.get(name, LocationSettings())

    def timezone_for(self, location: str) -> str:
        return self.location(location).timezone or self.timezone


# ---------------------------------------------------------------------------------------------
# values


def parse_timezone(text: str, *, when: dt.datetime | None = None) -> dt.timezone:
    """A fixed UTC offset from ``+02:00``/``-0530``/``Z`` or an IANA name (at ``when``, for DST).

    Raises:
        ProjectError: not an offset, and not a time zone this system knows.
    """
    value = (text or "").strip()
    m = _OFFSET.match(value)
    if m:
        if not m.group(1):
            return dt.timezone.utc
        hours, minutes = int(m.group(2)), int(m.group(3))
        if hours > 14 or minutes >= 60:
            raise ProjectError(f"time zone {value!r}: offsets run from -14:00 to +14:00")
        delta = dt.timedelta(hours=hours, minutes=minutes)
        return dt.timezone(-delta if m.group(1) == "-" else delta)
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(value)
    except Exception as exc:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd keys
        raise ProjectError(f"time zone {value!r}: give a UTC offset such as +02:00, or a name such as "
                           "Africa/Lusaka") from exc
    offset = (when or dt.datetime.now()).replace(tzinfo=zone).utcoffset() or dt.timedelta(0)
    return dt.timezone(offset)


def parse_contributors(text: str) -> tuple[Contributor, ...]:
    """``"Ana Silva <ana@x.org> (contact); Field Team"`` → contributors (role default contributor)."""
    out: list[Contributor] = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        m = _CONTRIBUTOR.match(part)
        if not m or not m.group("name"):
            raise ProjectError(f"contributor {part.strip()!r}: write it as Name <email> (role)")
        role = (m.group("role") or "contributor").strip()
        if role not in CONTRIBUTOR_ROLES:
            raise ProjectError(f"contributor role {role!r}: one of {', '.join(CONTRIBUTOR_ROLES)}")
        out.append(Contributor(m.group("name").strip(), (m.group("email") or "").strip(), role))
    return tuple(out)


def format_contributors(contributors: Iterable[Contributor]) -> str:
    parts = []
    for c in contributors:
        text = c.title + (f" <{c.email}>" if c.email else "")
        parts.append(text + (f" ({c.role})" if c.role != "contributor" else ""))
    return "; ".join(parts)


def _float(key: str, value: str, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ProjectError(f"{key}: {value!r} is not a number") from None
    if not lo <= number <= hi:
        raise ProjectError(f"{key}: {value} is outside {lo:g}..{hi:g}")
    return number


def _int(key: str, value: str, lo: int, hi: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ProjectError(f"{key}: {value!r} is not a whole number") from None
    if not lo <= number <= hi:
        raise ProjectError(f"{key}: {value} is outside {lo}..{hi}")
    return number


def apply_settings(project: ProjectSettings, pairs: Mapping[str, str]) -> ProjectSettings:
    """``project`` with ``key=value`` pairs applied (see the module docstring for the keys).

    An empty value clears a key. Raises :class:`ProjectError` naming the first bad key.
    """
    changes: dict[str, Any] = {}
    locations = dict(project.locations)
    for key, raw in pairs.items():
        value = raw.strip()
        if key in ("title", "description", "data_licence", "media_licence"):
            changes[key] = value
        elif key == "contributors":
            changes[key] = parse_contributors(value)
        elif key == "timezone":
            if value:
                parse_timezone(value)
            changes[key] = value
        elif key == "coordinate_decimals":
            changes[key] = _int(key, value, -1, 6) if value else DEFAULT_COORDINATE_DECIMALS
        elif key == "sampling_design":
            if value not in SAMPLING_DESIGNS:
                raise ProjectError(f"sampling_design: one of {', '.join(SAMPLING_DESIGNS)}")
            changes[key] = value
        elif key == "capture_method":
            methods = tuple(m.strip() for m in value.split(",") if m.strip())
            if not methods or any(m not in CAPTURE_METHODS for m in methods):
                raise ProjectError(f"capture_method: one or more of {', '.join(CAPTURE_METHODS)}, comma-separated")
            changes[key] = methods
        elif key.startswith("location.") and key.count(".") >= 2:
            name, attr = key[len("location."):].rsplit(".", 1)
            loc = locations.get(name, LocationSettings())
            if attr == "lat":
                loc = replace(loc, latitude=_float(key, value, -90, 90) if value else None)
            elif attr == "lon":
                loc = replace(loc, longitude=_float(key, value, -180, 180) if value else None)
            elif attr == "uncertainty_m":
                loc = replace(loc, uncertainty_m=_int(key, value, 1, 10_000_000) if value else None)
            elif attr == "timezone":
                if value:
                    parse_timezone(value)
                loc = replace(loc, timezone=value)
            else:
                raise ProjectError(f"{key}: a location takes lat, lon, uncertainty_m or timezone")
            locations[name] = loc
        else:
            raise ProjectError(f"unknown project key {key!r} (title, description, contributors, data_licence, "
                               "media_licence, timezone, coordinate_decimals, sampling_design, capture_method, "
                               "location.NAME.lat|lon|uncertainty_m|timezone)")
    return replace(project, locations=locations, **changes)


def parse_pairs(items: Iterable[str]) -> dict[str, str]:
    """``["title=My study", "location.cam1.lat=-15.4"]`` → a dict (a bare word is an error)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ProjectError(f"{item!r}: write settings as key=value")
        out[key.strip()] = value
    return out


# ---------------------------------------------------------------------------------------------
# file


def project_path(state_dir: Path) -> Path:
    return Path(state_dir) / PROJECT_FILENAME


def to_dict(project: ProjectSettings) -> dict[str, Any]:
    locs = {}
    for name, loc in sorted(project.locations.items()):
        pairs = (("lat", loc.latitude), ("lon", loc.longitude), ("uncertainty_m", loc.uncertainty_m),
                 ("timezone", loc.timezone))
        entry = {k: v for k, v in pairs if v not in (None, "")}
        if entry:
            locs[name] = entry
    return {
        "format": PROJECT_FORMAT, "version": PROJECT_VERSION,
        "title": project.title, "description": project.description,
        "contributors": [{"title": c.title, "email": c.email, "role": c.role} for c in project.contributors],
        "data_licence": project.data_licence, "media_licence": project.media_licence,
        "timezone": project.timezone, "coordinate_decimals": project.coordinate_decimals,
        "sampling_design": project.sampling_design, "capture_method": list(project.capture_method),
        "locations": locs,
    }


def from_dict(raw: Any) -> ProjectSettings:
    """Read a stored project; unknown keys are ignored, bad values fall back to the defaults."""
    if not isinstance(raw, dict):
        raise ProjectError("project.json is not a JSON object")
    version = raw.get("version")
    if not isinstance(version, int) or version > PROJECT_VERSION:
        raise ProjectError(f"project.json has version {version!r}; this release reads up to {PROJECT_VERSION}")

    def text(key: str) -> str:
        value = raw.get(key)
        return value.strip() if isinstance(value, str) else ""

    def role(value: Any) -> str:
        return value if isinstance(value, str) and value in CONTRIBUTOR_ROLES else "contributor"

    contributors = tuple(
        Contributor(str(c.get("title", "")).strip(), str(c.get("email", "") or "").strip(),
                    role(c.get("role")))
        for c in raw.get("contributors") or () if isinstance(c, dict) and str(c.get("title", "")).strip()
    )
    locations: dict[str, LocationSettings] = {}
    for name, loc in (raw.get("locations") or {}).items():
        if not isinstance(loc, dict):
            continue
        lat, lon, unc = loc.get("lat"), loc.get("lon"), loc.get("uncertainty_m")
        locations[str(name)] = LocationSettings(
            latitude=float(lat) if isinstance(lat, (int, float)) and -90 <= lat <= 90 else None,
            longitude=float(lon) if isinstance(lon, (int, float)) and -180 <= lon <= 180 else None,
            uncertainty_m=int(unc) if isinstance(unc, int) and unc >= 1 else None,
            timezone=str(loc.get("timezone") or ""),
        )
    decimals = raw.get("coordinate_decimals")
    design = text("sampling_design")
    methods = tuple(m for m in raw.get("capture_method") or () if m in CAPTURE_METHODS)
    return ProjectSettings(
        title=text("title"), description=text("description"), contributors=contributors,
        data_licence=text("data_licence"), media_licence=text("media_licence"), timezone=text("timezone"),
        coordinate_decimals=decimals if isinstance(decimals, int) and -1 <= decimals <= 6
        else DEFAULT_COORDINATE_DECIMALS,
        sampling_design=design if design in SAMPLING_DESIGNS else "opportunistic",
        capture_method=methods or ("activityDetection",),
        locations=locations,
    )


def load_project(state_dir: Path) -> ProjectSettings:
    """The folder's project settings (defaults when none were saved yet)."""
    path = project_path(state_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ProjectSettings()
    except (OSError, ValueError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from exc
    return from_dict(raw)


def save_project(state_dir: Path, project: ProjectSettings) -> Path:
    """Write the settings atomically; return the file."""
    path = project_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, to_dict(project))
    return path


def round_coordinate(value: float, decimals: int) -> float:
    """``value`` rounded to ``decimals`` (``-1``: unchanged)."""
    return value if decimals < 0 else round(value, decimals)


def rounding_uncertainty_m(decimals: int, latitude: float) -> int:
    """Worst-case distance (m) a position moves when rounded to ``decimals``: half a grid cell's diagonal."""
    if decimals < 0:
        return 0
    import math

    step = 10.0 ** -decimals
    dy = 111_320.0 * step / 2
    dx = 111_320.0 * math.cos(math.radians(latitude)) * step / 2
    return max(1, math.ceil(math.hypot(dx, dy)))
