"""Can the window open here? Checked before the ``QApplication`` exists, in a few milliseconds.

Without a display, or with the X11 libraries Qt's ``xcb`` plugin needs missing (a fresh Debian
or Ubuntu), Qt prints several lines about plugins and aborts the process (exit code 134). This
module finds those cases first and says, in one sentence, what is missing and which Debian
packages bring it (the README lists them all). Only Linux is checked: Windows and macOS always
have their platform plugin.

The library check loads the ``xcb`` plugin the way Qt would (``dlopen`` via ctypes): the
loader names the first missing library, and the known X11 libraries are then tried one by one
so the sentence lists every missing package at once.
"""

from __future__ import annotations

import ctypes
import os
import re
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

#: Libraries the xcb platform plugin of Qt 6 loads, with the Debian/Ubuntu package of each.
XCB_PACKAGES: Final[dict[str, str]] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
_SONAME = re.compile(r"(lib[\w.+-]+?\.so(?:\.\d+)*)")

Loader = Callable[[str], object]


def _xcb_plugin() -> Path | None:
    try:
        import PySide6  # the package only: no Qt library is loaded by this import
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_xcb_libraries(plugin: Path | None = None, load: Loader = ctypes.CDLL) -> list[str]:
    """Sonames the xcb plugin needs and the system lacks ([] when the plugin loads, or is not found)."""
    plugin = plugin if plugin is not None else _xcb_plugin()
    if plugin is None:
        return []
    try:
        load(str(plugin))
        return []
    except OSError as exc:
        first = _SONAME.search(str(exc))
    missing = [first.group(1)] if first and first.group(1) != plugin.name else []
    for soname in XCB_PACKAGES:
        if soname in missing:
            continue
        try:
            load(soname)
        except OSError:
            missing.append(soname)
    return missing


def _x_server_reachable(display: str) -> bool:
    """A local display (``:0``, ``:99.0``) has a socket that accepts; remote ones are assumed reachable."""
    m = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display.strip())
    if m is None:
        return True
    path = f"/tmp/.X11-unix/X{m.group(1)}"
    for address in ("\0" + path, path):  # Linux servers also listen on the abstract socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            try:
                s.connect(address)
                return True
            except OSError:
                continue
    return False


def display_problem(env: Mapping[str, str] | None = None, platform: str = sys.platform,
                    load: Loader = ctypes.CDLL, plugin: Path | None = None) -> str | None:
    """One sentence saying why the window cannot open here, or None when it can (or we cannot tell).

    Args:
        env: the environment (default ``os.environ``).
        platform: ``sys.platform``; only Linux is checked.
        load: the library loader (a test double in tests).
        plugin: the xcb plugin file (default: PySide6's).
    """
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").strip().lower()
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: the user chose; Qt reports on its own
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None  # Qt picks its Wayland plugin
    display = env.get("DISPLAY", "")
    if not display:
        return ("No display found (DISPLAY and WAYLAND_DISPLAY are not set): start Wildlife Desktop from a "
                "desktop session, use the command line (wildlife-desktop --help), or set "
                "QT_QPA_PLATFORM=offscreen for --screenshot.")
    missing = missing_xcb_libraries(plugin, load)
    if missing:
        packages = " ".join(dict.fromkeys(XCB_PACKAGES.get(s, s) for s in missing))
        return (f"The window needs X11 libraries that are not installed ({', '.join(missing)}): on Debian or "
                f"Ubuntu run: sudo apt-get install {packages}")
    if not _x_server_reachable(display):
        return (f"Cannot reach the display {display} (no X server answers there): start Wildlife Desktop from "
                "a desktop session or check the DISPLAY variable.")
    return None
