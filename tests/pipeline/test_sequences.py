"""Camera location and sequence assignment (MegaDetector's rules, formats.md §8.3)."""

from __future__ import annotations

import random
import time

import pytest

from wildlife_desktop.formats.bundle import SequenceInfo
from wildlife_desktop.pipeline.sequences import ROOT_LOCATION, assign_sequences, camera_location


@pytest.mark.parametrize(
    ("rel_path", "location"),
    [
        ("cam1/100RECNX/IMG_0001.JPG", "cam1"),
        ("site A/cam 2/101EK113/PICT0001.JPG", "site A/cam 2"),
        ("cam3/100_BTCF/IMAG0001.JPG", "cam3"),
        ("cam4/DCIM/100MEDIA/IMG_0001.JPG", "cam4/DCIM"),
        ("cam5/100dscim/x.jpg", "cam5"),
        ("cam6/100recnx/x.jpg", "cam6"),  # case-insensitive
        ("cam7\\100RECNX\\x.jpg", "cam7"),  # backslashes tolerated
        ("cam8/RECNX/x.jpg", "cam8/RECNX"),  # not an overflow folder: no digits
        ("cam9/100RECNX_old/x.jpg", "cam9/100RECNX_old"),  # whole component must match
        ("IMG_0001.JPG", ROOT_LOCATION),
        ("100RECNX/IMG_0001.JPG", ROOT_LOCATION),
    ],
)
def test_camera_location(rel_path: str, location: str) -> None:
    assert camera_location(rel_path) == location
    assert ROOT_LOCATION == "(root)"


def test_megadetector_documented_example() -> None:
    seqs = assign_sequences(
        [
            ("cam1/100RECNX/IMG_0003.JPG", "2019-06-01 07:30:00"),
            ("cam1/100RECNX/IMG_0001.JPG", "2019-06-01 06:00:00"),
            ("cam1/100RECNX/IMG_0002.JPG", "2019-06-01 06:00:02"),
        ]
    )
    assert seqs == {
        "cam1/100RECNX/IMG_0001.JPG": SequenceInfo("cam1", "cam1/seq_00000", 0, 2),
        "cam1/100RECNX/IMG_0002.JPG": SequenceInfo("cam1", "cam1/seq_00000", 1, 2),
        "cam1/100RECNX/IMG_0003.JPG": SequenceInfo("cam1", "cam1/seq_00001", 0, 1),
    }


def test_gap_is_strictly_greater_and_chains() -> None:
    entries = [
        ("c/a.jpg", "2020-01-01 00:00:00"),
        ("c/b.jpg", "2020-01-01 00:01:00"),  # exactly 60 s: same sequence
        ("c/c.jpg", "2020-01-01 00:02:00"),  # chained: still the same
        ("c/d.jpg", "2020-01-01 00:03:01"),  # 61 s: new one
    ]
    seqs = assign_sequences(entries)
    assert [seqs[p].seq_id for p, _ in entries] == ["c/seq_00000"] * 3 + ["c/seq_00001"]
    assert [seqs[p].frame_num for p, _ in entries] == [0, 1, 2, 0]
    seqs = assign_sequences(entries, gap_s=10)
    assert len({s.seq_id for s in seqs.values()}) == 4


def test_missing_datetimes_are_singletons_sorted_last() -> None:
    entries = [
        ("c/z.jpg", None),
        ("c/y.jpg", None),
        ("c/b.jpg", "2020-01-01 00:00:01"),
        ("c/a.jpg", "2020-01-01 00:00:00"),
        ("c/bad.jpg", "not a date"),
    ]
    seqs = assign_sequences(entries)
    assert seqs["c/a.jpg"] == SequenceInfo("c", "c/seq_00000", 0, 2)
    assert seqs["c/b.jpg"] == SequenceInfo("c", "c/seq_00000", 1, 2)
    assert seqs["c/bad.jpg"] == SequenceInfo("c", "c/seq_00001", 0, 1)
    assert seqs["c/y.jpg"] == SequenceInfo("c", "c/seq_00002", 0, 1)
    assert seqs["c/z.jpg"] == SequenceInfo("c", "c/seq_00003", 0, 1)


def test_locations_are_separate_and_ties_sorted_by_path() -> None:
    t = "2021-03-04 05:06:07"
    seqs = assign_sequences([("b/2.jpg", t), ("b/1.jpg", t), ("a/1.jpg", t), ("x.jpg", t)])
    assert seqs["b/1.jpg"] == SequenceInfo("b", "b/seq_00000", 0, 2)
    assert seqs["b/2.jpg"] == SequenceInfo("b", "b/seq_00000", 1, 2)
    assert seqs["a/1.jpg"] == SequenceInfo("a", "a/seq_00000", 0, 1)
    assert seqs["x.jpg"] == SequenceInfo(ROOT_LOCATION, "(root)/seq_00000", 0, 1)
    # overflow folders of one camera merge into one location, and a sequence spans them
    seqs = assign_sequences(
        [
            ("cam/100RECNX/IMG_9999.JPG", "2021-01-01 00:00:00"),
            ("cam/101RECNX/IMG_0001.JPG", "2021-01-01 00:00:01"),
        ]
    )
    assert {s.seq_id for s in seqs.values()} == {"cam/seq_00000"}


def test_deterministic_regardless_of_input_order() -> None:
    rng = random.Random(1)
    entries: list[tuple[str, str | None]] = [
        (f"cam{i % 3}/IMG_{i:04d}.JPG", f"2022-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}") for i in range(500)
    ]
    entries += [(f"cam{i % 3}/N_{i}.JPG", None) for i in range(20)]
    first = assign_sequences(entries, gap_s=1.0)
    rng.shuffle(entries)
    assert assign_sequences(entries, gap_s=1.0) == first


def test_200k_entries() -> None:
    rng = random.Random(0)
    entries = []
    for i in range(200_000):
        secs = rng.randrange(0, 30 * 86400)
        day, rem = divmod(secs, 86400)
        dt = f"2023-05-{day + 1:02d} {rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}"
        entries.append((f"site{i % 40}/{100 + i % 3}RECNX/IMG_{i:06d}.JPG", None if i % 97 == 0 else dt))
    t0 = time.perf_counter()
    seqs = assign_sequences(entries)
    elapsed = time.perf_counter() - t0
    print(f"assign_sequences: 200k entries in {elapsed:.2f} s")
    assert len(seqs) == 200_000
    assert {s.location for s in seqs.values()} == {f"site{i}" for i in range(40)}
    for s in list(seqs.values())[:1000]:
        assert 0 <= s.frame_num < s.seq_num_frames
