"""Image decoding: draft decode, orientation, colour modes, and every failure reason."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.pipeline.fixtures_media import BIG_JPEG_GLOB, RECONYX_GLOB, gradient, make_jpeg, sample
from wildlife_desktop.core.errors import ImageReadError
from wildlife_desktop.pipeline.images import DecodedImage, load_image, thumbnail_bytes


def _check(img: DecodedImage) -> None:
    a = img.array
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and a.flags.c_contiguous


def test_full_decode_of_real_sample_matches_pillow() -> None:
    p = sample(RECONYX_GLOB)
    img = load_image(p)
    _check(img)
    with Image.open(p) as im:
        ref = np.asarray(im.convert("RGB"))
    assert (img.width, img.height) == (ref.shape[1], ref.shape[0])
    assert img.scale == 1.0 and np.array_equal(img.array, ref)


@pytest.mark.parametrize("target", [640, 1280])
def test_draft_decode_keeps_long_side_at_least_target(target: int) -> None:
    p = sample(RECONYX_GLOB)  # 1920x1080 Reconyx frame
    with Image.open(p) as im:
        full_w, full_h = im.size
    img = load_image(p, target=target)
    _check(img)
    assert (img.width, img.height) == (full_w, full_h)
    h, w = img.array.shape[:2]
    assert max(w, h) >= target
    # the smallest DCT scale (1/1, 1/2, 1/4, 1/8) that keeps the long side >= target
    expected = max(s for s in (1, 2, 4, 8) if -(-max(full_w, full_h) // s) >= target)
    assert w == -(-full_w // expected), (w, expected)
    assert img.scale == pytest.approx(w / full_w)
    assert h / full_h == pytest.approx(img.scale, rel=0.02)


def test_draft_decodes_20mp_jpeg_at_reduced_scale() -> None:
    p = sample(BIG_JPEG_GLOB)
    load_image(p, target=640)  # warm the page cache
    t0 = time.perf_counter()
    full = load_image(p)
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    small = load_image(p, target=640)
    t_draft = time.perf_counter() - t0
    assert (full.width, full.height) == (small.width, small.height) == (5152, 3968)
    assert small.array.shape == (496, 644, 3) and small.scale == 0.125
    speedup = t_full / t_draft
    print(f"20 MP JPEG: full {t_full * 1000:.0f} ms, draft@640 {t_draft * 1000:.0f} ms, x{speedup:.1f}")


def test_small_image_is_not_upscaled_by_target(tmp_path: Path) -> None:
    img = load_image(make_jpeg(tmp_path / "s.jpg", (320, 240)), target=640)
    assert img.array.shape == (240, 320, 3) and img.scale == 1.0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_exif_transpose(tmp_path: Path, orientation: int) -> None:
    p = make_jpeg(tmp_path / f"o{orientation}.jpg", (96, 64), orientation=orientation, quality=95)
    img = load_image(p)
    with Image.open(p) as im:
        ref = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert img.orientation == orientation
    assert np.array_equal(img.array, ref)
    assert (img.width, img.height) == ((64, 96) if orientation >= 5 else (96, 64))


def test_orientation_6_real_photo_with_draft(tmp_path: Path) -> None:
    src = sample(RECONYX_GLOB)
    with Image.open(src) as im:
        full_w, full_h = im.size
        exif = Image.Exif()
        exif[0x0112] = 6
        rotated = tmp_path / "rot6.jpg"
        im.save(rotated, quality=90, exif=exif.tobytes())
    img = load_image(rotated, target=640)
    assert (img.width, img.height) == (full_h, full_w)  # swapped
    h, w = img.array.shape[:2]
    assert h > w and max(h, w) >= 640
    with Image.open(rotated) as im:
        im.draft("RGB", (h, w))  # stored orientation: same reduced scale as ours
        ref = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert ref.shape == img.array.shape and np.array_equal(ref, img.array)


def test_modes_are_converted_to_rgb(tmp_path: Path) -> None:
    rgba = Image.fromarray(np.dstack([gradient(40, 30), np.full((30, 40), 128, np.uint8)]), "RGBA")
    rgba.save(tmp_path / "alpha.png")
    img = load_image(tmp_path / "alpha.png")
    _check(img)
    assert np.array_equal(img.array, gradient(40, 30))
    grey = load_image(make_jpeg(tmp_path / "grey.jpg", (40, 30), mode="L"))
    _check(grey)
    assert np.array_equal(grey.array[..., 0], grey.array[..., 2])
    Image.fromarray(gradient(40, 30)).convert("P").save(tmp_path / "pal.png")
    _check(load_image(tmp_path / "pal.png"))
    Image.fromarray(gradient(40, 30)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    _check(load_image(tmp_path / "cmyk.jpg", target=16))
    deep = (np.arange(30 * 40, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep16.png")
    img16 = load_image(tmp_path / "deep16.png")
    _check(img16)
    assert np.array_equal(img16.array[..., 1], (deep >> 8).astype(np.uint8))
    Image.fromarray(gradient(40, 30)).save(tmp_path / "t.tif")
    assert np.array_equal(load_image(tmp_path / "t.tif").array, gradient(40, 30))


def test_unicode_and_spaces_in_path(tmp_path: Path) -> None:
    p = make_jpeg(tmp_path / "Kamera 1" / "ñandú 01.JPG", (50, 40))
    assert load_image(p).array.shape == (40, 50, 3)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (no real pixel data)."""
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    idat = _png_chunk(b"IDAT", zlib.compress(bytes(100)))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + _png_chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
        (lambda p: p.write_bytes(sample(RECONYX_GLOB).read_bytes()[:60_000]), "truncated or corrupt JPEG"),
        (lambda p: p.write_text("hello, this is a text file\n" * 20), "not an image file"),
        (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200)), "truncated or corrupt JPEG"),
        (lambda p: p.write_bytes(_png_header_only(20_000, 20_000)), "image too large (400 MP)"),
    ],
    ids=["zero-byte", "truncated", "text-as-jpg", "jpeg-garbage", "huge-400mp"],
)
def test_failures_raise_image_read_error(tmp_path: Path, make, reason: str) -> None:  # noqa: ANN001
    p = tmp_path / "bad.jpg"
    make(p)
    with pytest.raises(ImageReadError) as exc_info:
        load_image(p, target=640)
    assert str(exc_info.value) == reason
    with pytest.raises(ImageReadError):
        load_image(p)


