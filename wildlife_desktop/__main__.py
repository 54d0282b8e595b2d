"""``python -m wildlife_desktop`` / ``wildlife-desktop``.

A CLI subcommand runs the headless CLI; ``gui``, a folder, or nothing opens the window. This is
the only module outside ``gui`` that imports it, lazily, so the CLI never loads Qt.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    from .cli import build_parser
    from .cli import main as cli_main

    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    if args and (args[0] in commands or args[0] in ("-h", "--help", "--version")):
        return cli_main(args)
    if args and args[0] == "gui":
        args = args[1:]
    from .gui.app import main as gui_main

    return int(gui_main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
