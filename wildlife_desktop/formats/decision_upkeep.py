"""Upkeep of ``decisions.jsonl`` at quiet moments (an export, ``decisions compact``; never per key press).

Both rewrite the file under the write lock after re-reading it under that lock:
:func:`compact_decisions` moves superseded records to ``decisions-history.jsonl``, and
:func:`fill_missing_boxes` gives box-less records their detection's box (once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_bytes
from ..core.errors import SidecarWriteError
from ..core.locks import write_lock
from ..core.records import Detection
from .decision_apply import _with_box
from .decision_lines import _BAD, _append_lines, _header, _items, _line, _LineItem
from .decision_log import decisions_path, read_decisions
from .decision_record import COMPACT_MIN_RECORDS, COMPACT_RATIO, HISTORY_FILE, DecisionKey, ReviewDecision

# The package-level logger name of before the split, so log output and filters stay the same.
logger = logging.getLogger(__name__.rsplit(".", 1)[0] + ".decisions")


@dataclass(frozen=True)
class CompactResult:
    """What :func:`compact_decisions` did: record counts before and after, and where the rest went."""

    before: int
    after: int
    archive: Path | None = None  # the history file the superseded records were appended to

    @property
    def compacted(self) -> bool:
        return self.after < self.before


def needs_compaction(history: Sequence[ReviewDecision]) -> bool:
    """True when ``history`` is mostly superseded records (> 2x the live ones, over 10,000 records)."""
    return len(history) > COMPACT_MIN_RECORDS and len(history) > COMPACT_RATIO * _live_count(history)


def _live_count(history: Sequence[ReviewDecision]) -> int:
    return len(_keep_indexes([(b"", d) for d in history]))


def _keep_indexes(items: Sequence[tuple[bytes, _LineItem]]) -> set[int]:
    """Lines a compaction keeps: per detection, its last record, and its last record with a box
    when the last one has none (a merge gives a bare CSV row that box, see :func:`merge_decisions`)."""
    last: dict[DecisionKey, int] = {}
    boxed: dict[DecisionKey, int] = {}
    for i, (_, it) in enumerate(items):
        if isinstance(it, ReviewDecision):
            last[it.key] = i
            if it.bbox is not None:
                boxed[it.key] = i
    keep = set(last.values())
    for key, i in last.items():
        rec = items[i][1]
        if isinstance(rec, ReviewDecision) and rec.bbox is None and key in boxed:
            keep.add(boxed[key])
    return keep


def _flags(items: Sequence[tuple[bytes, _LineItem]]) -> dict[str, Any]:
    """The upkeep flags of the file's first header (``boxes_filled``), to carry over on a rewrite."""
    for _, it in items:
        if isinstance(it, dict):
            return {k: v for k, v in it.items() if k not in ("header", "schema_version")}
    return {}


def _rewrite(path: Path, flags: Mapping[str, Any], lines: Iterable[bytes]) -> None:
    """Replace the file atomically (caller holds the write lock); readers see a new file and re-read it."""
    body = b"".join(ln + b"\n" for ln in lines)
    atomic_write_bytes(path, _header(**flags).encode("utf-8") + body)


def compact_decisions(state_dir: Path, *, force: bool = False) -> CompactResult:
    """Rewrite ``decisions.jsonl`` with only the records that still matter, under the write lock.

    Kept, in their order: per detection its last record (the effective decision, or the undo
    tombstone that cleared it) and its last boxed record when the last has no box; unreadable
    lines stay as they were. Every superseded record is first appended, verbatim, to
    ``decisions-history.jsonl`` beside it (same format), so the audit trail is never lost.
    The file is re-read under the lock, so a record another process appended meanwhile is
    kept. Without ``force`` nothing happens unless :func:`needs_compaction` holds.

    Undo stays possible in an open review window: its steps hold the records they restore, and
    its :class:`DecisionLog` sees the new file and re-reads it.

    Raises:
        FolderBusyError, SidecarWriteError: the folder is locked for too long, or not writable.
        DatasetError: the file was written by a newer version of the app.
    """
    read_decisions(state_dir)  # migrates a version-1 file first (takes the lock itself)
    path = decisions_path(state_dir)
    with write_lock(state_dir):
        if not path.exists():
            return CompactResult(0, 0)
        items = _items(path.read_bytes(), path)
        keep = _keep_indexes(items)
        n = sum(1 for _, it in items if isinstance(it, ReviewDecision))
        if not force and not (n > COMPACT_MIN_RECORDS and n > COMPACT_RATIO * len(keep)):
            return CompactResult(n, n)
        kept = [raw for i, (raw, it) in enumerate(items) if i in keep or it is _BAD]
        gone = [raw for i, (raw, it) in enumerate(items) if isinstance(it, ReviewDecision) and i not in keep]
        if not gone:
            return CompactResult(n, n)
        archive = Path(state_dir) / HISTORY_FILE
        try:
            _append_lines(archive, [raw.decode("utf-8", errors="replace") + "\n" for raw in gone])
        except OSError as exc:
            raise SidecarWriteError(f"Cannot write {archive}: {exc.strerror or exc}") from exc
        _rewrite(path, _flags(items), kept)
    logger.info("compacted %s: %d records -> %d (the %d superseded ones appended to %s)",
                path, n, len(keep), len(gone), archive.name)
    return CompactResult(n, len(keep), archive)


def fill_missing_boxes(
    state_dir: Path, history: Sequence[ReviewDecision],
    find: Callable[[frozenset[DecisionKey]], Mapping[DecisionKey, Detection]],
) -> int:
    """Give stored box-less decisions (a bare CSV imported by an older release) their detection's box.

    Once per file: ``find`` gets the keys of every box-less decision on a detection and returns
    the detections it found in the folder's layers (it runs before the lock is taken: reading
    the layers may take a while). The file is then re-read and rewritten under the write lock
    with those records completed as :func:`attach_boxes` does, and marked ``boxes_filled`` so
    the layers are not searched again. Returns how many records got a box.

    Raises:
        FolderBusyError, SidecarWriteError: the folder is locked for too long, or not writable.
    """
    path = decisions_path(state_dir)
    need = frozenset(d.key for d in history if d.bbox is None and d.detection_id and d.decision != "count")
    if not need or not path.exists() or _boxes_filled(path):
        return 0
    found = find(need)
    filled = 0
    with write_lock(state_dir):
        items = _items(path.read_bytes(), path)
        flags = _flags(items)
        if flags.get("boxes_filled"):
            return 0  # another process did it meanwhile
        lines = []
        for raw, it in items:
            if isinstance(it, dict):
                continue
            det = found.get(it.key) if isinstance(it, ReviewDecision) and it.bbox is None else None
            if isinstance(it, ReviewDecision) and det is not None:
                raw = _line(_with_box(it, det)).rstrip("\n").encode("utf-8")
                filled += 1
            lines.append(raw)
        _rewrite(path, {**flags, "boxes_filled": True}, lines)
    logger.info("%s: gave %d of %d box-less decision(s) the box of their detection", path, filled, len(need))
    return filled


def _boxes_filled(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            first = fh.readline(4096)
        head = json.loads(first) if first.startswith(b'{"header"') else {}
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and head.get("boxes_filled") is True
