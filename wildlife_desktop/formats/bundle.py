"""The neutral, format-independent input of every writer (MD batch JSON, COCO CCT, CSV).

The pipeline builds one :class:`ExportBundle` from the journal (model output), the folder's
sequences and, later, the human-decision layer; each writer turns it into one file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..core.records import Detection, Prediction

#: Version of our own file layouts (sidecar schema), written into every output we make.
SIDECAR_SCHEMA_VERSION = 1


def detection_id(rel_path: str, det: Detection) -> str:
    """Stable id of a detection: the same file, frame, category and box give the same id.

    It does not depend on list order or on thresholds, so it survives re-exports and
    re-runs of the same model, and decisions keyed on it stay attached.
    """
    b = det.bbox
    frame = "" if det.frame is None else str(det.frame)
    text = f"{rel_path}|{frame}|{det.category}|{b.x:.4f},{b.y:.4f},{b.w:.4f},{b.h:.4f}"
    return "d" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class SequenceInfo:
    """Sequence (burst/episode) membership of one file, CCT style."""

    location: str
    seq_id: str
    frame_num: int  # zero-based position in the sequence
    seq_num_frames: int


@dataclass(frozen=True)
class ExportItem:
    """One file (image or whole video) to export."""

    prediction: Prediction
    sequence: SequenceInfo
    detection_ids: tuple[str, ...]  # parallel to prediction.detections
    verified: tuple[bool, ...] = ()  # parallel to prediction.detections; () means none verified
    verified_empty: bool = False  # a person confirmed the file shows no animal
    smoothed: tuple[bool, ...] = ()  # parallel to prediction.detections: label accepted from a smoothing suggestion

    def is_verified(self, index: int) -> bool:
        return bool(self.verified) and self.verified[index]

    def is_smoothed(self, index: int) -> bool:
        """The box's label is a smoothing suggestion a person accepted (``review.smoothing``)."""
        return bool(self.smoothed) and self.smoothed[index]


@dataclass(frozen=True)
class ModelInfo:
    """What produced the predictions, for the ``info`` blocks of the outputs."""

    detector: str  # file name of the detector model, e.g. "md_v5a.0.0.onnx", or an imported file's detector
    detector_version: str = ""
    typical_threshold: float = 0.2
    conservative_threshold: float = 0.05
    classifier: str | None = None
    classifier_labels: tuple[str, ...] = ()  # every label the classifier can output, in model order
    typical_classification_threshold: float = 0.5
    random_weights: bool = False  # True: a benchmark twin produced this; say so in every output
    completion_time: str = ""  # "YYYY-MM-DD HH:MM:SS"
    # a composite detector's members (id, name, version, licence, sha256, categories), for info
    detector_members: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ExportBundle:
    """Everything the writers need. ``items`` are sorted by ``rel_path``."""

    items: tuple[ExportItem, ...]
    model: ModelInfo
    app_version: str
    detection_threshold: float  # COCO/CSV keep boxes at or above this (MD JSON keeps all, like MD)
    classification_threshold: float  # labels below this are written as the detection category only
    methods: dict[str, Any] = field(default_factory=dict)  # formats.methods.load_methods: for a methods section
