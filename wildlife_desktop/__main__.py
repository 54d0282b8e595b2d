"""``python -m wildlife_desktop`` / ``wildlife-desktop``.

A CLI subcommand runs the headless CLI (global options such as ``-v`` may come first); ``gui``,
a folder, or nothing opens the window. Any other word is an error that lists the commands: a
typo must not open a window (which would hang on a machine without a display). This is the
only module outside ``gui`` that imports it, lazily, so the CLI never loads Qt.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence
from pathlib import Path

#: The CLI's options that may come before the command (``wildlife-desktop -v scan DIR``).
GLOBAL_OPTIONS = ("-v", "--verbose")
_CLI_ONLY = ("-h", "--help", "--version")


def _looks_like_path(word: str) -> bool:
    """A folder to open in the window: it exists, or it is spelled like a path (``./x``, ``~/x``, ``C:\\x``)."""
    return (Path(word).expanduser().exists() or any(sep in word for sep in ("/", "\\"))
            or word.startswith((".", "~")) or (len(word) >= 2 and word[1] == ":"))


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    from .cli import build_parser
    from .cli import main as cli_main

    commands = list(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    lead = 0
    while lead < len(args) and args[lead] in GLOBAL_OPTIONS:
        lead += 1
    word = args[lead] if lead < len(args) else None
    if word is not None and (word in commands or word in _CLI_ONLY):
        return cli_main(args)
    gui_args = args[lead:]
    if word == "gui":
        gui_args = gui_args[1:]
    elif word is not None and not word.startswith("-") and not _looks_like_path(word):
        print(f"wildlife-desktop: '{word}' is not a command or a folder.\n"
              f"Commands: {', '.join(commands)}.\n"
              "Open the window with: wildlife-desktop [gui] [FOLDER]; help: wildlife-desktop --help",
              file=sys.stderr)
        return 2
    from .gui.app import main as gui_main

    return int(gui_main(gui_args) or 0)


if __name__ == "__main__":
    sys.exit(main())
