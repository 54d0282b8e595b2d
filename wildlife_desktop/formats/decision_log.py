"""Reading and appending a folder's ``decisions.jsonl`` (:class:`DecisionLog`), and migration from ``decisions.json``.

Every writer appends its own records under the folder's write lock (``core.locks``); a
version-1 ``decisions.json`` is migrated on first open and kept as ``decisions.json.bak``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_text
from ..core.errors import DatasetError, SidecarWriteError, WildlifeError
from ..core.locks import write_lock
from .decision_lines import _append_lines, _header, _line, _parse_lines
from .decision_record import DECISIONS_FILE, LEGACY_DECISIONS_FILE, LEGACY_SCHEMA_VERSION, ReviewDecision

# The package-level logger name of before the split, so log output and filters stay the same.
logger = logging.getLogger(__name__.rsplit(".", 1)[0] + ".decisions")


def decisions_path(state_dir: Path) -> Path:
    """``<state_dir>/decisions.jsonl``."""
    return Path(state_dir) / DECISIONS_FILE


@dataclass(frozen=True)
class DecisionsRead:
    """What reading a folder's decisions found: the records, and how many were unreadable."""

    decisions: tuple[ReviewDecision, ...]
    skipped: int = 0
    warnings: tuple[str, ...] = ()


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
