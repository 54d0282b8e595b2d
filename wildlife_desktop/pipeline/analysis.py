"""Analysis tables of a folder (CLI ``export --tables``, *File > Export > Analysis tables…*).

The folder's active layer with its human decisions merged (as every export), sequences as events,
written by ``formats.tables`` as CSV and, when asked, XLSX.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import DatasetError
from ..core.locks import sidecar_lock
from ..core.paths import AppPaths
from ..formats.bundle import ExportBundle
from ..formats.corrections import load_corrections
from ..formats.decisions import ReviewDecision, latest_decisions
from ..formats.tables import XLSX_NAME, build_tables, write_tables_csv, write_tables_xlsx
from .journal import STATE_DIRNAME
from .results import FolderResults, build_bundle, load_results, tend_decisions


@dataclass(frozen=True)
class TablesReport:
    paths: tuple[Path, ...]
    events: int  # event rows (species x event)
    deployments: int


@dataclass(frozen=True)
class DecidedResults:
    """A folder's results, its decision history and the export bundle with the decisions merged."""

    results: FolderResults
    decisions: tuple[ReviewDecision, ...]
    bundle: ExportBundle


def person_counts(decisions: Sequence[ReviewDecision]) -> dict[str, dict[str, int]]:
    """``{file: {label: count}}`` of the latest ``count`` decisions (a person counted the animals)."""
    out: dict[str, dict[str, int]] = {}
    for d in latest_decisions(decisions).values():
        if d.decision == "count" and d.count is not None and d.label:
            out.setdefault(d.file, {})[d.label] = max(0, int(d.count))
    return out


def decided_bundle(folder: Path, paths: AppPaths | None = None, *, detection_threshold: float | None = None,
                   classification_threshold: float | None = None) -> DecidedResults:
    """The folder's results and their export bundle with the decisions merged.

    Raises:
        DatasetError: the folder has no results.
    """
    res = load_results(Path(folder), paths)
    if res is None:
        raise DatasetError(f"No results for {folder}: run detection or import a results file first.")
    state_dir = res.output_dir / STATE_DIRNAME
    with sidecar_lock(state_dir):
        decisions = tend_decisions(state_dir)
    bundle = build_bundle(res.layer, res.predictions, detection_threshold=detection_threshold,
                          classification_threshold=classification_threshold, decisions=decisions,
                          corrections=load_corrections(state_dir))
    return DecidedResults(res, decisions, bundle)


def export_tables(folder: Path, out_dir: Path, *, xlsx: bool = False, paths: AppPaths | None = None,
                  detection_threshold: float | None = None,
                  classification_threshold: float | None = None) -> TablesReport:
    """Write ``events.csv``, ``deployments.csv`` (and ``analysis_tables.xlsx``) into ``out_dir``.

    Raises:
        DatasetError: no results, or XLSX asked without openpyxl (checked before anything is written).
    """
    from ..formats.tables import XLSX_HINT, xlsx_available

    if xlsx and not xlsx_available():
        raise DatasetError(XLSX_HINT)
    decided = decided_bundle(folder, paths, detection_threshold=detection_threshold,
                             classification_threshold=classification_threshold)
    tables = build_tables(decided.bundle, person_counts=person_counts(decided.decisions))
    written = write_tables_csv(Path(out_dir), tables)
    if xlsx:
        written += (write_tables_xlsx(Path(out_dir) / XLSX_NAME, tables),)
    return TablesReport(written, len(tables.events), len(tables.deployments))
