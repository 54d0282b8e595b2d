"""Turn one decoded image or one video into a :class:`Prediction` (no I/O besides reading media).

``Detector``/``Classifier`` are the runtime's ONNX wrappers; anything with the same methods works
(tests may pass fakes with the same duck type).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..core.errors import ImageReadError
from ..core.records import BBox, Classification, Detection, MediaMeta, Prediction
from .exif import read_meta
from .images import DecodedImage, load_image
from .video import iter_video_frames, majority_vote, probe_video


class DetectorLike(Protocol):
    input_size: int

    def detect(self, image: np.ndarray, conf_floor: float = ...) -> list[Detection]: ...


class ClassifierLike(Protocol):
    input_size: int

    def classify(self, image: np.ndarray, boxes: Sequence[BBox], top_k: int = ...) -> list[tuple[Classification, ...]]:
        ...


@dataclass(frozen=True)
class PredictOptions:
    conf_floor: float = 0.005  # lowest detection confidence kept in the journal
    classify_min_conf: float = 0.05  # animal boxes at or above this get species labels
    label_threshold: float = 0.2  # a video frame votes with its best box at or above this
    top_k: int = 5
    video_every_s: float = 1.0
    video_max_frames: int = 120


def _classify(
    dets: list[Detection],
    crop_source: np.ndarray,
    classifier: ClassifierLike | None,
    opts: PredictOptions,
) -> list[Detection]:
    if classifier is None:
        return dets
    idx = [i for i, d in enumerate(dets) if d.category == "1" and d.confidence >= opts.classify_min_conf]
    if not idx:
        return dets
    labels = classifier.classify(crop_source, [dets[i].bbox for i in idx], top_k=opts.top_k)
    out = list(dets)
    for i, lab in zip(idx, labels, strict=True):
        out[i] = replace(out[i], classifications=tuple(lab))
    return out


def _needs_full_res(dets: list[Detection], img: DecodedImage, classifier: ClassifierLike | None,
                    opts: PredictOptions) -> bool:
    """True when a reduced decode would feed the classifier crops smaller than its input."""
    if classifier is None or img.scale >= 1.0:
        return False
    h, w = img.array.shape[:2]
    return any(
        d.category == "1" and d.confidence >= opts.classify_min_conf
        and max(d.bbox.w * w, d.bbox.h * h) < classifier.input_size
        for d in dets
    )


def predict_image(
    path: Path,
    rel_path: str,
    img: DecodedImage,
    detector: DetectorLike,
    classifier: ClassifierLike | None,
    opts: PredictOptions,
) -> Prediction:
    """Detect (and classify) one decoded image. Crops come from full resolution when needed."""
    dets = detector.detect(img.array, conf_floor=opts.conf_floor)
    crop_source = img.array
    if _needs_full_res(dets, img, classifier, opts):
        crop_source = load_image(path).array
    dets = _classify(dets, crop_source, classifier, opts)
    meta = replace(read_meta(path), width=img.width, height=img.height)
    return Prediction(rel_path=rel_path, kind="image", meta=meta, detections=tuple(dets))


def predict_video(
    path: Path,
    rel_path: str,
    detector: DetectorLike,
    classifier: ClassifierLike | None,
    opts: PredictOptions,
) -> Prediction:
    """Sample frames, detect/classify each, and vote one label for the whole video."""
    info = probe_video(path)
    dets: list[Detection] = []
    frames: list[int] = []
    votes: list[str | None] = []
    for frame_idx, frame in iter_video_frames(
        path, every_s=opts.video_every_s, max_frames=opts.video_max_frames or None, target=detector.input_size
    ):
        fd = _classify(detector.detect(frame, conf_floor=opts.conf_floor), frame, classifier, opts)
        frames.append(frame_idx)
        best = max((d for d in fd if d.confidence >= opts.label_threshold), key=lambda d: d.confidence, default=None)
        votes.append(None if best is None else (best.top_label or best.category_name))
        dets.extend(replace(d, frame=frame_idx) for d in fd)
    if not frames:
        raise ImageReadError("no frame could be decoded from this video")
    dets.sort(key=lambda d: (-d.confidence, d.frame or 0))
    return Prediction(
        rel_path=rel_path,
        kind="video",
        meta=MediaMeta(width=info.width, height=info.height),
        detections=tuple(dets),
        frame_rate=float(info.frame_rate) if info.frame_rate and info.frame_rate > 0 else 30.0,
        frames_processed=tuple(frames),
        video_label=majority_vote(votes),
    )


def failed(rel_path: str, kind: str, reason: str) -> Prediction:
    return Prediction(rel_path=rel_path, kind=kind, failure=reason)  # type: ignore[arg-type]