def test_local_pixel_limit_applies_when_pillow_limit_is_lifted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's own default refuses > ~179 MP first (test above); an app that lifts it still
    # gets our 250 MP limit.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    p = tmp_path / "huge.png"
    p.write_bytes(_png_header_only(30_000, 10_000))
    with pytest.raises(ImageReadError, match=r"^image too large \(300 MP\)$"):
        load_image(p)
    p.write_bytes(_png_header_only(2_000, 1_000))  # plausible size, but no pixel data
    with pytest.raises(ImageReadError, match="corrupt"):
        load_image(p)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageReadError, match="not an image file"):
        load_image(tmp_path / "dir.jpg")


def test_truncated_images_policy_is_strict() -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # we never flip it globally


def test_thumbnail_bytes_oriented_and_bounded(tmp_path: Path) -> None:
    p = make_jpeg(tmp_path / "o6.jpg", (400, 300), orientation=6)
    data = thumbnail_bytes(p, size=128)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        assert im.size == (96, 128)  # portrait after orientation 6, long side = 128
    big = thumbnail_bytes(sample(BIG_JPEG_GLOB))
    with Image.open(io.BytesIO(big)) as im:
        assert max(im.size) == 256
    with pytest.raises(ImageReadError, match="empty file"):
        (tmp_path / "z.jpg").write_bytes(b"")
        thumbnail_bytes(tmp_path / "z.jpg")


def test_thumbnail_uses_large_enough_embedded_thumbnail(tmp_path: Path) -> None:
    # Main image: red; embedded IFD1 thumbnail: blue. Which one ends up tells the path taken.
    main = Image.new("RGB", (600, 400), (255, 0, 0))
    thumb = io.BytesIO()
    Image.new("RGB", (300, 200), (0, 0, 255)).save(thumb, format="JPEG")
    exif = Image.Exif()
    exif[0x0112] = 1
    p = tmp_path / "emb.jpg"
    main.save(p, exif=exif.tobytes())
    _inject_ifd1_thumbnail(p, thumb.getvalue())
    with Image.open(io.BytesIO(thumbnail_bytes(p, size=200))) as im:
        r, _, b = np.asarray(im.convert("RGB")).mean(axis=(0, 1))
    assert b > 200 and r < 50  # the embedded (blue) thumbnail was used
    with Image.open(io.BytesIO(thumbnail_bytes(p, size=400))) as im:
        r, _, b = np.asarray(im.convert("RGB")).mean(axis=(0, 1))
    assert r > 200 and b < 50  # too small for 400: decoded the image itself


def _inject_ifd1_thumbnail(path: Path, jpeg: bytes) -> None:
    """Rewrite the file's APP1 with an IFD0 (orientation) + IFD1 pointing at ``jpeg``."""
    # Little-endian TIFF: header(8) IFD0 @8: 1 entry (12) + next-IFD ptr(4) -> IFD1 @26.
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<I", 26)
    ifd1_size = 2 + 3 * 12 + 4
    data_off = 26 + ifd1_size
    ifd1 = (
        struct.pack("<H", 3)
        + struct.pack("<HHII", 0x0103, 3, 1, 6)
        + struct.pack("<HHII", 0x0201, 4, 1, data_off)
        + struct.pack("<HHII", 0x0202, 4, 1, len(jpeg))
        + struct.pack("<I", 0)
    )
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + jpeg
    app1 = b"Exif\x00\x00" + tiff
    raw = path.read_bytes()
    assert raw[:2] == b"\xff\xd8"
    # drop existing APP1 segments, insert ours right after SOI
    pos, out = 2, bytearray(b"\xff\xd8")
    out += b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    while raw[pos] == 0xFF and raw[pos + 1] in range(0xE0, 0xF0):
        seg_len = struct.unpack(">H", raw[pos + 2 : pos + 4])[0]
        if raw[pos + 1] != 0xE1:
            out += raw[pos : pos + 2 + seg_len]
        pos += 2 + seg_len
    out += raw[pos:]
    path.write_bytes(bytes(out))
