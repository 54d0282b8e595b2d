"""Verify-page crops: images and video frames, decoded off the GUI thread's code path."""

from __future__ import annotations

from tests.conftest import SHARED
from wildlife_desktop.core.records import BBox
from wildlife_desktop.gui.crop_loader import decode_crop


def test_video_detection_crop_comes_from_its_frame(qtbot: object) -> None:
    video = SHARED / "samples" / "videos" / "chimp_camera_trap_320x180.mp4"
    box = BBox(0.25, 0.25, 0.5, 0.5)
    shown = decode_crop(video, box, frame=60)
    assert shown.error == "" and shown.crop is not None and shown.frame is not None
    assert (shown.frame.width(), shown.frame.height()) == (320, 180)
    # padded by 15 % of the box on each side: 160x90 box -> 208x117 crop
    assert abs(shown.crop.width() - 208) <= 2 and abs(shown.crop.height() - 117) <= 2
    other = decode_crop(video, box, frame=0)
    assert other.crop is not None and other.crop != shown.crop  # a different frame, a different crop


def test_unreadable_file_is_an_error_not_a_crash(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "clip.mp4"
    bad.write_bytes(b"not a video")
    shown = decode_crop(bad, BBox(0.1, 0.1, 0.2, 0.2), frame=0)
    assert shown.crop is None and "video" in shown.error
