"""Read a folder's current results and write its sidecars (the CLI and GUI share these).

Sidecars are regenerated from the active layer's journal at every checkpoint, so they are
always a pure function of (journal, files on disk, thresholds): a resumed run writes exactly
what an uninterrupted run writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.errors import WildlifeError
from ..core.locks import sidecar_lock
from ..core.paths import AppPaths
from ..core.records import Detection, MediaFile, Prediction
from ..formats.bundle import ExportBundle, ExportItem, ModelInfo, detection_id
from ..formats.coco import write_coco, write_coco_boxed
from ..formats.corrections import Corrections, load_corrections
from ..formats.csv_export import write_csv
from ..formats.decisions import (
    DecisionKey,
    ReviewDecision,
    apply_decisions,
    attach_boxes,
    compact_decisions,
    fill_missing_boxes,
    load_decisions,
    needs_compaction,
)
from ..formats.md_batch import write_md_batch
from ..formats.methods import load_methods
from .journal import STATE_DIRNAME, LayerInfo, Workspace, current_entries
from .scan import scan_folder
from .sequences import assign_sequences, camera_location

MD_SIDECAR = "recognitions.json"
COCO_SIDECAR = "coco_cameratraps.json"
CSV_SIDECAR = "detections.csv"
SIDECAR_NAMES = (MD_SIDECAR, COCO_SIDECAR, CSV_SIDECAR)
COCO_BOXED_SIDECAR = "coco_cameratraps_boxed.json"  # export --coco-boxed-only: boxes only, for COCOeval

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderResults:
    """The active layer's predictions for the files currently in the folder."""

    folder: Path
    output_dir: Path
    layer_id: str
    layer: LayerInfo
    predictions: dict[str, Prediction]
    total_files: int

    @property
    def detector(self) -> str:
        return self.layer.detector

    @property
    def classifier(self) -> str:
        return self.layer.classifier

    @property
    def random_weights(self) -> bool:
        return self.layer.random_weights


@dataclass(frozen=True)
class FolderSummary:
    """Counts for a folder badge."""

    images: int
    done: int
    animals: int
    failures: int


def _paths(paths: AppPaths | None) -> AppPaths:
    return paths if paths is not None else AppPaths.default()


def load_results(folder: Path, paths: AppPaths | None = None, *, layer_id: str | None = None,
                 files: Sequence[MediaFile] | None = None) -> FolderResults | None:
    """The folder's active (or given) layer, restricted to files still present and unchanged.

    ``files``: the folder's media files when the caller has just scanned it (the GUI does, to
    show the grid), as ``scan_folder(folder).files``; the folder is then not scanned again.
    """
    ws = Workspace.locate(Path(folder), _paths(paths), create=False)
    if ws is None:
        return None
    lid = layer_id or ws.active_layer_id
    if lid is None:
        return None
    media = scan_folder(ws.folder).files if files is None else tuple(files)
    preds = current_entries(ws.journal(lid).load(), media)
    return FolderResults(ws.folder, ws.out_dir, lid, ws.layer_info(lid), preds, len(media))


def folder_summary(folder: Path, paths: AppPaths | None = None) -> FolderSummary | None:
    res = load_results(folder, paths)
    return None if res is None else summarize(res)


def count_files(preds: dict[str, Prediction], threshold: float) -> tuple[int, int, int, int, int]:
    """(failed, animals, persons, vehicles, empty) file counts at ``threshold``."""
    n_fail = n_an = n_pe = n_ve = n_empty = 0
    for p in preds.values():
        if p.failed:
            n_fail += 1
            continue
        cats = {d.category for d in p.detections if d.confidence >= threshold}
        n_an += "1" in cats
        n_pe += "2" in cats
        n_ve += "3" in cats
        n_empty += not cats
    return n_fail, n_an, n_pe, n_ve, n_empty


def summarize(res: FolderResults) -> FolderSummary:
    """The badge counts of already-loaded results (no rescan of the folder)."""
    failures, animals, *_ = count_files(res.predictions, res.layer.typical_threshold)
    return FolderSummary(res.total_files, len(res.predictions), animals, failures)


