"""Help ▸ Keyboard shortcuts and Help ▸ User guide, readable without internet.

The shortcuts list is built from the window's own actions and the Verify page's key map, so it
cannot drift from what the keys do. The user guide is the README shipped with the app (beside
the package, or in the installer's folder), rendered here; without it, a short built-in page.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

BUILT_IN_GUIDE = """# Wildlife Desktop

1. **Models.** Install the recommended models once (`wildlife-desktop models install recommended`)
   or use *File ▸ Import model pack…*.
2. **Process a folder.** Pick it on the left (home, drives, recent folders) and press *Run AI*.
   Stopping is safe: the next run continues where it stopped.
3. **Browse** (F3) the thumbnails; the sliders set the detection and classification thresholds.
4. **Verify** (F2) the crops the AI was unsure about: Enter accepts, X false detection, R relabel,
   1–9 your most used labels, Ctrl+Z undo, ? every key.
5. **Export** (Ctrl+E) writes `recognitions.json` (Timelapse), COCO Camera Traps and CSV next to the images.
6. **Fine-tune** (*Review ▸ Fine-tune classifier…*) teaches a classifier your species from verified crops.

`wildlife-desktop --help` lists the command-line tools.
"""


def find_user_guide() -> Path | None:
    """The README shipped with the app: the installer's folder, else the source checkout."""
    here = Path(__file__).resolve()
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "README.md")
    candidates.append(here.parents[3] / "README.md")  # <checkout>/README.md beside wildlife_desktop/
    return next((c for c in candidates if c.is_file()), None)


class ShortcutsDialog(QDialog):
    """Two columns, keys and what they do: the window's shortcuts, then the Verify page's keys."""

    def __init__(self, window_rows: Sequence[tuple[str, str]], verify_rows: Sequence[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Keyboard shortcuts"))
        rows = [(self.tr("Window"), "")] + list(window_rows) + [(self.tr("Verify page (F2)"), "")] + list(verify_rows)
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels([self.tr("Keys"), self.tr("Does")])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (keys, text) in enumerate(rows):
            k = QTableWidgetItem(keys)
            if not text:  # a section title
                font = k.font()
                font.setBold(True)
                k.setFont(font)
            self.table.setItem(r, 0, k)
            self.table.setItem(r, 1, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        note = QLabel(self.tr("On the Verify page, ? or F1 shows its keys over the crop."), self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.resize(560, 620)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]


class TextBrowserDialog(QDialog):
    """Read-only rich text (``self.text``; links open in the browser) over a Close button."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser(self)
        self.text.setOpenExternalLinks(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text, 1)
        lay.addWidget(buttons)
        self.resize(width, height)


class UserGuideDialog(TextBrowserDialog):
    """The README rendered as rich text (links open in the browser), or the built-in page."""

    def __init__(self, guide: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(760, 640, parent)
        self.setWindowTitle(self.tr("User guide"))
        self.source = guide
        if guide is not None:
            self.text.document().setBaseUrl(QUrl.fromLocalFile(str(guide.parent) + "/"))
            self.text.setSearchPaths([str(guide.parent)])
            self.text.setMarkdown(guide.read_text(encoding="utf-8", errors="replace"))
        else:
            self.text.setMarkdown(BUILT_IN_GUIDE)
