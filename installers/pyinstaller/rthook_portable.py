"""PyInstaller runtime hook: portable mode.

If a ``portable.txt`` file or a ``data/`` folder sits next to the executable (e.g. the app
unpacked onto a USB stick), keep all application data there by setting
``WILDLIFE_DESKTOP_HOME=<exe dir>/data`` before the app starts. An explicit
``WILDLIFE_DESKTOP_HOME`` in the environment always wins. On macOS the folder next to the
``.app`` bundle counts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _portable_home() -> Path | None:
    exe_dir = Path(sys.executable).resolve().parent
    candidates = [exe_dir]
    if sys.platform == "darwin" and exe_dir.name == "MacOS":  # X.app/Contents/MacOS -> folder holding X.app
        candidates.append(exe_dir.parent.parent.parent)
    for base in candidates:
        if (base / "portable.txt").is_file() or (base / "data").is_dir():
            return base / "data"
    return None


if not os.environ.get("WILDLIFE_DESKTOP_HOME"):
    _home = _portable_home()
    if _home is not None:
        try:
            _home.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # read-only medium: AppPaths reports the problem when it is used
        os.environ["WILDLIFE_DESKTOP_HOME"] = str(_home)
