"""No display or missing X11 libraries: one sentence and a non-zero exit, never Qt's abort (rc 134)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from wildlife_desktop.gui.display_check import display_problem, missing_xcb_libraries


def _loader(missing: set[str]):  # type: ignore[no-untyped-def]
    def load(name: str) -> object:
        if name.endswith("libqxcb.so") and missing:
            first = sorted(missing)[0]
            raise OSError(f"{first}: cannot open shared object file: No such file or directory")
        if name in missing:
            raise OSError(f"{name}: cannot open shared object file")
        return object()
    return load


def test_no_display_is_one_sentence() -> None:
    msg = display_problem({}, platform="linux", load=_loader(set()), plugin=Path("libqxcb.so"))
    assert msg is not None and "No display" in msg and "\n" not in msg


def test_missing_xcb_libraries_name_the_debian_packages() -> None:
    load = _loader({"libxcb-cursor.so.0", "libxcb-icccm.so.4"})
    assert missing_xcb_libraries(Path("libqxcb.so"), load) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    msg = display_problem({"DISPLAY": "remote:0"}, platform="linux", load=load, plugin=Path("libqxcb.so"))
    assert msg is not None and "apt-get install libxcb-cursor0 libxcb-icccm4" in msg


def test_nothing_to_say_when_the_window_can_open_or_another_platform_is_chosen() -> None:
    ok = _loader(set())
    assert display_problem({"DISPLAY": "remote:0"}, platform="linux", load=ok, plugin=Path("libqxcb.so")) is None
    broken = _loader({"libxcb-cursor.so.0"})
    for env in ({"QT_QPA_PLATFORM": "offscreen"}, {"WAYLAND_DISPLAY": "wayland-0"}):
        assert display_problem(env, platform="linux", load=broken, plugin=Path("libqxcb.so")) is None
    assert display_problem({}, platform="win32", load=broken) is None


def test_local_display_without_a_server_is_named(tmp_path: Path) -> None:
    msg = display_problem({"DISPLAY": ":987"}, platform="linux", load=_loader(set()), plugin=Path("libqxcb.so"))
    assert msg is not None and ":987" in msg


def test_window_without_display_exits_with_a_sentence() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "wildlife_desktop", "gui"], cwd=REPO, capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("wildlife-desktop: No display found") and "Traceback" not in res.stderr
