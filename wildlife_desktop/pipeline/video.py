"""Video probing and frame sampling with OpenCV, plus the per-video majority vote.

Frames are sampled one every ``every_s`` seconds: frame indices ``round(k * fps * every_s)``
(nearest, halves rounded up), k = 0, 1, 2, ... The file is read sequentially with
``grab()`` (demux + decode, no colour conversion) and only sampled frames are
``retrieve()``-d: seeking with ``CAP_PROP_POS_FRAMES`` is unreliable on the AVI/ASF files
trail cameras write.

When a container reports no frame rate (0, NaN or absurd), :class:`VideoInfo` says so
(``frame_rate=None``) and sampling falls back to every :data:`FALLBACK_FRAME_STEP` frames per
second of ``every_s`` (i.e. as if the video were 30 fps); the frame indices reported stay
exact, only their times are unknown.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np

from ..core.errors import ImageReadError

log = logging.getLogger(__name__)

#: Frames between samples (per second of ``every_s``) when the frame rate is unknown.
FALLBACK_FRAME_STEP: Final = 30
_MAX_SANE_FPS: Final = 1000.0


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    Attributes:
        frame_rate: Frames per second, or ``None`` when the file does not say (see module doc).
        frame_count: Frame count from the header, ``None`` if unknown. It is an estimate:
            AVI/ASF headers are often off by one; the frame iterator is the truth.
        width: Frame width in pixels.
        height: Frame height in pixels.
    """

    frame_rate: float | None
    frame_count: int | None
    width: int
    height: int

    def frame_step(self, every_s: float) -> float:
        """Frames between two samples taken ``every_s`` seconds apart (≥ 1)."""
        fps = self.frame_rate if self.frame_rate is not None else float(FALLBACK_FRAME_STEP)
        return max(1.0, fps * every_s)


def _open(path: Path) -> cv2.VideoCapture:
    path = Path(path)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise ImageReadError("file not found") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise ImageReadError("empty file (0 bytes)")
    cap = cv2.VideoCapture(os.fspath(path))
    if not cap.isOpened():
        cap.release()
        raise ImageReadError("not a readable video (corrupt or unsupported format)")
    return cap


def _info(cap: cv2.VideoCapture) -> VideoInfo:
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    return VideoInfo(
        frame_rate=fps if math.isfinite(fps) and 0.0 < fps <= _MAX_SANE_FPS else None,
        frame_count=int(count) if math.isfinite(count) and count > 0 else None,
        width=width,
        height=height,
    )


def probe_video(path: Path) -> VideoInfo:
    """Read frame rate, frame count and size, and check that a first frame decodes.

    Args:
        path: Video file.

    Returns:
        The :class:`VideoInfo`.

    Raises:
        ImageReadError: Empty, missing, corrupt or unsupported file, or no decodable frame.
    """
    cap = _open(path)
    try:
        info = _info(cap)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ImageReadError("video has no readable frames")
        if info.width <= 0 or info.height <= 0:
            info = VideoInfo(info.frame_rate, info.frame_count, frame.shape[1], frame.shape[0])
        return info
    finally:
        cap.release()


def _sample_index(k: int, step: float) -> int:
    return int(math.floor(k * step + 0.5))


def sample_frame_indices(n_frames: int, step: float, max_frames: int | None = None) -> list[int]:
    """Indices :func:`iter_video_frames` samples from a video of ``n_frames`` frames.

    Args:
        n_frames: Number of decodable frames.
        step: Frames between samples (see :meth:`VideoInfo.frame_step`).
        max_frames: Stop after this many samples.

    Returns:
        Increasing frame indices.
    """
    out: list[int] = []
    k = 0
    while max_frames is None or len(out) < max_frames:
        idx = _sample_index(k, step)
        if idx >= n_frames:
            break
        out.append(idx)
        k += 1
    return out


def _to_rgb(frame: np.ndarray, target: int | None) -> np.ndarray:
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = frame.shape[:2]
    long_side = max(h, w)
    if target and long_side > target:
        f = target / long_side
        size = (max(1, round(w * f)), max(1, round(h * f)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def iter_video_frames(
    path: Path, *, every_s: float = 1.0, max_frames: int | None = None, target: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, RGB uint8 array)`` for one frame every ``every_s`` seconds.

    Args:
        path: Video file.
        every_s: Seconds between sampled frames (> 0).
        max_frames: Stop after yielding this many frames.
        target: If set, frames whose long side is larger are downscaled (INTER_AREA) to a
            long side of exactly ``target``; smaller frames are never upscaled.

    Yields:
        ``(index, array)`` with ``array`` shaped ``(h, w, 3)``, RGB, C-contiguous.

    Raises:
        ImageReadError: The file cannot be opened or not a single frame decodes (raised on
            the first ``next()``). A frame that fails later just ends or skips sampling.
        ValueError: ``every_s`` is not positive.
    """
    if not every_s > 0:
        raise ValueError(f"every_s must be > 0, got {every_s}")
    cap = _open(path)
    try:
        step = _info(cap).frame_step(every_s)
        k, next_index, index, yielded, grabbed = 0, 0, 0, 0, 0
        while max_frames is None or yielded < max_frames:
            if not cap.grab():
                break
            grabbed += 1
            if index == next_index:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    yield index, _to_rgb(frame, target)
                    yielded += 1
                else:
                    log.debug("%s: frame %d grabbed but not decodable", path, index)
                while next_index <= index:
                    k += 1
                    next_index = _sample_index(k, step)
            index += 1
        if grabbed == 0:
            raise ImageReadError("video has no readable frames")
    finally:
        cap.release()


def read_frame(path: Path, index: int, *, target: int | None = None) -> np.ndarray:
    """The RGB frame ``index`` of a video (grabbed sequentially: seeking is unreliable on AVI/ASF).

    Raises:
        ImageReadError: the file cannot be opened or has fewer than ``index + 1`` frames.
    """
    cap = _open(path)
    try:
        for _ in range(max(0, index)):
            if not cap.grab():
                raise ImageReadError(f"video has no frame {index}")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ImageReadError(f"video frame {index} cannot be decoded")
        return _to_rgb(frame, target)
    finally:
        cap.release()


def majority_vote(labels: Sequence[str | None]) -> str | None:
    """Most frequent non-``None`` label; ties go to the label seen first (frame order).

    Args:
        labels: One label per sampled frame (``None`` = no label for that frame).

    Returns:
        The winning label, or ``None`` if every entry is ``None`` / the input is empty.
    """
    counts: dict[str, int] = {}
    for label in labels:
        if label is not None:
            counts[label] = counts.get(label, 0) + 1
    if not counts:
        return None
    # dicts keep first-occurrence order and max() returns the first maximum: ties → first seen.
    return max(counts.items(), key=lambda item: item[1])[0]
