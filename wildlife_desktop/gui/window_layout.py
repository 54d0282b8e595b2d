"""The main window's central widget: the run strip and notice bars on top, then a stack of the
Browse page (folder browser | thumbnail grid | review pane, in a splitter) and the Verify page."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QStackedWidget, QVBoxLayout, QWidget


def build_central(win: Any) -> None:
    """Lay out ``win``'s panes; sets ``win.splitter`` (the Browse page) and ``win.stack``."""
    split = QSplitter(Qt.Orientation.Horizontal, win)
    split.addWidget(win.folders)
    split.addWidget(win.grid)
    split.addWidget(win.review)
    split.setStretchFactor(0, 0)
    split.setStretchFactor(1, 3)
    split.setStretchFactor(2, 4)
    split.setSizes([230, 560, 640])
    win.splitter = split
    central = QWidget(win)
    lay = QVBoxLayout(central)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    for w in (win.run_panel, win.source, win.notice, win.banner, win.models_banner):
        lay.addWidget(w)
    win.stack = QStackedWidget(win)
    win.stack.addWidget(split)
    win.stack.addWidget(win.verify)
    lay.addWidget(win.stack, 1)
    win.setCentralWidget(central)
