"""The human-decision layer: what a person decided about a detection, stored beside the journal.

Decisions live in ``<state_dir>/decisions.jsonl`` (``state_dir`` is the folder's ``.wildlife/``),
never inside a model's journal, so re-running the AI (a new result layer) keeps every one. Like
the journal, the file is append-only JSON lines, each with a CRC of its payload::

    {"header": true, "schema_version": 2}
    {"crc": 1234567890, "d": {"file": ..., "detection_id": ..., "decision": ..., ...}}

Every writer (a review window, ``decisions import``, a second laptop on the same card) appends
its own records under the folder's write lock (``core.locks``) and never rewrites anyone
else's, so nothing a person decided is lost to a concurrent writer; a key press costs one
appended line, whatever the history's size. A torn, damaged or unknown record is skipped,
counted and named in a warning; it never makes the folder unreadable. A version-1
``decisions.json`` (one JSON document) is migrated on first open and kept as
``decisions.json.bak``.

Design decisions:

* The file is an **append-only history**; the latest record per ``(file, detection_id)``
  wins, *latest* meaning later in the file. Undo appends the restored record, or a ``"clear"``
  tombstone when there was none, so the file is also an audit trail.
* At quiet moments (an export, ``decisions compact``; never per key press) the file may be
  rewritten under the write lock, re-read under it so no appended record is lost:
  :func:`compact_decisions` moves superseded records to ``decisions-history.jsonl`` once they
  outnumber the live ones 2:1 (over 10,000 records), and :func:`fill_missing_boxes` gives
  box-less records stored by an older release their detection's box (once, flagged in the
  header). Readers notice the new file and re-read it.
* A file-level decision (``"empty"``) has ``detection_id == ""``. It applies only when it is
  newer than every positive decision on a box of the same file.
* A record keeps the box (``bbox``, ``frame``) and what the model said when the person decided
  (``model_label``, ``confidence``). The box lets a decision follow its animal when another
  model re-ran (same file/frame, IoU >= 0.5); the model fields feed calibration.
* Merging several reviewers (:func:`merge_decisions`) compares ``time`` (ISO 8601): a later
  decision on the same detection wins, and every disagreement is listed as a conflict.

Merge rules at export (:func:`apply_decisions`): accept → verified (with the decision's label
when it differs from the model's); relabel → classifications ``((label, 1.0),)`` + verified;
unknown → label ``"unknown"`` + verified; reject → the box is removed; empty → the file is
verified empty and *all* its boxes are removed, so every sidecar (MD JSON included) shows it
empty. A verified label also sets the box's detector category (:func:`category_for_label`): a
species means animal, a person or vehicle label the matching category, so every output says
the same thing. A verified box (accept/relabel/unknown) that the current model missed stays in
every export as a human-verified detection with the box the person saw (confidence 1.0).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from ..core.atomic import atomic_write_bytes, atomic_write_text
from ..core.errors import DatasetError, SidecarWriteError, WildlifeError
from ..core.locks import write_lock
from ..core.records import DETECTION_CATEGORIES, BBox, Classification, Detection, Prediction
from .bundle import ExportBundle, ExportItem, detection_id

DecisionKind = Literal["accept", "reject", "relabel", "unknown", "empty", "count", "missed", "clear"]

logger = logging.getLogger(__name__)

DECISIONS_FILE: Final = "decisions.jsonl"
DECISIONS_SCHEMA_VERSION: Final = 2
LEGACY_DECISIONS_FILE: Final = "decisions.json"  # version 1: one JSON document, rewritten per decision
HISTORY_FILE: Final = "decisions-history.jsonl"  # superseded records moved out by a compaction
COMPACT_MIN_RECORDS: Final = 10_000
COMPACT_RATIO: Final = 2.0
LEGACY_SCHEMA_VERSION: Final = 1
#: Kinds a person can make (``"clear"`` is the internal tombstone written by undo).
DECISION_KINDS: Final[tuple[str, ...]] = ("accept", "reject", "relabel", "unknown", "empty", "count", "missed")
#: ``count``: a person's count of one label in one image (``detection_id`` is :func:`count_key`);
#: ``missed``: a file-level "there is an animal the detector missed" (the empty-image audit).
COUNT_PREFIX: Final = "count:"
#: ``source`` of a decision accepted from a smoothing suggestion (``review.smoothing``).
SOURCE_SMOOTHING: Final = "smoothing"
#: ``reason`` of a reject that suppresses a repeat detection (``review.rde``); ``group`` = the cluster id.
REASON_REPEAT: Final = "repeat-detection"
POSITIVE_KINDS: Final[frozenset[str]] = frozenset({"accept", "relabel", "unknown"})
UNKNOWN_LABEL: Final = "unknown"
MATCH_IOU: Final = 0.5
#: Labels that are not a species (review.queue uses them to spot detector/classifier disagreement).
BLANK_LABELS: Final = frozenset({"blank", "empty", "none", "background", "nothing"})
PERSON_LABELS: Final = frozenset({"human", "person", "people", "homo sapiens", "homo_sapiens"})
VEHICLE_LABELS: Final = frozenset({"vehicle", "car", "truck", "motorcycle"})

DecisionKey = tuple[str, str]


@dataclass(frozen=True)
class ReviewDecision:
    """One person's decision on one detection (or, with ``detection_id == ""``, on a file)."""

    file: str  # relative path, forward slashes
    detection_id: str  # formats.bundle.detection_id; "" for a file-level decision
    decision: DecisionKind
    label: str = ""  # the verified label (accept/relabel/unknown); "" when not applicable
    reviewer: str = ""
    time: str = ""  # ISO 8601, e.g. "2026-11-23T02:16:42.123+00:00"
    bbox: BBox | None = None  # the box decided on, to re-attach after another model ran
    frame: int | None = None
    model_label: str = ""  # the model's top label (or detector category) when decided
    confidence: float | None = None  # the model's certainty when decided (see review.queue)
    source: str = ""  # how the decision was made: "" a key press, "smoothing" an accepted suggestion, "audit"
    reason: str = ""  # why, for bulk decisions: "repeat-detection" (a suppressed cluster)
    group: str = ""  # the bulk decision's group, e.g. the repeat-detection cluster id
    count: int | None = None  # kind "count": the number of individuals of ``label`` in the image

    @property
    def key(self) -> DecisionKey:
        return (self.file, self.detection_id)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "detection_id": self.detection_id, "decision": self.decision,
                             "label": self.label, "reviewer": self.reviewer, "time": self.time}
        if self.bbox is not None:
            d["bbox"] = self.bbox.as_list()
        if self.frame is not None:
            d["frame"] = self.frame
        if self.model_label:
            d["model_label"] = self.model_label
        if self.confidence is not None:
            d["confidence"] = self.confidence
        for name in ("source", "reason", "group"):
            if getattr(self, name):
                d[name] = getattr(self, name)
        if self.count is not None:
            d["count"] = self.count
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReviewDecision:
        """Parse one record; raises ``DatasetError`` when it is malformed."""
        kind = str(d.get("decision", ""))
        if kind not in DECISION_KINDS and kind != "clear":
            raise DatasetError(f"Unknown decision {kind!r} for {d.get('file')!r}.")
        if not isinstance(d.get("file"), str) or not d["file"]:
            raise DatasetError("Decision without a file.")
        box = d.get("bbox")
        try:
            bbox = BBox(*(float(v) for v in box)) if box else None
            frame = int(d["frame"]) if d.get("frame") not in (None, "") else None
            conf = float(d["confidence"]) if d.get("confidence") not in (None, "") else None
            count = int(d["count"]) if d.get("count") not in (None, "") else None
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"Malformed decision for {d['file']!r}: {exc}") from exc
        return cls(file=d["file"], detection_id=str(d.get("detection_id") or ""), decision=kind,  # type: ignore[arg-type]
                   label=str(d.get("label") or ""), reviewer=str(d.get("reviewer") or ""),
                   time=str(d.get("time") or ""), bbox=bbox, frame=frame,
                   model_label=str(d.get("model_label") or ""), confidence=conf,
                   source=str(d.get("source") or ""), reason=str(d.get("reason") or ""),
                   group=str(d.get("group") or ""), count=count)


