"""A row of small thumbnails: the other frames of the shown crop's sequence."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

MAX_FRAMES = 6


class SequenceStripWidget(QWidget):
    """``set_frames([(rel_path, pixmap | None, is_current)])``; the current frame is outlined."""

    def __init__(self, parent: QWidget | None = None, *, side: int = 96) -> None:
        super().__init__(parent)
        self._side = side
        self._cells: list[QLabel] = []
        self._paths: list[str] = []
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        for _ in range(MAX_FRAMES):
            cell = QLabel(self)
            cell.setFixedSize(side, side)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setFrameShape(QFrame.Shape.Box)
            cell.setBackgroundRole(QPalette.ColorRole.Base)
            cell.setAutoFillBackground(True)
            cell.hide()
            lay.addWidget(cell)
            self._cells.append(cell)
        lay.addStretch(1)

    def frame_paths(self) -> list[str]:
        """Relative paths of the frames shown, in order."""
        return list(self._paths)

    def set_frames(self, frames: list[tuple[str, QPixmap | None, bool]]) -> None:
        self._paths = [rel for rel, _, _ in frames[:MAX_FRAMES]]
        for i, cell in enumerate(self._cells):
            if i >= len(frames):
                cell.hide()
                continue
            rel, pix, current = frames[i]
            if pix is not None and not pix.isNull():
                cell.setPixmap(pix.scaled(self._side - 4, self._side - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))
            else:
                cell.setPixmap(QPixmap())
                cell.setText("…")
            cell.setLineWidth(3 if current else 1)
            cell.setToolTip(rel)
            cell.show()
