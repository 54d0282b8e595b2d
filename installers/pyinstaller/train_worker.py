"""Entry script of ``wildlife-train-worker`` (full builds only): the one executable allowed to import torch.

It runs the torch-using ``models build`` command (checkpoint → ONNX pack). Fine-tuning does not
need it: it is numpy + ONNX and runs inside the GUI and CLI. ``wildlife_desktop.training.worker:main``
is used when that module exists; otherwise the worker is the CLI (whose ``models build`` needs torch).
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
