"""Video probing and sampling on real camera-trap clips; majority vote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.fixtures_media import sample
from wildlife_desktop.core.errors import ImageReadError
from wildlife_desktop.pipeline.video import (
    VideoInfo,
    iter_video_frames,
    majority_vote,
    probe_video,
    read_frame,
    sample_frame_indices,
)

CHIMP = "videos/chimp_camera_trap_320x180.mp4"  # 30 fps, 450 frames, 320x180
AVI = "videos/zamba_tiny/savanna_Gorongosa_*_Baboon_*.AVI"  # 1 fps, 60 frames, 106x60
ASF = "videos/zamba_tiny/chimpandsee_Trip_5_*.ASF"  # 1 fps, 61 frames, 80x60


def test_probe_mp4() -> None:
    info = probe_video(sample(CHIMP))
    assert info == VideoInfo(frame_rate=30.0, frame_count=450, width=320, height=180)


def test_mp4_samples_one_frame_per_second() -> None:
    frames = list(iter_video_frames(sample(CHIMP), every_s=1.0))
    assert [i for i, _ in frames] == list(range(0, 450, 30))
    for _, arr in frames:
        assert arr.shape == (180, 320, 3) and arr.dtype == np.uint8 and arr.flags.c_contiguous


def test_mp4_fractional_interval_max_frames_and_target() -> None:
    frames = list(iter_video_frames(sample(CHIMP), every_s=0.5, max_frames=4, target=160))
    assert [i for i, _ in frames] == [0, 15, 30, 45]
    assert all(arr.shape == (90, 160, 3) for _, arr in frames)
    # target larger than the frame: never upscaled
    _, arr = next(iter_video_frames(sample(CHIMP), target=1280))
    assert arr.shape == (180, 320, 3)


def test_frames_are_rgb_not_bgr() -> None:
    import cv2

    cap = cv2.VideoCapture(str(sample(CHIMP)))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    _, rgb = next(iter_video_frames(sample(CHIMP)))
    assert np.array_equal(rgb, bgr[:, :, ::-1])


@pytest.mark.parametrize("pattern", [AVI, ASF])
def test_avi_and_asf(pattern: str) -> None:
    path = sample(pattern)
    info = probe_video(path)
    assert info.frame_rate is not None and info.frame_rate > 0
    assert info.width > 0 and info.height > 0
    frames = list(iter_video_frames(path, every_s=10.0))
    indices = [i for i, _ in frames]
    step = info.frame_step(10.0)
    assert indices[:3] == [0, round(step), round(2 * step)]
    assert len(indices) >= 5  # ~60 frames at 1 fps, one every 10 s
    assert all(arr.shape == (info.height, info.width, 3) for _, arr in frames)


def test_frame_index_rule() -> None:
    assert sample_frame_indices(100, 29.97, max_frames=4) == [0, 30, 60, 90]
    assert sample_frame_indices(10, 2.5) == [0, 3, 5, 8]  # nearest, halves up
    assert sample_frame_indices(5, 1.0) == [0, 1, 2, 3, 4]
    assert VideoInfo(None, None, 10, 10).frame_step(1.0) == 30.0  # unknown fps fallback
    assert VideoInfo(30.0, 10, 10, 10).frame_step(0.01) == 1.0  # never below one frame


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(), "video"),
        (b"not a video at all\n" * 100, "video"),
    ],
    ids=["empty", "random-bytes", "text"],
)
def test_corrupt_video_raises(tmp_path: Path, data: bytes, reason: str) -> None:
    p = tmp_path / "bad.mp4"
    p.write_bytes(data)
    with pytest.raises(ImageReadError, match=reason):
        probe_video(p)
    with pytest.raises(ImageReadError, match=reason):
        next(iter_video_frames(p))


def test_truncated_video_yields_what_it_can(tmp_path: Path) -> None:
    src = sample(AVI).read_bytes()
    p = tmp_path / "cut.avi"
    p.write_bytes(src[: len(src) // 2])
    try:
        frames = list(iter_video_frames(p, every_s=5.0))
    except ImageReadError:
        return  # acceptable: nothing decodable
    assert 0 < len(frames) < 13


def test_missing_video(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        probe_video(tmp_path / "nope.mp4")


def test_majority_vote() -> None:
    assert majority_vote([]) is None
    assert majority_vote([None, None]) is None
    assert majority_vote(["fox", None, "deer", "deer"]) == "deer"
    assert majority_vote([None, "fox", "deer", "deer", "fox"]) == "fox"  # tie → first seen
    assert majority_vote(["deer", "fox", "fox", "deer"]) == "deer"
    assert majority_vote((None, "badger")) == "badger"


def test_read_frame_matches_the_sampled_frame() -> None:
    """The Verify page shows a video box on exactly the frame the detector saw."""
    path = sample(CHIMP)
    sampled = dict(iter_video_frames(path, every_s=1.0, max_frames=3))
    assert set(sampled) == {0, 30, 60}
    for index in (0, 60):
        assert np.array_equal(read_frame(path, index), sampled[index])
    with pytest.raises(ImageReadError, match="no frame"):
        read_frame(path, 10_000)
