"""QApplication bootstrap: ``wildlife-desktop [FOLDER] [--screenshot OUT.png] [--size WxH]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ..core.logs import setup_logging, user_message
from ..core.paths import AppPaths

logger = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_S = 60.0
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="wildlife-desktop gui")
    p.add_argument("folder", nargs="?")
    p.add_argument("--screenshot", help="save a PNG of the window once loaded, then exit")
    p.add_argument("--size", default=None, help="window size WxH, e.g. 1366x768")
    return p.parse_args(argv)


def _excepthook(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    text = "".join(traceback.format_exception(etype, value, tb))
    logger.error("uncaught exception:\n%s", text)
    app = QApplication.instance()
    if app is not None and not os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        QMessageBox.critical(None, "Wildlife Desktop", user_message(value))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if QApplication.instance() is None:  # no display or no X11 libraries: one sentence, not Qt's abort
        from .display_check import display_problem

        problem = display_problem()
        if problem:
            print(f"wildlife-desktop: {problem}", file=sys.stderr)
            return 1
    paths = AppPaths.default().ensure()
    from ..runtime.bundled import ensure_bundled

    # The windowed build has no console: every warning and traceback goes to a rotating log file
    # (Help > Open log folder), as early as possible.
    setup_logging(paths, app="wildlife-desktop", console_level=logging.INFO)
    ensure_bundled(paths)  # model packs shipped inside the installer; never raises
    QCoreApplication.setOrganizationName("WildlifeDesktop")
    QCoreApplication.setApplicationName("WildlifeDesktop")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "wildlife-desktop"])
    from .app_settings import apply_identity, use_settings_under

    apply_identity(app)  # window icon; desktop file name for Wayland
    use_settings_under(paths)  # every QSettings(): an INI file in the app's config folder (portable mode)
    sys.excepthook = _excepthook
    from . import interpreter
    from .main_window import MainWindow

    win = MainWindow(paths)
    interpreter.configure()
    if args.size:
        w, _, h = args.size.lower().partition("x")
        win.resize(int(w), int(h))
    elif win.size().width() < 900:
        win.resize(1366, 768)
    win.show()

    folder = Path(args.folder).resolve() if args.folder else None
    import_json = None
    if folder is None:  # the demo: a copy of the sample images in the app's data folder, never the original
        from ..pipeline.demo import prepare_demo

        demo = prepare_demo(paths)
        if demo is not None:
            folder, import_json = demo.folder, demo.import_json
    if folder is not None:
        win.open_folder(folder, import_json=import_json)

    result = {"code": 0}
    if args.screenshot:
        out = Path(args.screenshot)
        deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
        settle = {"n": 0}

        def poll() -> None:
            ready = win.first_screen_ready()
            settle["n"] = settle["n"] + 1 if ready else 0
            if settle["n"] >= 3 or time.monotonic() > deadline:
                try:
                    if not ready:
                        logger.warning("screenshot taken before the window was fully loaded")
                    if not win.grab().save(str(out), "PNG"):
                        result["code"] = 1
                    win.close()
                finally:
                    QTimer.singleShot(0, app.quit)
                return
            QTimer.singleShot(100, poll)

        QTimer.singleShot(200, poll)
    code = app.exec()
    # Delete the window (and its pools and threads) while QApplication still exists;
    # leaving it to interpreter shutdown can crash in Qt's destructors.
    win.engine.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)
    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    if args.screenshot:
        return result["code"]
    return int(code)
