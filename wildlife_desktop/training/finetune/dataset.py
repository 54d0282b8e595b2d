"""Training examples from the human-decision layer: one verified crop per accepted or relabelled box.

Only a person's word counts (``formats.decisions``, latest decision per detection wins):

* ``accept`` -> the decision's label, else the label the model gave the box (a detector-only
  box accepted without a species label is not an example);
* ``relabel`` -> its label;
* ``unknown``, ``reject``, ``empty``, ``clear`` -> not examples; a file confirmed empty after
  its boxes were decided gives none either (as in every export).

The box comes from the folder's loaded results (the decision attached to its detection by id,
or by IoU after another model re-ran: :func:`formats.decisions.match_file`), else from the box
stored in the decision record, unless a later decision on the same animal's current box
superseded it. Missing files and decisions without a box are skipped with a
reason, never an error. Each example carries its split group keys: the camera site, the
sequence, and ``group`` = site when the examples span >= 2 sites, else the sequence (which is
the file itself for images without a capture time).

The site is the camera folder's location (:func:`site_of`), *not* prefixed by the folder it was
reviewed in, so ``season1/cam07`` and ``season2/cam07`` are one site: the same camera's
background never lands on both sides of the split. Two unrelated cameras that share a folder
name are merged too; that only makes the split stricter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ...core.errors import DatasetError
from ...core.paths import AppPaths
from ...core.records import DETECTION_CATEGORIES, VIDEO_EXTENSIONS, BBox, Prediction
from ...formats.bundle import detection_id
from ...formats.decisions import (
    MATCH_IOU,
    UNKNOWN_LABEL,
    ReviewDecision,
    latest_decisions,
    load_decisions,
    match_file,
)
from ...pipeline.journal import Workspace
from ...pipeline.results import load_results
from ...pipeline.sequences import ROOT_LOCATION, assign_sequences, camera_location

#: Decision kinds that make a training example.
EXAMPLE_KINDS = frozenset({"accept", "relabel"})
#: Labels that name a detector category, not a species (an accepted detector-only box).
NOT_SPECIES = frozenset(DETECTION_CATEGORIES.values())


def site_of(folder: Path, rel_path: str) -> str:
    """Camera site of a file: its camera folder's location; for files at the top of a folder, the folder's name."""
    location = camera_location(rel_path)
    if location == ROOT_LOCATION:
        return Path(folder).name or str(folder)
    return location


@dataclass(frozen=True, slots=True)
class CropExample:
    """One human-verified crop: the box of ``rel_path`` (``frame`` for a video) and its label."""

    folder: Path
    rel_path: str
    bbox: BBox
    frame: int | None
    label: str
    group: str  # split group key (site, else sequence, else file), filled by collect_examples
    reviewer: str
    site: str = ""  # site_of(folder, rel_path): the camera location, shared across folders
    sequence: str = ""  # "<folder>|<sequence id>"

    @property
    def path(self) -> Path:
        return self.folder / self.rel_path

    @property
    def is_video(self) -> bool:
        return Path(self.rel_path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class ExampleSet:
    """The verified crops of some folders, and why other decisions were not used."""

    examples: tuple[CropExample, ...]
    skipped: tuple[str, ...]  # human-readable reasons (missing file, no box...)

    def counts(self) -> dict[str, int]:
        """Label -> number of crops, sorted by label."""
        out: dict[str, int] = {}
        for e in self.examples:
            out[e.label] = out.get(e.label, 0) + 1
        return dict(sorted(out.items()))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.counts())

    def sites(self) -> int:
        """Number of distinct camera sites."""
        return len({e.site for e in self.examples})


def _label_of(d: ReviewDecision, pred_label: str | None) -> str:
    """The verified label: a relabel's label; for an accept, its label, else the label the person saw
    (``model_label``, unless it is only a detector category), else the current model's label."""
    if d.decision == "relabel" or d.label.strip():
        return d.label.strip()
    seen = d.model_label.strip()
    if seen:
        return "" if seen in NOT_SPECIES else seen
    return (pred_label or "").strip()


