"""How predictions are *shown*: thresholds and per-file badge status. Pure Python, no Qt.

Thresholds here change what the grid, the review pane and exports show; they never change
the stored model output (the journal keeps every box above the job's confidence floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..core.records import Detection, Prediction


class FileStatus(str, Enum):
    """Badge state of one file in the grid."""

    PENDING = "pending"
    FAILED = "failed"
    EMPTY = "empty"
    ANIMAL = "animal"
    PERSON = "person"
    VEHICLE = "vehicle"


_CATEGORY_STATUS = {"1": FileStatus.ANIMAL, "2": FileStatus.PERSON, "3": FileStatus.VEHICLE}


@dataclass(frozen=True)
class Thresholds:
    """Display thresholds (0..1)."""

    detection: float = 0.2
    classification: float = 0.5

    def visible(self, prediction: Prediction) -> list[Detection]:
        """Detections at or above the detection threshold, most confident first."""
        dets = [d for d in prediction.detections if d.confidence >= self.detection]
        dets.sort(key=lambda d: d.confidence, reverse=True)
        return dets

    def label(self, det: Detection) -> str:
        """Species label when the classifier is confident enough, else the detector category."""
        conf = det.top_label_confidence
        if det.top_label and conf is not None and conf >= self.classification:
            return det.top_label
        return det.category_name

    def status(self, prediction: Prediction | None) -> FileStatus:
        if prediction is None:
            return FileStatus.PENDING
        if prediction.failed:
            return FileStatus.FAILED
        dets = self.visible(prediction)
        if not dets:
            return FileStatus.EMPTY
        cats = {d.category for d in dets}
        # A person anywhere in the frame matters most (privacy), then animals.
        for cat in ("2", "1", "3"):
            if cat in cats:
                return _CATEGORY_STATUS[cat]
        return FileStatus.ANIMAL

    def top(self, prediction: Prediction | None) -> tuple[str, float] | None:
        """(label, confidence) of the most confident visible detection."""
        if prediction is None or prediction.failed:
            return None
        dets = self.visible(prediction)
        if not dets:
            return None
        return self.label(dets[0]), dets[0].confidence
