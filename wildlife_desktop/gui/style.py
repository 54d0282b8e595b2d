"""Colours and small paint helpers shared by the delegate and the canvas.

Colours are the Okabe-Ito colour-blind-safe set, chosen to stay distinct on a sunlit laptop
screen; everything else (backgrounds, text) comes from the system palette so dark and
light themes both work. No stylesheet colours are hard-coded.
"""

from __future__ import annotations

import zlib
from typing import Final

from PySide6.QtGui import QColor

from .view_state import FileStatus

OKABE_ITO: Final[tuple[str, ...]] = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
)
CATEGORY_COLORS: Final[dict[str, str]] = {"animal": "#E69F00", "person": "#CC79A7", "vehicle": "#56B4E9"}
STATUS_COLORS: Final[dict[FileStatus, str]] = {
    FileStatus.PENDING: "#7f7f7f",
    FileStatus.FAILED: "#D32F2F",
    FileStatus.EMPTY: "#607D8B",
    FileStatus.ANIMAL: "#E69F00",
    FileStatus.PERSON: "#CC79A7",
    FileStatus.VEHICLE: "#56B4E9",
}


def label_color(label: str) -> QColor:
    """Stable colour for a class label: category colours for MD categories, else a hash."""
    if label in CATEGORY_COLORS:
        return QColor(CATEGORY_COLORS[label])
    return QColor(OKABE_ITO[zlib.crc32(label.encode("utf-8")) % len(OKABE_ITO)])


def text_color_on(bg: QColor) -> QColor:
    """Black or white, whichever reads better on ``bg``."""
    luma = 0.299 * bg.red() + 0.587 * bg.green() + 0.114 * bg.blue()
    return QColor("#000000") if luma > 140 else QColor("#ffffff")
