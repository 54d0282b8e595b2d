"""Helpers for the pipeline media tests: shared sample files and generated JPEGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "samples"

#: A 5152x3968 (20 MP) CUDDEBACK JPEG, the biggest sample.
BIG_JPEG_GLOB = "lila_test_images/snapshot_kruger_KRU_S1_25_*.JPG"
#: A 2048x1536-class JPEG with real EXIF (Reconyx, has DateTimeOriginal).
RECONYX_GLOB = "lila_test_images/missouri_camera_traps_*.JPG"


def sample(pattern: str) -> Path:
    """First file under ``/work/shared/samples`` matching ``pattern``; fail loudly if none."""
    if not SAMPLES.is_dir():
        raise AssertionError(f"shared samples folder missing: {SAMPLES}")
    found = sorted(SAMPLES.glob(pattern))
    if not found:
        raise AssertionError(f"no sample matches {pattern!r} under {SAMPLES}")
    return found[0]


def gradient(width: int, height: int) -> np.ndarray:
    """A deterministic RGB test pattern with distinct corners (so rotations are visible)."""
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // max(1, width - 1)).astype(np.uint8)
    g = (y * 255 // max(1, height - 1)).astype(np.uint8)
    b = ((x // 8 + y // 8) % 2 * 200).astype(np.uint8)
    return np.dstack([r, g, b])


def make_jpeg(
    path: Path,
    size: tuple[int, int] = (64, 48),
    *,
    datetime_original: str | None = None,
    datetime_digitized: str | None = None,
    datetime_ifd0: str | None = None,
    orientation: int | None = None,
    make: str | None = None,
    model: str | None = None,
    mode: str = "RGB",
    quality: int = 90,
) -> Path:
    """Write a JPEG with the given EXIF tags (Pillow ``Image.Exif``); return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(gradient(*size))
    if mode != "RGB":
        im = im.convert(mode)
    exif = Image.Exif()
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = orientation
    if datetime_ifd0 is not None:
        exif[0x0132] = datetime_ifd0
    sub = exif.get_ifd(0x8769)
    if datetime_original is not None:
        sub[0x9003] = datetime_original
    if datetime_digitized is not None:
        sub[0x9004] = datetime_digitized
    im.save(path, format="JPEG", quality=quality, exif=exif.tobytes())
    return path
