"""Image decoding for the detector: fast reduced-scale JPEG decode, EXIF orientation, RGB.

* **Draft decode.** For JPEGs and a model input ``target`` (e.g. 640 or 1280), Pillow's
  ``Image.draft`` lets libjpeg decode at 1/2, 1/4 or 1/8 DCT scale. We request the
  aspect-preserving box whose *long* side is ``target``, so the decoded long side is always
  ≥ ``target`` (draft never goes below the requested size). A 20 MP JPEG at ``target=640``
  decodes at 1/8 scale, several times faster than a full decode.
* **Orientation.** The returned array, ``width`` and ``height`` are in display orientation
  (ImageOps.exif_transpose semantics, applied with cheap numpy flips/rotations). ``width``/
  ``height`` are the FULL-resolution size after orientation: normalised boxes refer to it.
* **Strictness.** ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at Pillow's default (False):
  truncated files raise and are reported as failures instead of being half-grey images.
* **Size limit.** :data:`MAX_PIXELS` (250 MP) is our own limit, checked before decoding.
  We do not touch ``Image.MAX_IMAGE_PIXELS``: with Pillow's default it already refuses
  files above ~179 MP (``DecompressionBombError``, reported with the same message), and
  warns above ~89 MP. An application that wants the full 250 MP must raise Pillow's global
  limit once at start-up, deliberately.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..core.errors import ImageReadError

#: Our own refusal limit for decoding (pixels), see the module docstring.
MAX_PIXELS: Final = 250_000_000
_ORIENTATION_TAG: Final = 0x0112
_JPEG_MAGIC: Final = b"\xff\xd8"


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """A decoded image in display orientation.

    Attributes:
        array: ``uint8`` array, shape ``(h, w, 3)``, RGB, C-contiguous (possibly reduced size).
        width: Full-resolution width after EXIF orientation (what boxes refer to).
        height: Full-resolution height after EXIF orientation.
        scale: ``array width / width`` (1.0 for a full decode, ~0.5/0.25/0.125 for draft).
        orientation: The EXIF orientation (1-8) that was applied.
    """

    array: np.ndarray
    width: int
    height: int
    scale: float
    orientation: int = 1


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Return ``array`` (H x W [x C]) turned to display orientation, like ``exif_transpose``.

    Args:
        array: Image array in stored (sensor) orientation.
        orientation: EXIF orientation 1-8; anything else is treated as 1.

    Returns:
        A C-contiguous array (a view is copied only when the orientation is not 1).
    """
    if orientation == 2:
        out = array[:, ::-1]
    elif orientation == 3:
        out = array[::-1, ::-1]
    elif orientation == 4:
        out = array[::-1]
    elif orientation == 5:
        out = array.swapaxes(0, 1)
    elif orientation == 6:
        out = np.rot90(array, k=-1)
    elif orientation == 7:
        out = array[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        out = np.rot90(array, k=1)
    else:
        out = array
    return np.ascontiguousarray(out)


def _megapixels(n_pixels: float) -> str:
    return f"{n_pixels / 1e6:.0f}"


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale (PNG/TIFF): keep the high byte instead of Pillow's clipping.
        arr16 = np.asarray(im).astype(np.uint32) >> 8
        grey = np.clip(arr16, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode == "F":
        grey = np.clip(np.asarray(im), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode != "RGB":
        im = im.convert("RGB")  # L, LA, RGBA (alpha dropped), P, CMYK, YCbCr, 1
    return np.asarray(im)


def _open_error(exc: Exception, head: bytes) -> ImageReadError:
    if isinstance(exc, Image.DecompressionBombError):
        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = _megapixels(int(m.group(1))) if m else "?"
        return ImageReadError(f"image too large ({size} MP)")
    if head.startswith(_JPEG_MAGIC):
        return ImageReadError("truncated or corrupt JPEG")
    if isinstance(exc, UnidentifiedImageError):
        return ImageReadError("not an image file")
    if "truncated" in str(exc):
        return ImageReadError("truncated or corrupt image")
    return ImageReadError(f"corrupt image ({exc})")


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ImageReadError("file not found") from None
    except IsADirectoryError:
        raise ImageReadError("not an image file (a folder)") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read file ({exc.strerror or exc})") from None
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    return data


def load_image(path: Path, *, target: int | None = None) -> DecodedImage:
    """Decode an image to an RGB ``uint8`` array in display orientation.

    Args:
        path: Image file.
        target: Model input size (long side). For JPEGs, decode at the smallest DCT scale
            whose long side is still ≥ ``target``. ``None`` decodes at full resolution.
            Other formats are always decoded at full resolution.

    Returns:
        A :class:`DecodedImage`.

    Raises:
        ImageReadError: With a short user-facing reason: ``"empty file (0 bytes)"``,
            ``"truncated or corrupt JPEG"``, ``"not an image file"``,
            ``"image too large (N MP)"``, ``"file not found"``, ...
    """
    # One read() instead of many small ones: cheaper on SD cards and network shares, and a
    # 20 MP JPEG is only a few MB.
    data = _read_bytes(Path(path))
    head = data[:16]
    try:
        with Image.open(io.BytesIO(data)) as im:
            full_w, full_h = im.size
            if full_w * full_h > MAX_PIXELS:
                raise ImageReadError(f"image too large ({_megapixels(full_w * full_h)} MP)")
            try:
                orientation = int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
            except Exception:  # noqa: BLE001 - a broken EXIF block must not fail the image
                orientation = 1
            if orientation not in range(1, 9):
                orientation = 1
            if target and im.format == "JPEG":
                long_side = max(full_w, full_h)
                if long_side > target:
                    req = (max(1, -(-full_w * target // long_side)), max(1, -(-full_h * target // long_side)))
                    im.draft("RGB", req)
            im.load()
            array = _to_rgb_array(im)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError("not enough memory to decode the image") from None
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError) as exc:
        raise _open_error(exc, head) from None
    except Image.DecompressionBombError as exc:
        raise _open_error(exc, head) from None
    array = apply_orientation(array, orientation)
    if orientation >= 5:
        full_w, full_h = full_h, full_w
    return DecodedImage(
        array=array, width=full_w, height=full_h, scale=array.shape[1] / full_w, orientation=orientation
    )


def thumbnail_bytes(path: Path, size: int = 256, *, quality: int = 85) -> bytes:
    """JPEG thumbnail (long side ≤ ``size``) in display orientation, for a GUI cache.

    The EXIF-embedded thumbnail is used when it is at least ``size`` on its long side
    (trail cameras usually embed 160x120, often letterboxed, so most files fall through);
    otherwise the image is draft-decoded at 1/8 scale where possible, which is nearly as
    fast as reading the embedded thumbnail.

    Args:
        path: Image file.
        size: Maximum long side of the thumbnail in pixels.
        quality: JPEG quality of the result.

    Returns:
        JPEG-encoded bytes.

    Raises:
        ImageReadError: The image cannot be decoded (same reasons as :func:`load_image`).
    """
    thumb = _embedded_thumbnail(Path(path), size)
    if thumb is None:
        decoded = load_image(path, target=size)
        thumb = Image.fromarray(decoded.array)
    thumb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _embedded_thumbnail(path: Path, size: int) -> Image.Image | None:
    """The EXIF IFD1 thumbnail, oriented, if present and large enough; else ``None``."""
    if os.path.splitext(path.name)[1].lower() not in (".jpg", ".jpeg"):
        return None
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            orientation = int(exif.get(_ORIENTATION_TAG, 1) or 1)
            ifd1 = exif.get_ifd(-1)  # ExifTags.IFD.IFD1: offset/length of the thumbnail
            data = _ifd1_jpeg(im, ifd1)
        if data is None:
            return None
        thumb = Image.open(io.BytesIO(data))
        thumb.load()
        if max(thumb.size) < size:
            return None
        arr = apply_orientation(np.asarray(thumb.convert("RGB")), orientation)
        return Image.fromarray(arr)
    except Exception:  # noqa: BLE001 - an unusable embedded thumbnail just means "decode"
        return None


def _ifd1_jpeg(im: Image.Image, ifd1: object) -> bytes | None:
    """Extract the IFD1 JPEG thumbnail bytes from a JPEG's APP1 Exif segment."""
    if not isinstance(ifd1, dict):
        return None
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not offset or not length:
        return None
    for marker, payload in getattr(im, "applist", []):
        if marker == "APP1" and payload.startswith(b"Exif\x00\x00"):
            tiff = payload[6:]
            data = tiff[offset : offset + length]
            return data if data.startswith(_JPEG_MAGIC) else None
    return None
