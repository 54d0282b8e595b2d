"""Box-by-box agreement of our detections with an official results file (``verify-reference``).

Both sides are filtered at ``conf_threshold``; within each file (and video frame), boxes of the
same category are matched one-to-one, greedily by IoU (highest first), when IoU >= ``iou``.
Precision = matched / our boxes, recall = matched / reference boxes, and the confidence
differences (ours - reference) of the matched pairs are summarised. Qt-free, torch-free.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..core.paths import AppPaths
from ..core.records import Detection, Prediction
from ..formats.md_batch import ImportedResults
from .journal import Workspace
from .results import FolderResults, load_results


@dataclass(frozen=True)
class FileComparison:
    """One file's comparison."""

    rel_path: str
    reference_boxes: int
    our_boxes: int
    matched: int
    missed: tuple[Detection, ...]  # reference boxes we did not find
    extra: tuple[Detection, ...]  # our boxes the reference does not have
    conf_diffs: tuple[float, ...]  # ours - reference, per matched pair
    ious: tuple[float, ...]


@dataclass(frozen=True)
class ReferenceReport:
    """Totals over all files present on both sides."""

    iou: float
    conf_threshold: float
    files_compared: int
    reference_boxes: int
    our_boxes: int
    matched: int
    files_only_in_reference: tuple[str, ...]
    files_only_ours: tuple[str, ...]
    failed_files: tuple[str, ...]
    per_file: tuple[FileComparison, ...]

    @property
    def precision(self) -> float:
        return self.matched / self.our_boxes if self.our_boxes else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.reference_boxes if self.reference_boxes else 1.0

    @property
    def conf_diffs(self) -> tuple[float, ...]:
        return tuple(d for f in self.per_file for d in f.conf_diffs)

    @property
    def mean_abs_conf_diff(self) -> float:
        d = self.conf_diffs
        return sum(abs(x) for x in d) / len(d) if d else 0.0

    @property
    def max_abs_conf_diff(self) -> float:
        return max((abs(x) for x in self.conf_diffs), default=0.0)

    @property
    def mean_conf_diff(self) -> float:
        d = self.conf_diffs
        return statistics.fmean(d) if d else 0.0

    @property
    def min_iou(self) -> float | None:
        ious = [i for f in self.per_file for i in f.ious]
        return min(ious) if ious else None

    def summary_lines(self, max_files: int = 10) -> list[str]:
        """Human-readable report for the CLI."""
        lines = [
            f"Compared {self.files_compared} files at IoU >= {self.iou:g}, confidence >= {self.conf_threshold:g}",
            f"  reference boxes {self.reference_boxes}, our boxes {self.our_boxes}, matched {self.matched}",
            f"  precision {self.precision:.4f}  recall {self.recall:.4f}",
            f"  confidence ours - reference: mean {self.mean_conf_diff:+.4f}, mean |d| {self.mean_abs_conf_diff:.4f},"
            f" max |d| {self.max_abs_conf_diff:.4f}",
        ]
        if self.min_iou is not None:
            lines.append(f"  lowest IoU of a matched pair: {self.min_iou:.4f}")
        for label, items in (("only in the reference", self.files_only_in_reference),
                             ("only in our results", self.files_only_ours), ("failed in either", self.failed_files)):
            if items:
                lines.append(f"  {len(items)} files {label}: {', '.join(items[:max_files])}"
                             + (" ..." if len(items) > max_files else ""))
        bad = [f for f in self.per_file if f.missed or f.extra]
        for f in bad[:max_files]:
            lines.append(f"  {f.rel_path}: {len(f.missed)} missed, {len(f.extra)} extra")
        return lines


def _kept(pred: Prediction, conf_threshold: float) -> list[Detection]:
    return [d for d in pred.detections if d.confidence >= conf_threshold]


