"""Decisions as CSV, so reviews by several people (or spreadsheets) can be exchanged and merged.

Columns: ``file, detection_id, decision, label, reviewer, time`` (``decision`` is one of
accept/reject/relabel/unknown/empty; ``detection_id`` is empty for ``empty``), followed by the
optional columns ``frame, x_min, y_min, width, height, model_label, confidence`` that let a
decision re-attach to its box after another model re-ran. A reader accepts files with only the
six required columns, in any column order. Written as UTF-8 with BOM (Excel), CRLF, atomically;
text cells a spreadsheet would run as a formula get a leading ``'`` (``formats.csv_safe``), which
the reader removes again.
Only *effective* decisions are exported (the latest per detection, no undo tombstones).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Final

from ..core.atomic import atomic_write_text
from ..core.errors import DatasetError
from ..core.records import BBox
from .csv_safe import csv_row, csv_uncell
from .decisions import DECISION_KINDS, ReviewDecision, latest_decisions

REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("file", "detection_id", "decision", "label", "reviewer", "time")
OPTIONAL_COLUMNS: Final[tuple[str, ...]] = ("frame", "x_min", "y_min", "width", "height", "model_label",
                                            "confidence")
DECISION_CSV_COLUMNS: Final[tuple[str, ...]] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_NUMERIC_COLUMNS: Final = frozenset({"frame", "x_min", "y_min", "width", "height", "confidence"})
#: Longest text accepted in a cell (a path; labels, names and ids are much shorter in practice).
MAX_CELL_CHARS: Final = {"file": 4096, "detection_id": 64, "label": 200, "reviewer": 200, "model_label": 200,
                         "time": 64}
MAX_FRAME: Final = 100_000_000


def decision_rows(decisions: Iterable[ReviewDecision]) -> list[dict[str, str]]:
    """The effective decisions as CSV rows (sorted by file, then detection id)."""
    rows = []
    for d in sorted(latest_decisions(decisions).values(), key=lambda d: d.key):
        row = {c: "" for c in DECISION_CSV_COLUMNS}
        row.update(file=d.file, detection_id=d.detection_id, decision=d.decision, label=d.label,
                   reviewer=d.reviewer, time=d.time, model_label=d.model_label)
        if d.frame is not None:
            row["frame"] = str(d.frame)
        if d.bbox is not None:
            row.update(x_min=repr(d.bbox.x), y_min=repr(d.bbox.y), width=repr(d.bbox.w), height=repr(d.bbox.h))
        if d.confidence is not None:
            row["confidence"] = repr(float(d.confidence))
        rows.append(csv_row(row, _NUMERIC_COLUMNS))
    return rows


def write_decisions_csv(path: Path | str, decisions: Iterable[ReviewDecision]) -> Path:
    """Write the effective decisions of a history to ``path``; return the path."""
    path = Path(path)
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(DECISION_CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(decision_rows(decisions))
    atomic_write_text(path, "\ufeff" + buf.getvalue())
    return path


def read_decisions_csv(path: Path | str, *, default_reviewer: str = "") -> tuple[ReviewDecision, ...]:
    """Read a decisions CSV (see the module docstring).

    Args:
        path: the CSV file.
        default_reviewer: used for rows with an empty ``reviewer``.

    Raises:
        DatasetError: unreadable file, missing columns, or a malformed row (its line is named).
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read decisions file {path}: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out = []
    try:
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DatasetError(f"{Path(path).name}: missing column(s) {', '.join(missing)}.")
        for row in reader:
            out.append(_parse_row(row, reader.line_num, default_reviewer))
    except csv.Error as exc:  # a field over csv's 131,072-character limit, a stray quote...
        where = reader.line_num + 1  # the line after the last one read whole
        raise DatasetError(f"{Path(path).name}: line {where}: not a readable CSV row ({exc}).") from None
    return tuple(out)


def _parse_row(row: dict[str, str | None], line: int, default_reviewer: str) -> ReviewDecision:
    def cell(name: str) -> str:
        return csv_uncell((row.get(name) or "").strip())

    kind = cell("decision").lower()
    if kind not in DECISION_KINDS:
        raise DatasetError(f"line {line}: decision must be one of {', '.join(DECISION_KINDS)}, not {kind!r}.")
    if not cell("file"):
        raise DatasetError(f"line {line}: empty file name.")
    if kind != "empty" and not cell("detection_id"):
        raise DatasetError(f"line {line}: a {kind} decision needs a detection_id.")
    if kind == "relabel" and not cell("label"):
        raise DatasetError(f"line {line}: a relabel decision needs a label.")
    for name, limit in MAX_CELL_CHARS.items():
        if len(cell(name)) > limit:
            raise DatasetError(f"line {line}: {name} is longer than {limit} characters.")
    if cell("detection_id") and any(ch.isspace() for ch in cell("detection_id")):
        raise DatasetError(f"line {line}: {cell('detection_id')!r} is not a detection id.")
    if cell("time"):
        try:
            datetime.fromisoformat(cell("time").replace("Z", "+00:00"))
        except ValueError:
            raise DatasetError(f"line {line}: time {cell('time')!r} is not an ISO 8601 date-time "
                               "(e.g. 2026-01-31T14:05:00+00:00).") from None
    try:
        box = [cell(c) for c in ("x_min", "y_min", "width", "height")]
        bbox = BBox(*(_unit(v, c, 0.01) for v, c in zip(box, ("x_min", "y_min", "width", "height"), strict=True))
                    ) if all(box) else None
        frame = int(cell("frame")) if cell("frame") else None
        if frame is not None and not 0 <= frame <= MAX_FRAME:
            raise ValueError(f"frame {frame} is out of range")
        conf = _unit(cell("confidence"), "confidence") if cell("confidence") else None
    except ValueError as exc:
        raise DatasetError(f"line {line}: {str(exc)[:200]}") from None
    return ReviewDecision(
        file=cell("file").replace("\\", "/"), detection_id="" if kind == "empty" else cell("detection_id"),
        decision=kind,  # type: ignore[arg-type]
        label=cell("label"), reviewer=cell("reviewer") or default_reviewer, time=cell("time"), bbox=bbox,
        frame=frame, model_label=cell("model_label"), confidence=conf,
    )


def _unit(text: str, name: str, slack: float = 0.0) -> float:
    """A number from 0 to 1 (a confidence, or a normalised coordinate with ``slack``); NaN and inf refused."""
    value = float(text)
    if not math.isfinite(value) or not -slack <= value <= 1.0 + slack:
        raise ValueError(f"{name} must be a number from 0 to 1, not {text[:40]!r}")
    return value
