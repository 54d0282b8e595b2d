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
_NEG = float("-inf")


@dataclass(frozen=True, slots=True)
class PredictionDigest:
    """What the grid needs of one prediction at any threshold, computed once per prediction.

    ``Thresholds.status``/``top`` filter and sort the detections on every call; over 100k files
    per slider step that is seconds. With the best detection and the best confidence per
    category, both answers are a few comparisons (:meth:`Thresholds.status_of`/``top_of``).
    """

    failed: bool
    best: Detection | None  # most confident detection (the first one on ties, as a stable sort)
    best_by_category: dict[str, float]

    @classmethod
    def of(cls, prediction: Prediction) -> PredictionDigest:
        if prediction.failed:
            return cls(True, None, {})
        dets = prediction.detections
        best = max(dets, key=lambda d: d.confidence) if dets else None
        by_cat: dict[str, float] = {}
        for d in dets:
            if d.confidence > by_cat.get(d.category, _NEG):
                by_cat[d.category] = d.confidence
        return cls(False, best, by_cat)

    @property
    def best_confidence(self) -> float:
        return self.best.confidence if self.best is not None else _NEG


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

    def status_of(self, digest: PredictionDigest | None) -> FileStatus:
        """Same as :meth:`status`, from a :class:`PredictionDigest`."""
        if digest is None:
            return FileStatus.PENDING
        if digest.failed:
            return FileStatus.FAILED
        t = self.detection
        if digest.best is None or digest.best.confidence < t:
            return FileStatus.EMPTY
        by_cat = digest.best_by_category
        for cat in ("2", "1", "3"):
            if by_cat.get(cat, _NEG) >= t:
                return _CATEGORY_STATUS[cat]
        return FileStatus.ANIMAL

    def top_of(self, digest: PredictionDigest | None) -> tuple[str, float] | None:
        """Same as :meth:`top`, from a :class:`PredictionDigest`."""
        if digest is None or digest.best is None or digest.best.confidence < self.detection:
            return None
        return self.label(digest.best), digest.best.confidence

    def top(self, prediction: Prediction | None) -> tuple[str, float] | None:
        """(label, confidence) of the most confident visible detection."""
        if prediction is None or prediction.failed:
            return None
        dets = self.visible(prediction)
        if not dets:
            return None
        return self.label(dets[0]), dets[0].confidence
