"""Detection evaluation: a detector's boxes against person-verified ground truth (``evaluate``).

Ground truth, from a folder's review decisions (the latest decision per box, stills only):

* ``accept`` and ``relabel`` boxes are true boxes; their category is the detector category the
  person saw (``model_label`` when it names one, a relabel to ``person``/``vehicle`` too), else
  ``animal`` (a species label);
* ``reject`` boxes are known false positives: no ground truth, and a detection on one (IoU >= 0.5,
  at the threshold) is counted as such;
* a file marked empty after its boxes were decided is a verified-empty image (no true boxes);
* only files with at least one such decision are evaluated; the detector's undecided boxes on
  them count as false positives (they are listed as ``undecided``).

Or, from a reference results file (e.g. the official MegaDetector output): its boxes at or above
a confidence are the ground truth of the files both sides have.

Metrics: COCO mAP@0.5 and mAP@0.5:0.95 (all areas, 100 detections per image) over the
categories with ground truth, computed with ``pycocotools`` when installed (the ``[eval]``
extra) and else by :func:`coco_map`, a numpy transcription of its algorithm (tests check both
agree); precision and recall at the detector's threshold (one-to-one matching at IoU >= 0.5,
same category); and per camera location.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..core.paths import AppPaths
from ..core.records import DETECTION_CATEGORIES, BBox, Prediction
from ..formats.decisions import latest_decisions, load_decisions
from ..formats.md_batch import ImportedResults
from .journal import Workspace
from .sequences import camera_location

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 100
_SCALE = 1000.0  # normalised boxes -> a 1000 x 1000 image (IoU does not change)
_CATEGORY_OF = {name: cat for cat, name in DETECTION_CATEGORIES.items()}


@dataclass(frozen=True)
class ImageTruth:
    """One evaluated image: its true boxes ``(category, box)`` and the boxes a person rejected."""

    boxes: tuple[tuple[str, BBox], ...] = ()
    rejected: tuple[BBox, ...] = ()
    verified_empty: bool = False


@dataclass(frozen=True)
class CameraScore:
    location: str
    images: int
    true_boxes: int
    precision: float
    recall: float
    ap50: float


@dataclass(frozen=True)
class DetectionScores:
    """How the detector did on the evaluated images."""

    map50: float
    map50_95: float
    ap50_per_category: dict[str, float]  # category name -> AP@0.5
    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    known_false_positives: int  # detections at the threshold on a box a person rejected
    images: int
    true_boxes: int
    empty_images: int
    undecided: int  # detections at the threshold on evaluated images that no decision names
    engine: str  # "pycocotools" or "numpy"
    per_camera: tuple[CameraScore, ...] = field(default=())
    missing: tuple[str, ...] = ()  # evaluated files the detector's results do not have

    @property
    def precision(self) -> float:
        n = self.true_positives + self.false_positives
        return self.true_positives / n if n else 0.0

    @property
    def recall(self) -> float:
        n = self.true_positives + self.false_negatives
        return self.true_positives / n if n else 0.0

    def lines(self) -> list[str]:
        out = [
            f"{self.images} images ({self.empty_images} without a true box), {self.true_boxes} true boxes",
            f"  mAP@0.5 {self.map50:.3f}   mAP@0.5:0.95 {self.map50_95:.3f}   ({self.engine})",
            "  AP@0.5 per category: " + ", ".join(f"{k} {v:.3f}" for k, v in self.ap50_per_category.items()),
            f"  at threshold {self.threshold:g}: precision {self.precision:.3f}, recall {self.recall:.3f} "
            f"({self.true_positives} TP, {self.false_positives} FP, {self.false_negatives} FN)",
        ]
        if self.known_false_positives or self.undecided:
            out.append(f"  {self.known_false_positives} detections on boxes a person rejected, "
                       f"{self.undecided} on boxes nobody decided")
        if self.missing:
            out.append(f"  {len(self.missing)} evaluated files have no results of this detector: "
                       + ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else ""))
        if self.per_camera:
            width = max(8, *(len(c.location) for c in self.per_camera)) + 2
            out.append(f"  {'camera':{width}s}{'images':>7s}{'boxes':>7s}{'P':>7s}{'R':>7s}{'AP50':>7s}")
            for c in self.per_camera:
                out.append(f"  {c.location:{width}s}{c.images:>7d}{c.true_boxes:>7d}{c.precision:>7.3f}"
                           f"{c.recall:>7.3f}{c.ap50:>7.3f}")
        return out


# --------------------------------------------------------------------------- ground truth
def truth_from_decisions(folder: Path, paths: AppPaths) -> dict[str, ImageTruth]:
    """The verified images of ``folder`` (see the module docstring); ``{}`` when nobody verified any."""
    ws = Workspace.locate(Path(folder), paths, create=False)
    if ws is None:
        return {}
    per_file: dict[str, list] = {}
    for d in latest_decisions(load_decisions(ws.state_dir)).values():
        per_file.setdefault(d.file, []).append(d)
    out: dict[str, ImageTruth] = {}
    for rel, ds in sorted(per_file.items()):
        boxes = [d for d in ds if d.detection_id and d.bbox is not None and d.frame is None]
        empty = [d for d in ds if not d.detection_id and d.decision == "empty"]
        if empty and all(e.time >= d.time for e in empty for d in boxes):
            out[rel] = ImageTruth(verified_empty=True)
            continue
        true = []
        for d in boxes:
            if d.decision in ("accept", "relabel"):
                seen = (d.label if d.decision == "relabel" else d.model_label).strip().lower()
                true.append((_CATEGORY_OF.get(seen, _CATEGORY_OF.get(d.model_label.strip().lower(), "1")), d.bbox))
        rejected = tuple(d.bbox for d in boxes if d.decision == "reject" and d.bbox is not None)
        if true or rejected:
            out[rel] = ImageTruth(tuple(true), rejected)
    return out


def _by_name(paths: Sequence[str]) -> dict[str, str]:
    seen: dict[str, list[str]] = {}
    for p in paths:
        seen.setdefault(PurePosixPath(p).name.lower(), []).append(p)
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


def truth_from_reference(
    reference: ImportedResults, ours: Mapping[str, Prediction], *, conf_threshold: float = 0.2
) -> dict[str, ImageTruth]:
    """Reference boxes at or above ``conf_threshold`` as ground truth, keyed by *our* relative path
    (paired by path, else by a unique file name); files that failed on either side are left out."""
    names = _by_name(list(ours))
    out: dict[str, ImageTruth] = {}
    for p in reference.predictions:
        key = p.rel_path if p.rel_path in ours else names.get(PurePosixPath(p.rel_path).name.lower())
        if key is None or p.failed or ours[key].failed or p.kind != "image":
            continue
        boxes = tuple((d.category, d.bbox) for d in p.detections if d.confidence >= conf_threshold)
        out[key] = ImageTruth(boxes, verified_empty=not boxes)
    return out


# --------------------------------------------------------------------------- COCO mAP
def _xywh(b: BBox) -> list[float]:
    return [b.x * _SCALE, b.y * _SCALE, b.w * _SCALE, b.h * _SCALE]


def _iou_matrix(dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of ``[D, 4]`` against ``[G, 4]`` xywh boxes (as pycocotools' bbox IoU, not crowd)."""
    if not len(dt) or not len(gt):
        return np.zeros((len(dt), len(gt)))
    dx2, dy2 = dt[:, 0] + dt[:, 2], dt[:, 1] + dt[:, 3]
    gx2, gy2 = gt[:, 0] + gt[:, 2], gt[:, 1] + gt[:, 3]
    iw = np.clip(np.minimum(dx2[:, None], gx2[None]) - np.maximum(dt[:, 0][:, None], gt[:, 0][None]), 0, None)
    ih = np.clip(np.minimum(dy2[:, None], gy2[None]) - np.maximum(dt[:, 1][:, None], gt[:, 1][None]), 0, None)
    inter = iw * ih
    union = (dt[:, 2] * dt[:, 3])[:, None] + (gt[:, 2] * gt[:, 3])[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


Gt = tuple[int, str, list[float]]  # image index, category, xywh
Dt = tuple[int, str, list[float], float]  # image index, category, xywh, score


def coco_map(gts: Sequence[Gt], dts: Sequence[Dt]) -> tuple[float, float, dict[str, float]]:
    """``(mAP@0.5, mAP@0.5:0.95, {category: AP@0.5})`` as pycocotools' COCOeval computes them
    (bbox, area "all", maxDets 100, no crowd): greedy matching per image in score order, the
    precision envelope sampled at 101 recall points, categories without ground truth left out."""
    cats = sorted({g[1] for g in gts} | {d[1] for d in dts})
    images = sorted({g[0] for g in gts} | {d[0] for d in dts})
    n_t = len(IOU_THRESHOLDS)
    prec = -np.ones((n_t, len(RECALL_THRESHOLDS), len(cats)))
    for k, cat in enumerate(cats):
        scores: list[np.ndarray] = []
        matched: list[np.ndarray] = []
        npig = 0
        for img in images:
            g = np.array([x[2] for x in gts if x[0] == img and x[1] == cat], dtype=np.float64).reshape(-1, 4)
            ds = [x for x in dts if x[0] == img and x[1] == cat]
            if not len(g) and not ds:
                continue
            order = np.argsort([-x[3] for x in ds], kind="mergesort")[:MAX_DETS]
            d = np.array([ds[i][2] for i in order], dtype=np.float64).reshape(-1, 4)
            s = np.array([ds[i][3] for i in order], dtype=np.float64)
            ious = _iou_matrix(d, g)
            dtm = np.zeros((n_t, len(d)), dtype=bool)
            for t, thr in enumerate(IOU_THRESHOLDS):
                gtm = np.zeros(len(g), dtype=bool)
                for di in range(len(d)):
                    best, m = min(thr, 1 - 1e-10), -1
                    for gi in range(len(g)):
                        if gtm[gi] or ious[di, gi] < best:
                            continue
                        best, m = ious[di, gi], gi
                    if m >= 0:
                        gtm[m] = True
                        dtm[t, di] = True
            npig += len(g)
            scores.append(s)
            matched.append(dtm)
        if npig == 0:
            continue
        s_all = np.concatenate(scores) if scores else np.zeros(0)
        inds = np.argsort(-s_all, kind="mergesort")
        dtm_all = np.concatenate(matched, axis=1)[:, inds] if matched else np.zeros((n_t, 0), dtype=bool)
        tp_sum = np.cumsum(dtm_all, axis=1).astype(np.float64)
        fp_sum = np.cumsum(~dtm_all, axis=1).astype(np.float64)
        for t in range(n_t):
            tp, fp = tp_sum[t], fp_sum[t]
            rc = tp / npig
            pr = (tp / (fp + tp + np.spacing(1))).tolist()
            for i in range(len(pr) - 1, 0, -1):
                if pr[i] > pr[i - 1]:
                    pr[i - 1] = pr[i]
            q = np.zeros(len(RECALL_THRESHOLDS))
            for ri, pi in enumerate(np.searchsorted(rc, RECALL_THRESHOLDS, side="left")):
                if pi < len(pr):
                    q[ri] = pr[pi]
            prec[t, :, k] = q

    def mean(p: np.ndarray) -> float:
        v = p[p > -1]
        return float(v.mean()) if v.size else 0.0

    per_cat = {DETECTION_CATEGORIES.get(c, c): mean(prec[0, :, k]) for k, c in enumerate(cats)
               if (prec[0, :, k] > -1).any()}
    return mean(prec[0]), mean(prec), per_cat


def coco_map_pycocotools(gts: Sequence[Gt], dts: Sequence[Dt]) -> tuple[float, float, dict[str, float]]:
    """The same figures from pycocotools itself (raises ImportError when it is not installed)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cats = sorted({g[1] for g in gts} | {d[1] for d in dts})
    cat_id = {c: i + 1 for i, c in enumerate(cats)}
    images = sorted({g[0] for g in gts} | {d[0] for d in dts})
    if not any(True for _ in gts):
        return 0.0, 0.0, {}
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i + 1, "width": _SCALE, "height": _SCALE} for i in images],
        "annotations": [{"id": n + 1, "image_id": g[0] + 1, "category_id": cat_id[g[1]], "bbox": g[2],
                         "area": g[2][2] * g[2][3], "iscrowd": 0} for n, g in enumerate(gts)],
        "categories": [{"id": cat_id[c], "name": c} for c in cats],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([{"image_id": d[0] + 1, "category_id": cat_id[d[1]], "bbox": d[2], "score": d[3]}
                         for d in dts]) if dts else COCO()
        if not dts:
            return 0.0, 0.0, {DETECTION_CATEGORIES.get(c, c): 0.0 for c in sorted({g[1] for g in gts})}
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    p = ev.eval["precision"][:, :, :, 0, -1]  # [T, R, K] at area "all", maxDets 100

    def mean(x: np.ndarray) -> float:
        v = x[x > -1]
        return float(v.mean()) if v.size else 0.0

    per_cat = {DETECTION_CATEGORIES.get(c, c): mean(p[0, :, cat_id[c] - 1]) for c in cats
               if (p[0, :, cat_id[c] - 1] > -1).any()}
    return float(ev.stats[1]), float(ev.stats[0]), per_cat


# --------------------------------------------------------------------------- evaluation
def _match_at(truth: ImageTruth, dets: Sequence[tuple[str, BBox]]) -> tuple[int, int, int, int]:
    """``(TP, FP, FN, on rejected)`` of one image's detections at the threshold (IoU >= 0.5, same category)."""
    pairs = sorted(((d[1].iou(g[1]), i, j) for i, d in enumerate(dets) for j, g in enumerate(truth.boxes)
                    if d[0] == g[0] and d[1].iou(g[1]) >= 0.5), reverse=True)
    used_d: set[int] = set()
    used_g: set[int] = set()
    for _, i, j in pairs:
        if i not in used_d and j not in used_g:
            used_d.add(i)
            used_g.add(j)
    unmatched = [d for i, d in enumerate(dets) if i not in used_d]
    on_rejected = sum(1 for d in unmatched if any(d[1].iou(r) >= 0.5 for r in truth.rejected))
    return len(used_d), len(unmatched), len(truth.boxes) - len(used_g), on_rejected


def _coco_inputs(truth: Mapping[str, ImageTruth], preds: Mapping[str, Prediction],
                 keys: Sequence[str]) -> tuple[list[Gt], list[Dt]]:
    gts: list[Gt] = []
    dts: list[Dt] = []
    for n, rel in enumerate(keys):
        gts += [(n, c, _xywh(b)) for c, b in truth[rel].boxes]
        pred = preds.get(rel)
        if pred is not None and not pred.failed:
            dts += [(n, d.category, _xywh(d.bbox), float(d.confidence)) for d in pred.detections if d.frame is None]
    return gts, dts


def evaluate_detection(
    truth: Mapping[str, ImageTruth], preds: Mapping[str, Prediction], *, threshold: float, engine: str = "auto",
    verified: bool = True,
) -> DetectionScores:
    """Score ``preds`` (our relative path -> prediction) against ``truth`` (see the module docstring).

    Args:
        engine: ``"pycocotools"``, ``"numpy"`` (:func:`coco_map`) or ``"auto"`` (pycocotools when installed).
        verified: the truth is person-verified (unmatched detections nobody decided are counted apart).
    """
    keys = sorted(truth)
    if engine == "auto":
        try:
            import pycocotools  # noqa: F401
        except ImportError:
            engine = "numpy"
        else:
            engine = "pycocotools"
    compute = coco_map_pycocotools if engine == "pycocotools" else coco_map
    gts, dts = _coco_inputs(truth, preds, keys)
    m50, m5095, per_cat = compute(gts, dts)
    totals = np.zeros(4, dtype=np.int64)
    cams: dict[str, list[str]] = {}
    for rel in keys:
        cams.setdefault(camera_location(rel), []).append(rel)
    undecided = 0
    per_file: dict[str, np.ndarray] = {}
    for rel in keys:
        pred = preds.get(rel)
        dets = [(d.category, d.bbox) for d in (pred.detections if pred and not pred.failed else ())
                if d.frame is None and d.confidence >= threshold]
        per_file[rel] = np.array(_match_at(truth[rel], dets))
        totals += per_file[rel]
        undecided += (per_file[rel][1] - per_file[rel][3]) if verified else 0
    per_camera = []
    if len(cams) > 1:
        for loc, rels in sorted(cams.items()):
            tp, fp, fn, _ = np.sum([per_file[r] for r in rels], axis=0)
            g, d = _coco_inputs(truth, preds, rels)
            per_camera.append(CameraScore(loc, len(rels), int(tp + fn), float(tp / (tp + fp)) if tp + fp else 0.0,
                                          float(tp / (tp + fn)) if tp + fn else 0.0, coco_map(g, d)[0]))
    return DetectionScores(
        map50=m50, map50_95=m5095, ap50_per_category=per_cat, threshold=threshold,
        true_positives=int(totals[0]), false_positives=int(totals[1]), false_negatives=int(totals[2]),
        known_false_positives=int(totals[3]), images=len(keys),
        true_boxes=sum(len(t.boxes) for t in truth.values()),
        empty_images=sum(1 for t in truth.values() if not t.boxes), undecided=int(undecided), engine=engine,
        per_camera=tuple(per_camera), missing=tuple(r for r in keys if r not in preds),
    )
