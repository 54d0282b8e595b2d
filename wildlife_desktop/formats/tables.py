"""Analysis tables an ecologist opens in a spreadsheet or R: events and deployments (effort).

* ``events``: one row per species per event (a *sequence*: one camera location, frames less than
  the gap apart). ``count`` is the **maximum** number of boxes of that species in any one frame of
  the event (the usual camera-trap convention, as AddaxAI's exports: the same animals appear in
  several frames, so a sum over-counts). A box counts when an export keeps it (at or above the
  detection threshold, or verified; rejected boxes are gone, boxes a person added count), with
  its verified or top label (``formats.coco.species_of``), or its detector category (``animal``,
  ``person``, ``vehicle``) when it has no label above the classification threshold. Video frames
  count as frames. A person's count of a label in an image (a ``count`` decision) replaces the
  number of boxes of that label in that image. Events with nothing in them and failed files have
  no row (they are in the deployments table).
* ``deployments``: one row per camera location: first and last capture time, camera days between
  them, images, videos, failed files, events, events with a detection, the species seen.

Written as CSV (UTF-8 with BOM, CRLF, every cell through :mod:`.csv_safe`, like ``detections.csv``)
and XLSX (one table per sheet, with ``openpyxl``: the ``[xlsx]`` extra). A sheet holds at most
:data:`XLSX_MAX_ROWS` rows (Excel's limit); a longer table continues on ``events (2)``, ... XLSX
cells are the CSV's cells (text, with the same formula guard), numbers as numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..core.atomic import atomic_open, atomic_write_bytes
from ..core.errors import DatasetError
from .bundle import ExportBundle, ExportItem
from .coco import kept_indices, species_of
from .csv_safe import csv_row
from .taxonomy import Taxonomy, load_taxonomy

EVENT_COLUMNS: Final[tuple[str, ...]] = (
    "location", "event_id", "start", "end", "files", "label", "category", "scientific_name",
    "common_name", "count", "verified",
)  # fmt: skip
DEPLOYMENT_COLUMNS: Final[tuple[str, ...]] = (
    "location", "first_image", "last_image", "camera_days", "images", "videos", "failed", "events",
    "events_with_detections", "species_count", "species",
)  # fmt: skip
#: Columns written as numbers (never quoted, numeric cells in XLSX).
NUMERIC_COLUMNS: Final[frozenset[str]] = frozenset(
    {"files", "count", "camera_days", "images", "videos", "failed", "events", "events_with_detections",
     "species_count"})
#: Rows per sheet, header included (Excel's limit is 1,048,576).
XLSX_MAX_ROWS: Final = 1_048_576
XLSX_HINT: Final = "XLSX needs openpyxl: pip install 'wildlife-desktop[xlsx]' (or write CSV only)"
CSV_NAMES: Final = {"events": "events.csv", "deployments": "deployments.csv"}
XLSX_NAME: Final = "analysis_tables.xlsx"


@dataclass(frozen=True)
class AnalysisTables:
    """The tables as rows of text cells keyed by their columns (the CSV's cells)."""

    events: tuple[dict[str, str], ...]
    deployments: tuple[dict[str, str], ...]

    def sheets(self) -> dict[str, tuple[tuple[str, ...], tuple[dict[str, str], ...]]]:
        """``{name: (columns, rows)}`` in sheet order."""
        return {"events": (EVENT_COLUMNS, self.events), "deployments": (DEPLOYMENT_COLUMNS, self.deployments)}


@dataclass
class _Deployment:
    """What :func:`build_tables` tallies per camera location (one deployments row)."""

    times: list[dt.datetime] = field(default_factory=list)
    images: int = 0
    videos: int = 0
    failed: int = 0
    events: int = 0
    busy: int = 0  # events with at least one kept box
    species: set[str] = field(default_factory=set)


def box_label(item: ExportItem, index: int, classification_threshold: float) -> tuple[str, str]:
    """``(label, category name)`` of a kept box: its species, else its detector category."""
    det = item.prediction.detections[index]
    if det.category != "1":
        return det.category_name, det.category_name
    return species_of(det, item.is_verified(index), classification_threshold) or "animal", "animal"


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        return None


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def build_tables(bundle: ExportBundle, taxonomy: Taxonomy | None = None,
                 person_counts: Mapping[str, Mapping[str, int]] | None = None) -> AnalysisTables:
    """The events and deployments tables of ``bundle`` (decisions already merged).

    ``person_counts``: ``{file: {label: count}}`` from ``count`` decisions; each replaces the box
    count of its label in its image.
    """
    tax = taxonomy if taxonomy is not None else load_taxonomy()
    person_counts = person_counts or {}
    events: dict[str, list[ExportItem]] = {}
    for item in bundle.items:
        events.setdefault(item.sequence.seq_id, []).append(item)
    event_rows: list[dict[str, str]] = []
    per_loc: dict[str, _Deployment] = {}
    for seq_id in sorted(events, key=lambda s: (events[s][0].sequence.location, s)):
        members = events[seq_id]
        loc = members[0].sequence.location
        acc = per_loc.setdefault(loc, _Deployment())
        acc.events += 1
        counts: dict[str, int] = {}  # label -> max per frame
        cat_of: dict[str, str] = {}
        verified: set[str] = set()
        times = [t for it in members if (t := _parse(it.prediction.meta.datetime)) is not None]
        for it in members:
            pred = it.prediction
            if pred.failed:
                acc.failed += 1
            elif pred.kind == "video":
                acc.videos += 1
            else:
                acc.images += 1
            frames: dict[int | None, dict[str, int]] = {}
            for i in kept_indices(it, bundle.detection_threshold):
                label, cat = box_label(it, i, bundle.classification_threshold)
                per_frame = frames.setdefault(pred.detections[i].frame, {})
                per_frame[label] = per_frame.get(label, 0) + 1
                cat_of.setdefault(label, cat)
                if it.is_verified(i):
                    verified.add(label)
            for label, n in person_counts.get(pred.rel_path, {}).items():
                if not pred.failed and pred.kind == "image":
                    frames.setdefault(None, {})[label] = n
                    cat_of.setdefault(label, "animal")
                    verified.add(label)
            for per_frame in frames.values():
                for label, n in per_frame.items():
                    counts[label] = max(counts.get(label, 0), n)
        acc.times.extend(times)
        counts = {label: n for label, n in counts.items() if n > 0}
        if counts:
            acc.busy += 1
        acc.species.update(lb for lb, c in cat_of.items() if c == "animal")
        start = min(times).isoformat(sep=" ") if times else ""
        end = max(times).isoformat(sep=" ") if times else ""
        for label in sorted(counts):
            taxon = tax.lookup(label) if cat_of[label] == "animal" else None
            event_rows.append(csv_row({
                "location": loc, "event_id": seq_id, "start": start, "end": end, "files": str(len(members)),
                "label": label, "category": cat_of[label],
                "scientific_name": taxon.scientific_name if taxon else "",
                "common_name": taxon.common_name if taxon else "",
                "count": str(counts[label]), "verified": "true" if label in verified else "false",
            }, NUMERIC_COLUMNS))
    dep_rows = [csv_row(_deployment_row(loc, acc), NUMERIC_COLUMNS) for loc, acc in sorted(per_loc.items())]
    return AnalysisTables(tuple(event_rows), tuple(dep_rows))


def _deployment_row(loc: str, acc: _Deployment) -> dict[str, str]:
    times = acc.times
    species = sorted(acc.species)
    first, last = (min(times), max(times)) if times else (None, None)
    days = _num(round((last - first).total_seconds() / 86400.0, 2)) if first and last else ""
    return {
        "location": loc, "first_image": first.isoformat(sep=" ") if first else "",
        "last_image": last.isoformat(sep=" ") if last else "", "camera_days": days,
        "images": str(acc.images), "videos": str(acc.videos), "failed": str(acc.failed),
        "events": str(acc.events), "events_with_detections": str(acc.busy),
        "species_count": str(len(species)), "species": "; ".join(species),
    }


def write_tables_csv(out_dir: Path, tables: AnalysisTables) -> tuple[Path, ...]:
    """``events.csv`` and ``deployments.csv`` in ``out_dir`` (UTF-8 with BOM, CRLF), atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (columns, rows) in tables.sheets().items():
        path = out_dir / CSV_NAMES[name]
        with atomic_open(path, newline="") as fh:
            fh.write("\ufeff")
            writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return tuple(written)


def xlsx_available() -> bool:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        return False
    return True


def _chunks(rows: Sequence[dict[str, str]], size: int) -> Iterable[Sequence[dict[str, str]]]:
    yield rows[:size]
    for start in range(size, len(rows), size):
        yield rows[start:start + size]


def sheet_names(name: str, rows: int, max_rows: int = XLSX_MAX_ROWS) -> list[str]:
    """Sheet names of one table: ``name``, then ``name (2)``, ... when it has more rows than a sheet."""
    n = max(1, -(-rows // (max_rows - 1)))
    return [name if i == 0 else f"{name} ({i + 1})" for i in range(n)]


def write_tables_xlsx(path: Path, tables: AnalysisTables, *, max_rows: int = XLSX_MAX_ROWS) -> Path:
    """One workbook, one table per sheet (split at ``max_rows`` rows a sheet, header included).

    Raises:
        DatasetError: openpyxl is not installed (one line: how to install it).
    """
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
    except ImportError:
        raise DatasetError(XLSX_HINT) from None
    import io

    wb = Workbook(write_only=True)
    for name, (columns, rows) in tables.sheets().items():
        names = sheet_names(name, len(rows), max_rows)
        for title, chunk in zip(names, _chunks(rows, max_rows - 1), strict=False):
            ws = wb.create_sheet(title)
            ws.append(list(columns))
            for row in chunk:
                ws.append([_xlsx_cell(ws, WriteOnlyCell, c, row.get(c, "")) for c in columns])
    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _xlsx_cell(ws: object, cell_type: Callable[..., object], column: str, text: str) -> object:
    """A number for numeric columns, else the CSV's text as a string cell (never a formula)."""
    if column in NUMERIC_COLUMNS and text:
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            pass
    cell = cell_type(ws, value=text)
    cell.data_type = "s"  # type: ignore[attr-defined]  # text starting with "=" stays text
    return cell