def build_bundle(
    layer: LayerInfo,
    predictions: dict[str, Prediction],
    *,
    detection_threshold: float | None = None,
    classification_threshold: float | None = None,
    sequence_gap_s: float = 60.0,
    completion_time: str | None = None,
    decisions: Sequence[ReviewDecision] = (),
    corrections: Corrections | None = None,
    methods: dict[str, Any] | None = None,
) -> ExportBundle:
    """Turn a layer's predictions into the writers' neutral input.

    ``decisions`` (the folder's human-decision layer, ``load_decisions(ws.state_dir)``) are
    merged in by ``formats.decisions.apply_decisions``: verified labels win over the model.
    ``corrections`` (``load_corrections(state_dir)``): capture times shifted per location before
    sequences are cut, so sequences and every date written follow them. ``methods``
    (``formats.methods.load_methods(state_dir)``): the empty-image audit's figures, in every output.
    """
    if corrections:
        predictions = corrections.apply(predictions, camera_location)
    rels = sorted(predictions)
    seqs = assign_sequences(((r, predictions[r].meta.datetime) for r in rels), gap_s=sequence_gap_s)
    items = tuple(
        ExportItem(
            prediction=predictions[r],
            sequence=seqs[r],
            detection_ids=tuple(detection_id(r, d) for d in predictions[r].detections),
        )
        for r in rels
    )
    model = ModelInfo(
        detector=layer.detector_id or layer.detector,  # the model's id, not its file name ("model.onnx")
        detector_version=layer.detector_version,
        typical_threshold=layer.typical_threshold,
        conservative_threshold=layer.conservative_threshold,
        classifier=layer.classifier or None,
        classifier_labels=layer.classifier_labels,
        typical_classification_threshold=layer.typical_classification_threshold,
        random_weights=layer.random_weights,
        completion_time=completion_time or time.strftime("%Y-%m-%d %H:%M:%S"),
        detector_members=tuple(m for m in layer.extra.get("detector_members") or () if isinstance(m, dict)),
    )
    bundle = ExportBundle(
        items=items,
        model=model,
        app_version=__version__,
        detection_threshold=layer.typical_threshold if detection_threshold is None else detection_threshold,
        classification_threshold=(
            layer.typical_classification_threshold if classification_threshold is None else classification_threshold
        ),
        methods=dict(methods or {}),
    )
    return apply_decisions(bundle, decisions) if decisions else bundle


def write_layer_sidecars(
    out_dir: Path,
    layer: LayerInfo,
    predictions: dict[str, Prediction],
    *,
    detection_threshold: float | None = None,
    classification_threshold: float | None = None,
    sequence_gap_s: float = 60.0,
) -> tuple[Path, ...]:
    """Merge the folder's decisions into a layer's predictions and write the sidecars.

    The decisions are read under the folder's sidecar lock and the sidecars written before it
    is released, so concurrent writers (a run's checkpoint, ``decisions import``, the window's
    export) never leave sidecars that miss a decision stored before them.
    """
    state_dir = Path(out_dir) / STATE_DIRNAME
    with sidecar_lock(state_dir):
        bundle = build_bundle(layer, predictions, detection_threshold=detection_threshold,
                              classification_threshold=classification_threshold, sequence_gap_s=sequence_gap_s,
                              decisions=tend_decisions(state_dir), corrections=load_corrections(state_dir),
                              methods=load_methods(state_dir))
        return write_sidecars(out_dir, bundle)