def compare_file(rel_path: str, ours: list[Detection], ref: list[Detection], *, iou: float) -> FileComparison:
    """Match one file's boxes (same category and frame, greedy by IoU)."""
    pairs = []
    for i, o in enumerate(ours):
        for j, r in enumerate(ref):
            if o.category != r.category or o.frame != r.frame:
                continue
            v = o.bbox.iou(r.bbox)
            if v >= iou:
                pairs.append((v, -r.confidence, i, j))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2], p[3]))
    used_o: set[int] = set()
    used_r: set[int] = set()
    diffs: list[float] = []
    ious: list[float] = []
    for v, _, i, j in pairs:
        if i in used_o or j in used_r:
            continue
        used_o.add(i)
        used_r.add(j)
        diffs.append(ours[i].confidence - ref[j].confidence)
        ious.append(v)
    return FileComparison(
        rel_path=rel_path, reference_boxes=len(ref), our_boxes=len(ours), matched=len(diffs),
        missed=tuple(r for j, r in enumerate(ref) if j not in used_r),
        extra=tuple(o for i, o in enumerate(ours) if i not in used_o),
        conf_diffs=tuple(diffs), ious=tuple(ious),
    )


def _name_index(paths: list[str]) -> dict[str, str]:
    """Basename -> path, for basenames that are unique (results files made from another root)."""
    seen: dict[str, list[str]] = {}
    for p in paths:
        seen.setdefault(PurePosixPath(p).name.lower(), []).append(p)
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


def compare_to_reference(
    ours: Mapping[str, Prediction],
    reference: ImportedResults,
    *,
    iou: float = 0.5,
    conf_threshold: float = 0.2,
) -> ReferenceReport:
    """Compare our predictions (by relative path) with an official results file.

    Files are paired by relative path, or else by a unique file name (the reference may have
    been made from a different root folder). Files that failed on either side are listed, not
    compared.
    """
    ref_by_path = {p.rel_path: p for p in reference.predictions}
    ours_names = _name_index(list(ours))
    pairs: list[tuple[str, Prediction, Prediction]] = []
    only_ref: list[str] = []
    failed: list[str] = []
    used_ours: set[str] = set()
    for rel, rp in sorted(ref_by_path.items()):
        key = rel if rel in ours else ours_names.get(PurePosixPath(rel).name.lower())
        if key is None or key in used_ours:
            only_ref.append(rel)
            continue
        used_ours.add(key)
        op = ours[key]
        if op.failed or rp.failed:
            failed.append(key)
            continue
        pairs.append((key, op, rp))
    only_ours = sorted(set(ours) - used_ours)
    per_file = tuple(compare_file(k, _kept(o, conf_threshold), _kept(r, conf_threshold), iou=iou)
                     for k, o, r in pairs)
    return ReferenceReport(
        iou=iou, conf_threshold=conf_threshold, files_compared=len(per_file),
        reference_boxes=sum(f.reference_boxes for f in per_file), our_boxes=sum(f.our_boxes for f in per_file),
        matched=sum(f.matched for f in per_file), files_only_in_reference=tuple(only_ref),
        files_only_ours=tuple(only_ours), failed_files=tuple(failed), per_file=per_file,
    )


def results_for_detector(folder: Path, paths: AppPaths, detector_id: str | None) -> FolderResults | None:
    """The folder's active results layer, or (with ``detector_id``) its newest layer made by that detector."""
    if detector_id is None:
        return load_results(folder, paths)
    ws = Workspace.locate(Path(folder), paths, create=False)
    if ws is None:
        return None
    active = ws.active_layer_id
    candidates = [lid for lid in ws.layers() if ws.layer_info(lid).detector_id == detector_id]
    if not candidates:
        return None
    lid = active if active in candidates else sorted(candidates, key=lambda i: ws.layer_info(i).created)[-1]
    return load_results(folder, paths, layer_id=lid)


def layer_or_run(folder: Path, paths: AppPaths, detector_id: str | None) -> tuple[FolderResults, bool]:
    """Our results to compare: the existing layer (see :func:`results_for_detector`), or, when
    ``detector_id`` is given and the folder has no layer of it yet, a fresh (resumable) run.

    Returns:
        ``(results, ran)``.

    Raises:
        WildlifeError: no results and no detector to run, or the run failed.
    """
    from ..core.errors import WildlifeError
    from .job import JobConfig, run_job

    found = results_for_detector(folder, paths, detector_id)
    if found is not None:
        return found, False
    if detector_id is None:
        raise WildlifeError(f"{folder} has no results yet: run a detector on it first, or pass --detector ID")
    for _ in run_job(JobConfig(folder=Path(folder), detector_id=detector_id), paths=paths):
        pass
    found = results_for_detector(folder, paths, detector_id)
    if found is None:
        raise WildlifeError(f"Running '{detector_id}' on {folder} produced no results layer")
    return found, True
