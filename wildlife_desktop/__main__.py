"""``python -m wildlife_desktop`` / ``wildlife-desktop``: a subcommand runs the CLI, nothing opens the window."""

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
    if args and (args[0] in commands or args[0].startswith("-")):
        return cli_main(args)
    return cli_main(["gui", *args])


if __name__ == "__main__":
    sys.exit(main())