def _folder_examples(folder: Path, paths: AppPaths) -> tuple[list[CropExample], list[str]]:
    examples: list[CropExample] = []
    skipped: list[str] = []
    ws = Workspace.locate(folder, paths, create=False)
    if ws is None:
        return examples, [f"{folder}: no results and no review decisions"]
    decisions = latest_decisions(load_decisions(ws.state_dir))
    per_file: dict[str, list[ReviewDecision]] = {}
    for d in decisions.values():
        per_file.setdefault(d.file, []).append(d)
    if not any(d.decision in EXAMPLE_KINDS for d in decisions.values()):
        return examples, [f"{folder}: no accepted or relabelled detections"]
    res = load_results(folder, paths)
    preds: dict[str, Prediction] = dict(res.predictions) if res is not None else {}
    seqs = assign_sequences(
        [(r, p.meta.datetime) for r, p in preds.items()] + [(r, None) for r in per_file if r not in preds]
    )
    for rel in sorted(per_file):
        file_decisions = per_file[rel]
        positives = [d for d in file_decisions if d.detection_id and d.decision in EXAMPLE_KINDS]
        if not positives:
            continue
        if not (folder / rel).is_file():
            skipped.extend(f"{rel}: file not found" for _ in positives)
            continue
        pred = preds.get(rel)
        matched: dict[int, ReviewDecision] = {}
        empty = False
        if pred is not None and not pred.failed:
            ids = [detection_id(rel, det) for det in pred.detections]
            matched, empty = match_file(pred, ids, file_decisions)
        if empty:
            skipped.extend(f"{rel}: confirmed empty after its boxes were verified" for _ in positives)
            continue
        by_decision = {d.detection_id: i for i, d in matched.items()}
        claimed = [pred.detections[i] for i in matched] if pred is not None else []
        site = site_of(folder, rel)
        sequence = f"{folder}|{seqs[rel].seq_id}"
        for d in positives:
            i = by_decision.get(d.detection_id)
            det = pred.detections[i] if pred is not None and i is not None else None
            box, frame = (det.bbox, det.frame) if det is not None else (d.bbox, d.frame)
            label = _label_of(d, det.top_label if det is not None else None)
            where = rel if frame is None else f"{rel} frame {frame}"
            if det is None and d.bbox is not None and any(
                c.frame == d.frame and c.bbox.iou(d.bbox) >= MATCH_IOU for c in claimed
            ):
                # its animal's current box carries a later decision (match_file gave it that one)
                skipped.append(f"{where}: superseded by a later decision on the same animal")
            elif box is None:
                skipped.append(f"{where}: decision without a box (its detection is not in the current results)")
            elif box.w <= 0 or box.h <= 0:
                skipped.append(f"{where}: empty box")
            elif not label:
                skipped.append(f"{where}: accepted without a species label")
            elif label == UNKNOWN_LABEL:
                skipped.append(f"{where}: label '{UNKNOWN_LABEL}'")
            elif Path(rel).suffix.lower() in VIDEO_EXTENSIONS and frame is None:
                skipped.append(f"{where}: video box without a frame number")
            else:
                examples.append(
                    CropExample(
                        folder=folder,
                        rel_path=rel,
                        bbox=box,
                        frame=frame,
                        label=label,
                        group="",
                        reviewer=d.reviewer,
                        site=site,
                        sequence=sequence,
                    )
                )
    return examples, skipped


def collect_examples(folders: Sequence[Path], paths: AppPaths | None = None) -> ExampleSet:
    """Verified crops of ``folders`` (see the module docstring), ``group`` filled in.

    Raises:
        DatasetError: a folder does not exist, or its decisions file is unreadable.
    """
    paths = paths or AppPaths.default()
    examples: list[CropExample] = []
    skipped: list[str] = []
    seen: set[Path] = set()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"Not a folder: {folder}")
        key = folder.resolve()
        if key in seen:
            continue
        seen.add(key)
        ex, sk = _folder_examples(folder, paths)
        examples.extend(ex)
        skipped.extend(sk)
    by_site = len({e.site for e in examples}) >= 2
    grouped = tuple(replace(e, group=e.site if by_site else e.sequence) for e in examples)
    return ExampleSet(grouped, tuple(skipped))
