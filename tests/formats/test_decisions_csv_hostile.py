"""The decisions CSV reader on malformed and random input (issue 11, item 10): a clear error or
a valid import, never a traceback."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.formats.decisions import DECISION_KINDS
from wildlife_desktop.formats.decisions_csv import DECISION_CSV_COLUMNS, read_decisions_csv

HEAD = "file,detection_id,decision,label,reviewer,time,x_min,y_min,width,height,confidence,frame\n"
GOOD = "a.jpg,d0123456789ab,accept,fox,ana,2026-01-01T10:00:00+00:00,0.1,0.1,0.2,0.2,0.9,\n"


def _read(tmp_path: Path, text: str) -> tuple:
    p = tmp_path / "d.csv"
    p.write_text(text, encoding="utf-8")
    return read_decisions_csv(p)


def test_good_row_reads(tmp_path: Path) -> None:
    (d,) = _read(tmp_path, HEAD + GOOD)
    assert (d.confidence, d.time, d.bbox.w) == (0.9, "2026-01-01T10:00:00+00:00", 0.2)  # type: ignore[union-attr]


def test_huge_header_field_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="line 1: not a readable"):
        _read(tmp_path, '"' + "f" * 140_000 + '",' + HEAD + GOOD)


@pytest.mark.parametrize("row, message", [
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-01-01,0.1,0.1,0.2,0.2,nan,\n", "confidence"),
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-01-01,0.1,0.1,0.2,0.2,inf,\n", "confidence"),
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-01-01,0.1,0.1,0.2,0.2,-inf,\n", "confidence"),
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-01-01,nan,0.1,0.2,0.2,0.5,\n", "x_min"),
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-01-01,0.1,0.1,1e308,0.2,0.5,\n", "width"),
    ("a.jpg,d0123456789ab,accept,fox,ana,zzzz-garbage,0.1,0.1,0.2,0.2,0.5,\n", "time"),
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-13-45T99:00:00,0.1,0.1,0.2,0.2,0.5,\n", "time"),
    ("a.jpg,d0123456789ab,accept,fox,ana,2026-01-01,0.1,0.1,0.2,0.2,0.5," + "9" * 4000 + "\n", "frame"),
    ("a.jpg,d0123456789ab,accept," + "x" * 5000 + ",ana,2026-01-01,,,,,,\n", "label"),
    ("a.jpg,d01 23,accept,fox,ana,2026-01-01,,,,,,\n", "detection id"),
    ('a.jpg,d0123456789ab,accept,"' + "x" * 140_000 + '",ana,2026-01-01,,,,,,\n', "line 3: not a readable"),
])
def test_malformed_rows_are_clear_errors(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        _read(tmp_path, HEAD + GOOD + row.replace("a.jpg", "b.jpg", 1))


_cell = st.text(max_size=12) | st.sampled_from(["", "nan", "inf", "-1", "0.5", "1e309", "2026-01-01", "=1",
                                                "'-3", "d0123456789ab", " ", "\x00", '"', "\r\n"])
_row = st.fixed_dictionaries({c: _cell for c in DECISION_CSV_COLUMNS}).map(
    lambda r: {**r, "decision": r["decision"] if r["decision"] else "accept"})
_kinds = st.sampled_from([*DECISION_KINDS, "ACCEPT", "maybe"])


def _csv(rows: list[dict[str, str]], columns: list[str]) -> str:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_row, _kinds), max_size=4),
       columns=st.permutations(DECISION_CSV_COLUMNS).flatmap(lambda c: st.integers(3, len(c)).map(lambda n: c[:n])),
       raw=st.none() | st.text(max_size=40))
def test_random_csv_reads_or_fails_clearly(tmp_path: Path, rows, columns, raw) -> None:
    text = raw if raw is not None else _csv([{**r, "decision": k} for r, k in rows], list(columns))
    try:
        decisions = _read(tmp_path, text)
    except DatasetError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for d in decisions:
        assert d.decision in DECISION_KINDS and d.file
        assert d.confidence is None or 0.0 <= d.confidence <= 1.0
        assert d.bbox is None or all(math.isfinite(v) for v in d.bbox.as_list())
