"""Entry script of ``WildlifeDesktop`` (windowed): ``wildlife_desktop.gui.app:main``."""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from wildlife_desktop.gui.app import main

    sys.exit(int(main() or 0))
