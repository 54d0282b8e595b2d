"""runtime layer (Qt-free)."""

from __future__ import annotations

from .classifier import Classifier
from .detector import Detector
from .families import FAMILIES, FamilySpec
from .manifest import (
    DETECTOR_LABELS,
    MANIFEST_SCHEMA_VERSION,
    ModelManifest,
    load_manifest,
    manifest_to_dict,
    save_manifest,
)
from .preprocess import LetterboxTransform, crop_batch, letterbox, square_crop_box
from .session import make_session
from .store import ModelStore, sha256_file

__all__ = [
    "DETECTOR_LABELS",
    "FAMILIES",
    "MANIFEST_SCHEMA_VERSION",
    "Classifier",
    "Detector",
    "FamilySpec",
    "LetterboxTransform",
    "ModelManifest",
    "ModelStore",
    "crop_batch",
    "letterbox",
    "load_manifest",
    "make_session",
    "manifest_to_dict",
    "save_manifest",
    "sha256_file",
    "square_crop_box",
]