def count_key(label: str) -> str:
    """The ``detection_id`` of a ``count`` decision on ``label`` (one per label and image)."""
    return COUNT_PREFIX + label


@dataclass(frozen=True)
class DecisionConflict:
    """Two decisions on the same detection that disagree; ``kept`` is the later one."""

    kept: ReviewDecision
    overruled: ReviewDecision


@dataclass(frozen=True)
class MergeResult:
    decisions: tuple[ReviewDecision, ...]  # the merged history (existing + accepted incoming)
    added: int
    conflicts: tuple[DecisionConflict, ...]


# ----------------------------------------------------------------------------------------------
# file I/O: append-only lines with a CRC each, one writer at a time (core.locks)


def decisions_path(state_dir: Path) -> Path:
    """``<state_dir>/decisions.jsonl``."""
    return Path(state_dir) / DECISIONS_FILE


@dataclass(frozen=True)
class DecisionsRead:
    """What reading a folder's decisions found: the records, and how many were unreadable."""

    decisions: tuple[ReviewDecision, ...]
    skipped: int = 0
    warnings: tuple[str, ...] = ()


def _line(d: ReviewDecision) -> str:
    payload = json.dumps(d.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'{{"crc":{zlib.crc32(payload.encode("utf-8"))},"d":{payload}}}\n'


def _header(**flags: Any) -> str:
    """The first line; ``flags`` (e.g. ``boxes_filled``) record upkeep already done on the file."""
    return json.dumps({"header": True, "schema_version": DECISIONS_SCHEMA_VERSION, **flags}) + "\n"


_BAD: Final = object()  # an unreadable line (torn, damaged, unknown kind)
_LineItem = ReviewDecision | dict[str, Any] | None | object


def _decode(raw: bytes) -> ReviewDecision | dict[str, Any] | None:
    """One stored line: its record, the header's fields, or None when blank.

    Raises:
        ValueError, TypeError, AttributeError, DatasetError: the line is unreadable.
    """
    line = raw.decode("utf-8", errors="replace").strip()
    if not line:
        return None
    if line.startswith('{"header"'):
        head = json.loads(line)
        int(head.get("schema_version", 0))  # a header without a usable version is damaged
        return dict(head)
    # The CRC covers the payload text exactly as written; "crc" is an int, so the first
    # ',"d":' starts the payload.
    start = line.index(',"d":') + 5
    payload = line[start:line.rindex("}")]
    if not line.startswith('{"crc":') or zlib.crc32(payload.encode("utf-8")) != int(line[7:start - 5]):
        raise ValueError("crc mismatch")
    return ReviewDecision.from_dict(json.loads(payload))


def _items(data: bytes, path: Path) -> list[tuple[bytes, _LineItem]]:
    """Every non-blank line of ``data`` with what it holds (``_BAD`` when unreadable).

    Raises:
        DatasetError: a header says the file was written by a newer version of the app.
    """
    out: list[tuple[bytes, _LineItem]] = []
    for raw in data.split(b"\n"):
        try:
            item: _LineItem = _decode(raw)
        except (ValueError, TypeError, AttributeError, DatasetError):
            item = _BAD
        if isinstance(item, dict) and int(item.get("schema_version", 0)) > DECISIONS_SCHEMA_VERSION:
            raise DatasetError(f"{path} was written by a newer version of Wildlife Desktop.")
        if item is not None:
            out.append((raw.strip(), item))
    return out


def _parse_lines(data: bytes, path: Path) -> tuple[list[ReviewDecision], int]:
    """Records of complete lines in ``data``; bad lines (torn, CRC, unknown kind) are counted."""
    items = _items(data, path)
    return [it for _, it in items if isinstance(it, ReviewDecision)], sum(1 for _, it in items if it is _BAD)


def _read_legacy(path: Path) -> tuple[list[ReviewDecision], int]:
    """The records of a version-1 ``decisions.json``; a truncated file gives its complete records."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and int(data.get("schema_version", 0) or 0) > LEGACY_SCHEMA_VERSION:
        raise DatasetError(f"{path} was written by a newer version of Wildlife Desktop.")
    raw: list[Any] = []
    bad = 0
    if isinstance(data, dict) and isinstance(data.get("decisions"), list):
        raw = data["decisions"]
    else:  # torn or malformed: salvage every complete record before the damage
        bad = 1
        at = text.find("[", text.find('"decisions"') + 1) if '"decisions"' in text else -1
        dec = json.JSONDecoder()
        while at >= 0:
            at = text.find("{", at)
            if at < 0:
                break
            try:
                obj, at = dec.raw_decode(text, at)
            except ValueError:
                break
            raw.append(obj)
    out = []
    for rec in raw:
        try:
            if not isinstance(rec, dict):
                raise DatasetError("not a record")
            out.append(ReviewDecision.from_dict(rec))
        except DatasetError:
            bad += 1
    return out, bad


def _backup_name(path: Path, suffix: str) -> Path:
    cand = path.with_name(path.name + suffix)
    n = 1
    while cand.exists():
        cand = path.with_name(f"{path.name}{suffix}.{n}")
        n += 1
    return cand


def _warn(path: Path, bad: int) -> str:
    msg = (f"{path}: skipped {bad} unreadable decision record(s) (torn, damaged or of an unknown kind); "
           "every other decision is kept")
    logger.warning("%s", msg)
    return msg


def _migrate_legacy(state_dir: Path) -> tuple[list[str], int]:
    """Move a version-1 ``decisions.json`` into the line file (under the write lock); keep it as a backup.

    Records already in the line file (an interrupted earlier migration) are not added twice.
    Returns warnings and the count of unreadable records; nothing happens when the folder
    cannot be written (read-only card).
    """
    legacy = Path(state_dir) / LEGACY_DECISIONS_FILE
    warnings: list[str] = []
    bad = 0
    try:
        with write_lock(state_dir):
            if not legacy.exists():
                return warnings, bad
            records, bad = _read_legacy(legacy)
            if bad:
                warnings.append(_warn(legacy, bad))
            path = decisions_path(state_dir)
            have = set()
            if path.exists():
                have = {_line(d) for d in _parse_lines(path.read_bytes(), path)[0]}
            lines = [ln for d in records if (ln := _line(d)) not in have]
            if not path.exists():
                atomic_write_text(path, _header() + "".join(lines))
            elif lines:
                _append_lines(path, lines)
            backup = _backup_name(legacy, ".bak")
            os.replace(legacy, backup)
            logger.info("migrated %s to %s (%d decisions); the old file is kept as %s",
                        legacy, path, len(records), backup.name)
    except (WildlifeError, OSError) as exc:  # read-only: read the old file in place
        logger.info("%s not migrated: %s", legacy, exc)
        return [], 0
    return warnings, bad


def _append_lines(path: Path, lines: Sequence[str]) -> None:
    """Append whole lines (caller holds the write lock); a torn last line is closed first."""
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "ab") as fh:
        if new:
            fh.write(_header().encode("utf-8"))
        else:
            with open(path, "rb") as rd:
                rd.seek(-1, os.SEEK_END)
                if rd.read(1) != b"\n":
                    fh.write(b"\n")  # a line torn by a killed writer: never glue onto it
        fh.write("".join(lines).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def read_decisions(state_dir: Path) -> DecisionsRead:
    """Every readable decision of a folder (oldest first), with the count of unreadable ones.

    A version-1 ``decisions.json`` is migrated on first read (kept as ``decisions.json.bak``);
    damaged lines are skipped, counted and named in a warning (see :func:`load_decisions`).

    Raises:
        DatasetError: the file was written by a newer version of the app.
    """
    log = DecisionLog(state_dir)
    records = log.read_all(complete=True)
    return DecisionsRead(records, log.skipped, log.warnings)


def load_decisions(state_dir: Path) -> tuple[ReviewDecision, ...]:
    """The full decision history of a folder (oldest first); ``()`` when there is none.

    Unreadable records (a torn line, a damaged byte, an unknown decision kind) never stop the
    folder: they are skipped and counted, and a warning names the file.

    Raises:
        DatasetError: the file was written by a newer version of the app.
    """
    return read_decisions(state_dir).decisions


def save_decisions(state_dir: Path, decisions: Iterable[ReviewDecision]) -> Path:
    """Replace the whole history (compaction), atomically and under the folder's write lock.

    The file it replaces is kept as ``decisions.jsonl.bak``. Only for tools and tests that
    rewrite a history; a writer adding records uses :func:`append_decisions`.
    """
    path = decisions_path(state_dir)
    with write_lock(state_dir):
        if path.exists():
            shutil.copyfile(path, path.with_name(path.name + ".bak"))
        atomic_write_text(path, _header() + "".join(_line(d) for d in decisions))
    return path


def update_decisions(
    state_dir: Path, change: Callable[[tuple[ReviewDecision, ...]], Sequence[ReviewDecision]]
) -> tuple[ReviewDecision, ...]:
    """Append ``change(history)`` to the history, reading and appending under one lock hold.

    For a writer whose new records depend on the current history (merging an imported CSV):
    no other writer can add records between the read and the append. Returns what was added.
    """
    read_decisions(state_dir)  # migrates a version-1 file first (takes the lock itself)
    with write_lock(state_dir):
        path = decisions_path(state_dir)
        history = tuple(_parse_lines(path.read_bytes(), path)[0]) if path.exists() else ()
        new = tuple(change(history))
        if new:
            _append_lines(path, [_line(d) for d in new])
    return new


def append_decisions(state_dir: Path, new: Sequence[ReviewDecision]) -> tuple[ReviewDecision, ...]:
    """Append ``new`` to the stored history; return the whole history."""
    update_decisions(state_dir, lambda _history: new)
    return load_decisions(state_dir)


# ----------------------------------------------------------------------------------------------
# upkeep at quiet moments (an export, ``decisions compact``): rewrites under the write lock


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


@dataclass(frozen=True)
class LogUpdate:
    """Records read by :class:`DecisionLog`; ``reset``: the file was replaced, ``records`` is all of it."""

    records: tuple[ReviewDecision, ...]
    reset: bool = False


class DecisionLog:
    """One reader/appender of a folder's decisions that keeps its place in the file.

    A review session appends each key press here: the cost is the lock, the bytes other
    writers added since the last call, and one appended line, whatever the history's size.
    Whatever other writers (another window, a ``decisions import``, a second laptop) appended
    meanwhile comes back from :meth:`append` and :meth:`read_new`, so the session sees it.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = decisions_path(self.state_dir)
        self._offset = 0
        self._ident: tuple[int, int] | None = None
        self.skipped = 0
        self.warnings: tuple[str, ...] = ()

    def read_all(self, *, complete: bool = False) -> tuple[ReviewDecision, ...]:
        """The whole history (migrating a version-1 file); the log then follows the file from its end.

        ``complete``: also count a last line without its newline as damaged (a one-shot reader);
        otherwise it is left for the next read (it may be another writer's line in progress).
        """
        legacy = self.state_dir / LEGACY_DECISIONS_FILE
        warnings: list[str] = []
        old: tuple[ReviewDecision, ...] = ()
        self.skipped = 0
        if legacy.exists():
            warnings, self.skipped = _migrate_legacy(self.state_dir)
        if legacy.exists():  # could not be migrated (read-only card): read it where it is
            try:
                recs, bad = _read_legacy(legacy)
            except OSError as exc:
                raise DatasetError(f"Cannot read decisions file {legacy}: {exc.strerror or exc}") from exc
            old, self.skipped = tuple(recs), bad
            if bad:
                warnings.append(_warn(legacy, bad))
        self.warnings = tuple(warnings)
        self._offset, self._ident = 0, None
        return old + self.read_new(complete=complete).records

    def read_new(self, *, complete: bool = False) -> LogUpdate:
        """Records appended since the last call (everything, ``reset=True``, when the file was replaced)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            reset = self._offset > 0
            self._offset, self._ident = 0, None
            return LogUpdate((), reset)
        except OSError as exc:
            raise DatasetError(f"Cannot read decisions file {self.path}: {exc.strerror or exc}") from exc
        ident = (st.st_dev, st.st_ino)
        reset = self._ident is not None and (ident != self._ident or st.st_size < self._offset)
        if reset or self._ident is None:
            self._offset = 0
        self._ident = ident
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError as exc:
            raise DatasetError(f"Cannot read decisions file {self.path}: {exc.strerror or exc}") from exc
        # A line still being written (or torn by a kill) waits for its newline, unless ``complete``.
        end = len(data) if complete else data.rfind(b"\n") + 1
        records, bad = _parse_lines(data[:end], self.path)
        if bad:
            self.skipped += bad
            self.warnings = (*self.warnings, _warn(self.path, bad))
        self._offset += end
        return LogUpdate(tuple(records), reset)

    def append(self, records: Sequence[ReviewDecision]) -> LogUpdate:
        """Append ``records`` under the write lock; return what others appended since the last read.

        Raises:
            FolderBusyError: another writer held the folder for too long.
            SidecarWriteError: the folder cannot be written.
        """
        try:
            with write_lock(self.state_dir):
                others = self.read_new()
                _append_lines(self.path, [_line(d) for d in records])
                st = os.stat(self.path)
                self._ident, self._offset = (st.st_dev, st.st_ino), st.st_size
        except OSError as exc:
            raise SidecarWriteError(f"Cannot save the decision in {self.path}: {exc.strerror or exc}") from exc
        return others


# ----------------------------------------------------------------------------------------------
# latest-wins view and merging


def latest_decisions(decisions: Iterable[ReviewDecision]) -> dict[DecisionKey, ReviewDecision]:
    """The effective decision per ``(file, detection_id)``: the last record, minus tombstones."""
    out: dict[DecisionKey, ReviewDecision] = {}
    for d in decisions:
        out.pop(d.key, None)  # re-insert so dict order follows the history
        if d.decision != "clear":
            out[d.key] = d
    return out


def _disagree(a: ReviewDecision, b: ReviewDecision) -> bool:
    return a.decision != b.decision or (a.label or "") != (b.label or "") or a.count != b.count


def merge_decisions(existing: Sequence[ReviewDecision], incoming: Iterable[ReviewDecision]) -> MergeResult:
    """Merge another reviewer's decisions into a history: a later ``time`` wins per detection.

    An incoming record that is older than the effective one is not applied; when the two
    disagree (kind or label) the pair is listed as a conflict either way. Identical records
    are ignored, so importing the same CSV twice changes nothing. A row without a box (a
    bare CSV) inherits the box stored for the same detection, so it still follows its animal
    to another model's output.
    """
    history = list(existing)
    current = latest_decisions(history)
    boxes = {d.key: d for d in history if d.bbox is not None}
    conflicts: list[DecisionConflict] = []
    added = 0
    for new in sorted(incoming, key=lambda d: d.time):
        known = boxes.get(new.key)
        if new.bbox is None and known is not None:  # a bare CSV row: keep the box so IoU matching still works
            new = replace(new, bbox=known.bbox, frame=known.frame, model_label=new.model_label or known.model_label,
                          confidence=known.confidence if new.confidence is None else new.confidence)
        old = current.get(new.key)
        if old is not None and not _disagree(old, new) and old.reviewer == new.reviewer:
            continue
        newer = old is None or new.time > old.time
        if old is not None and _disagree(old, new):
            conflicts.append(DecisionConflict(kept=new if newer else old, overruled=old if newer else new))
        if newer:
            history.append(new)
            current[new.key] = new
            added += 1
    return MergeResult(tuple(history), added, tuple(conflicts))


# ----------------------------------------------------------------------------------------------
# matching decisions to detections, and the export merge


def category_for_label(label: str) -> str | None:
    """The detector category a verified label implies ("1" animal, "2" person, "3" vehicle).

    None for "unknown", blank-like labels and "" (the box keeps the detector's category).
    """
    text = label.strip().lower()
    if not text or text == UNKNOWN_LABEL or text in BLANK_LABELS:
        return None
    if text in PERSON_LABELS:
        return "2"
    if text in VEHICLE_LABELS:
        return "3"
    return "1"


def _model_certainty(det: Detection) -> float:
    top = det.top_label_confidence
    return det.confidence if top is None else min(det.confidence, top)


def attach_boxes(decisions: Iterable[ReviewDecision], predictions: Mapping[str, Prediction]) -> tuple[
        tuple[ReviewDecision, ...], int]:
    """Give box-less decisions (a bare CSV row) the box, frame and model label of their detection.

    ``predictions``: a layer's predictions by relative path (the layer the decision was made
    on). Returns the decisions and how many got a box. Decisions that already have a box, and
    file-level ones, are returned unchanged.
    """
    out, n = [], 0
    ids: dict[str, dict[str, Detection]] = {}
    for d in decisions:
        pred = predictions.get(d.file) if d.bbox is None and d.detection_id else None
        if pred is not None:
            by_id = ids.get(d.file)
            if by_id is None:
                by_id = ids[d.file] = {detection_id(d.file, det): det for det in pred.detections}
            det = by_id.get(d.detection_id)
            if det is not None:
                d = _with_box(d, det)
                n += 1
        out.append(d)
    return tuple(out), n


def _with_box(d: ReviewDecision, det: Detection) -> ReviewDecision:
    """``d`` with the box and frame of ``det``, and the model's label and certainty when it has none."""
    return replace(d, bbox=det.bbox, frame=det.frame, model_label=d.model_label or det.top_label
                   or det.category_name, confidence=d.confidence if d.confidence is not None
                   else round(_model_certainty(det), 4))


def match_file(
    pred: Prediction, det_ids: Sequence[str], decisions: Iterable[ReviewDecision]
) -> tuple[dict[int, ReviewDecision], bool]:
    """Effective decision per detection index of one file, and whether the file is verified empty.

    ``decisions`` are the file's effective decisions (see :func:`latest_decisions`), oldest
    first. A decision attaches by ``detection_id``; failing that (another model re-ran) to the
    best unclaimed box of the same frame with IoU >= 0.5 against the stored box.
    """
    by_id = {did: i for i, did in enumerate(det_ids)}
    found: dict[int, tuple[int, ReviewDecision]] = {}
    empty_at = -1
    positive_at = -1
    pending: list[tuple[int, ReviewDecision]] = []
    for order, d in enumerate(decisions):
        if not d.detection_id:
            if d.decision == "empty":
                empty_at = order
            continue
        if d.detection_id in by_id:
            found[by_id[d.detection_id]] = (order, d)
        else:
            pending.append((order, d))
    for order, d in pending:
        if d.bbox is None:
            continue
        best, best_iou = -1, MATCH_IOU
        for i, det in enumerate(pred.detections):
            if det.frame != d.frame or (i in found and found[i][0] > order):
                continue
            iou = det.bbox.iou(d.bbox)
            if iou >= best_iou:
                best, best_iou = i, iou
        if best >= 0:
            found[best] = (order, d)
    for order, d in found.values():
        if d.decision in POSITIVE_KINDS:
            positive_at = max(positive_at, order)
    return {i: d for i, (_, d) in found.items()}, empty_at > positive_at


def apply_decisions(bundle: ExportBundle, decisions: Iterable[ReviewDecision]) -> ExportBundle:
    """Merge a folder's decisions into an export bundle (pure; see the module docstring).

    Args:
        bundle: the model-only bundle (``verified`` flags already there are kept).
        decisions: the decision history (or just the effective decisions).

    Returns:
        A new bundle: rejected boxes removed, verified boxes flagged and relabelled, files
        confirmed empty flagged ``verified_empty`` and without boxes.
    """
    per_file: dict[str, list[ReviewDecision]] = {}
    for d in latest_decisions(decisions).values():
        per_file.setdefault(d.file, []).append(d)
    if not per_file:
        return bundle
    items = tuple(_apply_item(it, per_file.get(it.prediction.rel_path, ())) for it in bundle.items)
    return replace(bundle, items=items)


def _verified_detection(det: Detection, d: ReviewDecision) -> Detection:
    """``det`` as the person verified it: their label, and the category that label implies."""
    label = UNKNOWN_LABEL if d.decision == "unknown" else d.label
    if label and (d.decision != "accept" or label != det.top_label):
        det = replace(det, classifications=(Classification(label, 1.0),))
    cat = category_for_label(label)
    if cat is not None and cat != det.category:
        det = replace(det, category=cat)
    if cat is not None and label.strip().lower() == DETECTION_CATEGORIES[cat]:
        det = replace(det, classifications=())  # "animal"/"person"/"vehicle": the category says it all
    return det


def _missed(pred: Prediction, matched: Mapping[int, ReviewDecision],
            decisions: Sequence[ReviewDecision]) -> list[ReviewDecision]:
    """Positive decisions whose animal the current model missed (no box of ``pred`` overlaps theirs).

    A decision whose box overlaps a current box (IoU >= 0.5, same frame) is not missed, even
    when a later decision on that box took precedence: the animal is there once. Of several
    old decisions on one animal (from several earlier models), the newest is kept.
    """
    taken = {id(d) for d in matched.values()}
    frames = set(pred.frames_processed)
    out: list[ReviewDecision] = []
    for d in reversed(decisions):  # newest first
        if (d.decision not in POSITIVE_KINDS or not d.detection_id or d.bbox is None or id(d) in taken
                or (d.frame is not None and frames and d.frame not in frames)):
            continue
        boxes = [det.bbox for det in pred.detections if det.frame == d.frame]
        boxes += [o.bbox for o in out if o.frame == d.frame and o.bbox is not None]
        if all(d.bbox.iou(b) < MATCH_IOU for b in boxes):
            out.append(d)
    return out[::-1]


def _apply_item(item: ExportItem, decisions: Sequence[ReviewDecision]) -> ExportItem:
    pred = item.prediction
    if not decisions or pred.failed:
        return item
    ids = tuple(item.detection_ids[i] if i < len(item.detection_ids) and item.detection_ids[i]
                else detection_id(pred.rel_path, d) for i, d in enumerate(pred.detections))
    matched, empty = match_file(pred, ids, decisions)
    if empty:
        return replace(item, prediction=replace(pred, detections=()), detection_ids=(), verified=(),
                       verified_empty=True)
    dets, out_ids, verified, smoothed = [], [], [], []
    for i, det in enumerate(pred.detections):
        d = matched.get(i)
        if d is not None and d.decision == "reject":
            continue
        if d is not None:
            det = _verified_detection(det, d)
        dets.append(det)
        out_ids.append(ids[i])
        verified.append(d is not None or item.is_verified(i))
        smoothed.append(d is not None and d.source == SOURCE_SMOOTHING)
    for d in _missed(pred, matched, decisions):
        assert d.bbox is not None
        base = Detection(category_for_label(d.model_label) or "1", 1.0, d.bbox, frame=d.frame)
        dets.append(_verified_detection(base, d))
        out_ids.append(d.detection_id)
        verified.append(True)
        smoothed.append(d.source == SOURCE_SMOOTHING)
    return replace(item, prediction=replace(pred, detections=tuple(dets)), detection_ids=tuple(out_ids),
                   verified=tuple(verified), smoothed=tuple(smoothed) if any(smoothed) else ())
