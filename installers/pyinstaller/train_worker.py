"""Entry script of ``wildlife-train-worker`` (full builds only): the one executable allowed to import torch.

The GUI starts it as a separate process for fine-tuning; it also runs the torch-using
``models build`` command. ``wildlife_desktop.training.worker:main`` is used when that module
exists; otherwise the worker is the CLI (whose ``models build`` needs torch).
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    try:
        entry = importlib.import_module("wildlife_desktop.training.worker").main
    except ModuleNotFoundError:
        from wildlife_desktop.cli import main as entry
    sys.exit(int(entry() or 0))
