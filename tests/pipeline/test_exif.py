"""EXIF reading: date fallbacks, validity rules, make/model, orientation, never raising."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.pipeline.fixtures_media import RECONYX_GLOB, make_jpeg, sample
from wildlife_desktop.core.records import MediaMeta
from wildlife_desktop.pipeline.exif import parse_exif_datetime, read_meta


def test_date_time_original_make_model_orientation(tmp_path: Path) -> None:
    p = make_jpeg(
        tmp_path / "a.jpg",
        datetime_original="2019:06:01 06:00:02",
        datetime_digitized="2019:06:01 06:00:05",
        datetime_ifd0="2020:01:01 00:00:00",
        orientation=6,
        make="Reconyx  \x00",
        model=" HC600 ",
    )
    meta = read_meta(p)
    assert meta == MediaMeta(datetime="2019-06-01 06:00:02", make="Reconyx", model="HC600", orientation=6)
    assert meta.width is None and meta.height is None


def test_fallback_to_digitized_then_ifd0(tmp_path: Path) -> None:
    p = make_jpeg(tmp_path / "d.jpg", datetime_digitized="2018:02:03 04:05:06", datetime_ifd0="2020:01:01 00:00:00")
    assert read_meta(p).datetime == "2018-02-03 04:05:06"
    p = make_jpeg(tmp_path / "i.jpg", datetime_ifd0="2017:12:31 23:59:59")
    assert read_meta(p).datetime == "2017-12-31 23:59:59"


@pytest.mark.parametrize(
    "raw",
    [
        "2000:01:01 00:00:00",
        "1970:01:01 00:00:00",
        "0000:00:00 00:00:00",
        "    :  :     :  :  ",
        "garbage",
        "",
    ],
)
def test_invalid_dates_are_none(tmp_path: Path, raw: str) -> None:
    p = make_jpeg(tmp_path / "x.jpg", datetime_original=raw)
    assert read_meta(p).datetime is None


def test_future_date_is_invalid(tmp_path: Path) -> None:
    future = (dt.datetime.now() + dt.timedelta(days=3)).strftime("%Y:%m:%d %H:%M:%S")
    assert read_meta(make_jpeg(tmp_path / "f.jpg", datetime_original=future)).datetime is None
    now = dt.datetime(2024, 5, 1, 12, 0, 0)
    assert parse_exif_datetime("2024:05:01 11:00:00", now=now) == "2024-05-01 11:00:00"
    assert parse_exif_datetime("2024:05:03 12:00:00", now=now) is None
    assert parse_exif_datetime("2001:01:01 00:00:00", now=now) == "2001-01-01 00:00:00"
    assert parse_exif_datetime("2024-05-01 10:00:00\x00", now=now) == "2024-05-01 10:00:00"
    assert parse_exif_datetime("2024:13:01 10:00:00", now=now) is None


def test_no_exif_missing_and_corrupt_never_raise(tmp_path: Path) -> None:
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert read_meta(plain) == MediaMeta()
    assert read_meta(tmp_path / "missing.jpg") == MediaMeta()
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert read_meta(empty) == MediaMeta()
    text = tmp_path / "text.jpg"
    text.write_text("this is not an image\n" * 10)
    assert read_meta(text) == MediaMeta()
    good = make_jpeg(tmp_path / "good.jpg", datetime_original="2019:06:01 06:00:02", make="Bushnell")
    data = good.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:40])  # EXIF block cut in the middle
    meta = read_meta(cut)
    assert isinstance(meta, MediaMeta) and meta.datetime is None
    garbled = bytearray(data)
    garbled[30:200] = bytes(range(170))
    (tmp_path / "garbled.jpg").write_bytes(bytes(garbled))
    assert isinstance(read_meta(tmp_path / "garbled.jpg"), MediaMeta)


def test_invalid_orientation_defaults_to_1(tmp_path: Path) -> None:
    assert read_meta(make_jpeg(tmp_path / "o.jpg", orientation=9)).orientation == 1
    assert read_meta(make_jpeg(tmp_path / "o3.jpg", orientation=3)).orientation == 3


def test_real_reconyx_sample() -> None:
    meta = read_meta(sample(RECONYX_GLOB))
    assert meta.make == "Reconyx"
    assert meta.model == "RC55 RAPIDFIRE"
    assert meta.datetime is not None and meta.datetime.startswith("2011-")
    assert len(meta.datetime) == 19 and meta.datetime[4] == "-" and meta.datetime[10] == " "
