"""Frozen records that cross layer boundaries. No dicts-of-dicts between layers.

Coordinates are always normalised ``[x_min, y_min, width, height]`` (0..1) relative to the
image *as displayed*, i.e. after its EXIF orientation has been applied, exactly as in the
MegaDetector batch-output format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

MediaKind = Literal["image", "video"]

#: MegaDetector detection categories. "0" is reserved for "empty" (Timelapse, CCT).
DETECTION_CATEGORIES: Final[dict[str, str]] = {"1": "animal", "2": "person", "3": "vehicle"}

IMAGE_EXTENSIONS: Final[frozenset[str]] = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})
VIDEO_EXTENSIONS: Final[frozenset[str]] = frozenset({".mp4", ".avi", ".mov", ".asf", ".mkv"})


@dataclass(frozen=True, slots=True)
class BBox:
    """Normalised box ``[x_min, y_min, width, height]`` in 0..1, origin top-left."""

    x: float
    y: float
    w: float
    h: float

    def as_list(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]

    def to_pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Absolute pixel ``(x, y, w, h)`` for an image of ``width`` x ``height``."""
        return (self.x * width, self.y * height, self.w * width, self.h * height)

    @property
    def area(self) -> float:
        return max(0.0, self.w) * max(0.0, self.h)

    def iou(self, other: BBox) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Classification:
    """One species label for one detection crop."""

    label: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Detection:
    """One box from the detector, with the classifier's top-k labels for its crop."""

    category: str  # "1" animal, "2" person, "3" vehicle
    confidence: float
    bbox: BBox
    classifications: tuple[Classification, ...] = ()  # sorted by confidence, descending
    frame: int | None = None  # video frame index; None for still images

    @property
    def category_name(self) -> str:
        return DETECTION_CATEGORIES.get(self.category, self.category)

    @property
    def top_label(self) -> str | None:
        return self.classifications[0].label if self.classifications else None

    @property
    def top_label_confidence(self) -> float | None:
        return self.classifications[0].confidence if self.classifications else None


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A file found by the folder scan. ``key`` identifies this exact version of the file."""

    rel_path: str  # relative to the processed folder, forward slashes
    size: int
    mtime_ns: int
    kind: MediaKind

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.rel_path, self.size, self.mtime_ns)


@dataclass(frozen=True, slots=True)
class MediaMeta:
    """What we know about a file's content: EXIF and decoded size."""

    width: int | None = None  # after EXIF orientation
    height: int | None = None
    datetime: str | None = None  # "YYYY-MM-DD HH:MM:SS", camera local time, None if unknown/invalid
    make: str | None = None
    model: str | None = None
    orientation: int = 1


@dataclass(frozen=True, slots=True)
class Prediction:
    """Model output for one file (image, or whole video), as stored in the journal.

    A failed file has ``failure`` set and no detections. For a video, ``detections`` holds the
    boxes of every sampled frame (each with ``frame`` set), ``frames_processed`` lists the frame
    indices that were run, and ``video_label`` is the per-video majority vote.
    """

    rel_path: str
    kind: MediaKind
    meta: MediaMeta = field(default_factory=MediaMeta)
    detections: tuple[Detection, ...] = ()
    failure: str | None = None
    frame_rate: float | None = None
    frames_processed: tuple[int, ...] = ()
    video_label: str | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def max_confidence(self) -> float:
        return max((d.confidence for d in self.detections), default=0.0)