def capture_boxes(folder: Path, decisions: Sequence[ReviewDecision], paths: AppPaths | None = None
                  ) -> tuple[ReviewDecision, ...]:
    """Give box-less decisions (a six-column CSV) the box, frame and model label of their detection.

    The detection is looked up by id in the folder's active layer first, then in its other
    layers (a decision may have been made on an older model's boxes), so the decision still
    follows its animal after ``detect`` runs another model.
    """
    need = {d.file for d in decisions if d.bbox is None and d.detection_id}
    ws = Workspace.locate(Path(folder), _paths(paths), create=False) if need else None
    if ws is None:
        return tuple(decisions)
    out = tuple(decisions)
    active = ws.active_layer_id
    for lid in sorted(ws.layers(), key=lambda lid: lid != active):
        if not any(d.bbox is None and d.detection_id for d in out):
            break
        entries = ws.journal(lid).load()
        out, _ = attach_boxes(out, {rel: entries[rel][1] for rel in need if rel in entries})
    return out


def tend_decisions(state_dir: Path) -> tuple[ReviewDecision, ...]:
    """The folder's decision history, after the upkeep done at a quiet moment (every export).

    Box-less decisions an older release stored (a six-column CSV) get the box of their
    detection from the folder's layers, once, so they follow their animal after a re-run with
    another model; a history that is mostly superseded records is compacted
    (``formats.decisions``). Both rewrite the file under the write lock. Upkeep never stops an
    export: when it cannot be done (read-only card, a writer holding the lock too long) it is
    logged and the history is used as it is.
    """
    history = load_decisions(state_dir)
    try:
        changed = fill_missing_boxes(state_dir, history, lambda keys: _layer_detections(state_dir, keys)) > 0
        if needs_compaction(history):
            changed = compact_decisions(state_dir).compacted or changed
    except (WildlifeError, OSError) as exc:
        logger.warning("decisions upkeep skipped in %s: %s", state_dir, exc)
        return history
    return load_decisions(state_dir) if changed else history


def _layer_detections(state_dir: Path, keys: frozenset[DecisionKey]) -> dict[DecisionKey, Detection]:
    """The detections named by ``keys`` in the folder's layers (the active layer first)."""
    ws = Workspace(state_dir.parent, state_dir.parent)
    files = {rel for rel, _ in keys}
    out: dict[DecisionKey, Detection] = {}
    active = ws.active_layer_id
    for lid in sorted(ws.layers(), key=lambda lid: lid != active):
        entries = ws.journal(lid).load()
        for rel in files:
            hit = entries.get(rel)
            for det in hit[1].detections if hit is not None else ():
                key = (rel, detection_id(rel, det))
                if key in keys:
                    out.setdefault(key, det)
        if len(out) == len(keys):
            break
    return out


def write_sidecars(out_dir: Path, bundle: ExportBundle) -> tuple[Path, ...]:
    """Write the three sidecars atomically into ``out_dir``; return their paths."""
    md, coco, csv = (Path(out_dir) / n for n in SIDECAR_NAMES)
    write_md_batch(md, bundle)
    write_coco(coco, bundle)
    write_csv(csv, bundle)
    return (md, coco, csv)


def export_folder(
    folder: Path,
    *,
    detection_threshold: float | None = None,
    classification_threshold: float | None = None,
    sequence_gap_s: float = 60.0,
    paths: AppPaths | None = None,
    out_dir: Path | None = None,
    coco_boxed_only: bool = False,
) -> tuple[Path, ...]:
    """Re-write the folder's sidecars from its active layer (e.g. after changing thresholds).

    ``coco_boxed_only``: also write ``coco_cameratraps_boxed.json`` (boxes only, for ``COCOeval``).
    """
    from ..core.errors import DatasetError

    res = load_results(folder, paths)
    if res is None:
        raise DatasetError(f"No results for {folder}: run detection or import a results file first.")
    state_dir = res.output_dir / STATE_DIRNAME
    with sidecar_lock(state_dir):
        bundle = build_bundle(res.layer, res.predictions, detection_threshold=detection_threshold,
                              classification_threshold=classification_threshold, sequence_gap_s=sequence_gap_s,
                              decisions=tend_decisions(state_dir), corrections=load_corrections(state_dir),
                              methods=load_methods(state_dir))
        written = write_sidecars(out_dir or res.output_dir, bundle)
        if coco_boxed_only:
            written += (write_coco_boxed(Path(out_dir or res.output_dir) / COCO_BOXED_SIDECAR, bundle),)
        return written
