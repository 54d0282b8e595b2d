"""Golden files for the analysis-table writers (events and deployments), and their spreadsheet safety.

Regenerate after an intended change with ``WILDLIFE_UPDATE_GOLDEN=1 python -m pytest tests/formats/test_tables.py``
and review the diff like code.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import pytest

from wildlife_desktop.formats.bundle import SequenceInfo
from wildlife_desktop.formats.tables import build_tables, sheet_names, write_tables_csv

from .conftest import Site

GOLDEN = Path(__file__).parent / "golden" / "tables"


@pytest.mark.parametrize("name", ["events.csv", "deployments.csv"])
def test_tables_match_their_golden_files(site: Site, tmp_path: Path, name: str) -> None:
    write_tables_csv(tmp_path, build_tables(site.bundle))
    got = (tmp_path / name).read_bytes()
    golden = GOLDEN / name
    if os.environ.get("WILDLIFE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(got)
    assert golden.exists(), f"missing golden file {golden}; create it with WILDLIFE_UPDATE_GOLDEN=1"
    assert got == golden.read_bytes(), f"{name} differs from {golden}"


def test_a_hostile_location_is_quoted_in_every_table(site: Site, tmp_path: Path) -> None:
    items = tuple(dataclasses.replace(it, sequence=SequenceInfo("=HYPERLINK(1)", "=HYPERLINK(1)/seq_00000", 0, 1))
                  for it in site.bundle.items)
    write_tables_csv(tmp_path, build_tables(dataclasses.replace(site.bundle, items=items)))
    for name in ("events.csv", "deployments.csv"):
        with open(tmp_path / name, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows and all(r["location"] == "'=HYPERLINK(1)" for r in rows)


def test_sheet_names_split_at_the_row_limit() -> None:
    assert sheet_names("events", 0) == ["events"]
    assert sheet_names("events", 1_048_575) == ["events"]
    assert sheet_names("events", 1_048_576) == ["events", "events (2)"]
