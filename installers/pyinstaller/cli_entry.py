"""Entry script of ``wildlife-cli`` (console): ``wildlife_desktop.cli:main``."""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from wildlife_desktop.cli import main

    sys.exit(int(main() or 0))
