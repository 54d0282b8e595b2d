"""Headless command line over the same core the GUI uses.

Everything the window does can be done here: scan, detect (resumable), import results made
elsewhere, export sidecars, manage model packs, fine-tune a classifier on verified crops.
``--json`` prints one JSON object per event.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.errors import WildlifeError
from ..core.logs import FILE_ONLY, setup_logging, user_message
from ..core.paths import AppPaths
from . import benchmark, decisions, evaluate, folder, models, reference, review, selftest, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wildlife-desktop", description=__doc__.splitlines()[0],
        epilog="Open the window with: wildlife-desktop [gui] [FOLDER] [--screenshot OUT.png] [--size WxH]")
    p.add_argument("--version", action="version", version=f"wildlife-desktop {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (folder, decisions, selftest, benchmark, models, reference, evaluate, train, review):
        module.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = AppPaths.default()
    # Details (tracebacks included) go to the rotating log file; stderr gets warnings (-v: info).
    setup_logging(paths, app="cli", console_level=logging.INFO if args.verbose else logging.WARNING)
    from ..runtime.bundled import ensure_bundled

    ensure_bundled(paths)  # model packs shipped inside the installer (no-op from source)
    try:
        return int(args.func(args, paths) or 0)
    except WildlifeError as exc:
        logging.getLogger(__name__).info("%s failed: %s", args.command, exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug or a surprise: one line here, the traceback in the log
        logging.getLogger(__name__).exception("%s failed unexpectedly", args.command, extra=FILE_ONLY)
        print(f"error: {user_message(exc, paths)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
