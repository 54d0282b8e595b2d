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
from ..core.paths import AppPaths
from . import benchmark, decisions, folder, models, reference, selftest, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wildlife-desktop", description=__doc__.splitlines()[0],
        epilog="Open the window with: wildlife-desktop [gui] [FOLDER] [--screenshot OUT.png] [--size WxH]")
    p.add_argument("--version", action="version", version=f"wildlife-desktop {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (folder, decisions, selftest, benchmark, models, reference, train):
        module.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("exifread").setLevel(logging.ERROR)  # "PNG file does not have exif data" is not news
    paths = AppPaths.default()
    from ..runtime.bundled import ensure_bundled

    ensure_bundled(paths)  # model packs shipped inside the installer (no-op from source)
    try:
        return int(args.func(args, paths) or 0)
    except WildlifeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
