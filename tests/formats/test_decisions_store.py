"""decisions.jsonl: append-only checksummed lines, concurrent appenders, migration, damage."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from wildlife_desktop.core.records import BBox, Classification, Detection
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import (
    DecisionLog,
    ReviewDecision,
    append_decisions,
    load_decisions,
    read_decisions,
    save_decisions,
)


def _dec(i: int, kind: str = "accept", label: str = "red_fox", who: str = "ana") -> ReviewDecision:
    det = Detection("1", 0.6, BBox(0.1, 0.1, 0.2, 0.2), (Classification("red_fox", 0.6),))
    rel = f"cam/{i:05d}.jpg"
    return ReviewDecision(rel, detection_id(rel, det), kind, label, who,  # type: ignore[arg-type]
                          f"2026-01-01T10:00:{i % 60:02d}+00:00", det.bbox, None, "red_fox", 0.6)


def _legacy(state: Path, decs: list[ReviewDecision]) -> Path:
    """A version-1 decisions.json exactly as the previous release wrote it (indent=1)."""
    state.mkdir(parents=True, exist_ok=True)
    path = state / "decisions.json"
    path.write_text(json.dumps({"schema_version": 1, "decisions": [d.to_dict() for d in decs]}, indent=1,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_two_logs_append_without_erasing_each_other(tmp_path: Path) -> None:
    ana, bob = DecisionLog(tmp_path), DecisionLog(tmp_path)
    assert ana.read_all() == () and bob.read_all() == ()
    assert ana.append([_dec(1)]).records == ()
    seen = bob.append([_dec(2, who="bob")])  # bob's save brings ana's record in
    assert seen.records == (_dec(1),) and not seen.reset
    assert ana.read_new().records == (_dec(2, who="bob"),)
    assert load_decisions(tmp_path) == (_dec(1), _dec(2, who="bob"))
    # a rewrite by another writer (compaction) is noticed: the whole file comes back
    save_decisions(tmp_path, [_dec(3)])
    upd = ana.read_new()
    assert upd.reset and upd.records == (_dec(3),)
    assert (tmp_path / "decisions.jsonl.bak").exists()  # the replaced file is kept


def test_append_cost_does_not_depend_on_history(tmp_path: Path) -> None:
    save_decisions(tmp_path, [_dec(i) for i in range(2000)])
    log = DecisionLog(tmp_path)
    assert len(log.read_all()) == 2000
    size = (tmp_path / "decisions.jsonl").stat().st_size
    log.append([_dec(5000)])
    # one line appended (the file is never rewritten): a few hundred bytes, not the history
    assert 0 < (tmp_path / "decisions.jsonl").stat().st_size - size < 600


def test_legacy_decisions_json_is_migrated_once_and_kept_as_backup(tmp_path: Path) -> None:
    decs = [_dec(1), _dec(2, "relabel", "badger"), _dec(3, "reject", "")]
    legacy = _legacy(tmp_path, decs)
    original = legacy.read_bytes()
    assert load_decisions(tmp_path) == tuple(decs)
    assert not legacy.exists() and (tmp_path / "decisions.json.bak").read_bytes() == original
    assert load_decisions(tmp_path) == tuple(decs)
    # an interrupted migration (both files present) never doubles the records
    _legacy(tmp_path, decs)
    assert load_decisions(tmp_path) == tuple(decs)
    assert (tmp_path / "decisions.json.bak.1").exists()


def test_truncated_legacy_file_keeps_every_complete_record(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    decs = [_dec(i) for i in range(10)]
    legacy = _legacy(tmp_path, decs)
    text = legacy.read_text(encoding="utf-8")
    cut = text.index(decs[7].file) + 5  # torn in the middle of the 8th record
    legacy.write_text(text[:cut], encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        res = read_decisions(tmp_path)
    assert res.decisions == tuple(decs[:7]) and res.skipped == 1
    assert any("decisions.json" in w for w in res.warnings) and "decisions.json" in caplog.text
    assert (tmp_path / "decisions.json.bak").read_text(encoding="utf-8") == text[:cut]  # never lost


def test_damaged_lines_and_unknown_kinds_are_skipped_counted_and_named(tmp_path: Path) -> None:
    path = save_decisions(tmp_path, [_dec(1), _dec(2), _dec(3)])
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace("red_fox", "red_fax", 1)  # a flipped byte: CRC mismatch
    unknown = ReviewDecision("cam/x.jpg", "dx", "accept")
    lines.append(json.dumps({"crc": 0, "d": {**unknown.to_dict(), "decision": "maybe"}}) + "\n")
    lines.append(lines[3][:30])  # torn by a kill: no newline
    path.write_text("".join(lines), encoding="utf-8")
    res = read_decisions(tmp_path)
    assert res.decisions == (_dec(2), _dec(3)) and res.skipped == 3
    assert len(res.warnings) == 1 and str(path) in res.warnings[0] and "3" in res.warnings[0]
    # the next writer closes the torn line instead of gluing onto it; nothing is lost
    append_decisions(tmp_path, [_dec(4)])
    assert load_decisions(tmp_path) == (_dec(2), _dec(3), _dec(4))


def test_incremental_reader_waits_for_a_line_in_progress(tmp_path: Path) -> None:
    path = save_decisions(tmp_path, [_dec(1)])
    log = DecisionLog(tmp_path)
    assert log.read_all() == (_dec(1),)
    full = path.read_text(encoding="utf-8")
    save_decisions(tmp_path, [_dec(1), _dec(2)])  # replaced: reset, everything again
    assert log.read_new().records == (_dec(1), _dec(2))
    line = path.read_text(encoding="utf-8")[len(full):]
    with open(path, "a", encoding="utf-8") as fh:  # another writer, half-way through a line
        fh.write(line[:20])
    assert log.read_new().records == () and log.skipped == 0
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line[20:])
    assert log.read_new().records == (_dec(2),)
