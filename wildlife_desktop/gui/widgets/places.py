"""Where the folder tree starts: the user's home, removable drives and recent folders.

A field user opens SD cards and folders under their home, never ``/proc``. The places are
computed here from plain data (mount points, a recent list) so the rules are testable without
real drives; :func:`mounted_roots` asks Qt for the mounts. Recent folders are kept in
``QSettings`` (an INI file under the app's config folder, see ``gui/app_settings.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PySide6.QtCore import QSettings, QStorageInfo

RECENT_KEY: Final[str] = "browse/recent_folders"
MAX_RECENT: Final[int] = 8
#: Mount points of removable drives and cards under these folders (Linux, macOS).
REMOVABLE_PARENTS: Final[tuple[str, ...]] = ("/media", "/mnt", "/run/media", "/Volumes")


@dataclass(frozen=True)
class Place:
    """One entry of the places list: ``root`` is shown in the tree; ``folder`` (recent) is opened."""

    kind: str  # "home" | "drive" | "recent"
    label: str
    root: Path
    folder: Path | None = None


def removable_roots(mounts: Iterable[tuple[str, str]], platform: str = sys.platform) -> list[tuple[str, str]]:
    """``(root path, name)`` of the mounts a user plugs in: drive letters on Windows, else mounts
    under /media, /mnt, /run/media or /Volumes (not the system disk, not /proc or /sys)."""
    out = []
    for root, name in mounts:
        norm = root.replace("\\", "/").rstrip("/") or "/"
        labelled = name.replace("\\", "/").rstrip("/") not in ("", norm)
        if platform.startswith("win"):
            letter = norm.rstrip(":") + ":"
            out.append((root, f"{name} ({letter})" if labelled else letter))
        elif any(norm.startswith(parent + "/") for parent in REMOVABLE_PARENTS) and norm != "/Volumes/Macintosh HD":
            out.append((root, name if labelled else Path(norm).name))
    return sorted(dict.fromkeys(out), key=lambda rn: rn[0].lower())


def mounted_roots() -> list[tuple[str, str]]:
    """Ready, valid mounts as ``(root path, display name)`` (Qt's view of the system)."""
    return [(v.rootPath(), v.displayName()) for v in QStorageInfo.mountedVolumes() if v.isValid() and v.isReady()]


def build_places(home: Path, drives: Sequence[tuple[str, str]], recent: Sequence[Path]) -> list[Place]:
    """Home first, then drives, then recent folders (shown from their parent, so the folder itself is a row)."""
    places = [Place("home", "Home", home)]
    places += [Place("drive", name, Path(root)) for root, name in drives]
    for folder in recent:
        places.append(Place("recent", folder.name or str(folder), folder.parent, folder))
    return places


def place_for(folder: Path, places: Sequence[Place]) -> Place | None:
    """The place whose tree shows ``folder``: the deepest home/drive holding it (not inside a hidden
    folder, which the tree does not list), else its recent entry."""
    best: Place | None = None
    for p in places:
        if p.kind == "recent":
            continue
        if folder == p.root or p.root in folder.parents:
            if any(part.startswith(".") for part in folder.relative_to(p.root).parts):
                continue  # the tree hides dot folders: show it from its recent entry instead
            if best is None or len(p.root.parts) > len(best.root.parts):
                best = p
    if best is not None:
        return best
    return next((p for p in places if p.kind == "recent" and p.folder == folder), None)


def recent_folders() -> list[Path]:
    value = QSettings().value(RECENT_KEY)
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [Path(str(x)) for x in items if str(x).strip()]


def remember_folder(folder: Path) -> list[Path]:
    """Put ``folder`` first in the recent list (kept to :data:`MAX_RECENT`, missing ones dropped)."""
    folder = Path(folder)
    items = [folder] + [f for f in recent_folders() if f != folder and f.is_dir()]
    items = items[:MAX_RECENT]
    QSettings().setValue(RECENT_KEY, [str(f) for f in items])
    return items
