"""The empty-image audit: how many animals did the detector miss, per camera, and what threshold would catch them.

Per camera location, ``per_camera`` of the images shown as *empty* (no box at or above the
detection threshold) are drawn at random (seeded by the seed and the location, so the same
folder gives the same sample) for a person to confirm. An answer is a decision: ``empty`` (the
file is empty) or ``missed`` (an animal is there); without one, a positive decision on one of the
file's low-confidence boxes (the animal was there, below the threshold) counts as ``missed``.

From the answered sample of one camera, with ``E`` empty images, ``D`` images with detections,
``s`` answered and ``k`` of them holding an animal:

* miss rate among empty images ``p = k / s`` with a 95 % Wilson score interval;
* estimated missed images ``p E``; estimated recall (image level) ``D / (D + p E)`` (the
  detected images counted as animals; their precision is what review checks);
* suggested threshold: the highest threshold ``t`` (one of the confidences of the sampled
  animals) whose estimated recall ``(D + E k_t / s) / (D + E k / s)`` reaches the target, where
  ``k_t`` is the sampled animals whose best box is at or above ``t``; and the images it adds to
  review, ``E n_t / s`` (``n_t``: sampled images with a box at or above ``t``).

The report (settings, per camera figures) is what a methods section needs; it is kept in
``.wildlife/audit.json`` by the caller.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.records import Prediction
from ..formats.bundle import detection_id
from ..formats.decisions import POSITIVE_KINDS, ReviewDecision, latest_decisions

Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (``(0, 1)`` when ``n == 0``)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _empty_files(predictions: Mapping[str, Prediction], threshold: float) -> list[str]:
    return sorted(r for r, p in predictions.items() if not p.failed and p.max_confidence() < threshold)


def audit_sample(predictions: Mapping[str, Prediction], locations: Mapping[str, str], *, threshold: float,
                 per_camera: int, seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Per location, up to ``per_camera`` empty images drawn at random (seeded), sorted."""
    by_loc: dict[str, list[str]] = {}
    for rel in _empty_files(predictions, threshold):
        by_loc.setdefault(locations.get(rel, ""), []).append(rel)
    return {loc: tuple(sorted(random.Random(f"{seed}:{loc}").sample(files, min(per_camera, len(files)))))
            for loc, files in sorted(by_loc.items())}


@dataclass(frozen=True)
class CameraAudit:
    location: str
    empty_images: int  # E
    detected_images: int  # D
    sampled: int
    answered: int  # s
    missed: int  # k
    miss_rate: float | None
    miss_rate_low: float
    miss_rate_high: float
    estimated_missed: float | None
    estimated_recall: float | None
    suggested_threshold: float | None  # None: the current threshold already meets the target
    extra_images_to_review: float | None


@dataclass(frozen=True)
class AuditReport:
    threshold: float
    target_recall: float
    seed: int
    per_camera: int
    cameras: tuple[CameraAudit, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _answer(rel: str, pred: Prediction, decisions: Mapping[tuple[str, str], ReviewDecision],
            ids: Mapping[str, float]) -> tuple[bool, float] | None:
    """(animal there, confidence at which the detector saw it) or None when not answered."""
    file_level = decisions.get((rel, ""))
    if file_level is not None and file_level.decision == "missed":
        return True, pred.max_confidence()
    if file_level is not None and file_level.decision == "empty":
        return False, pred.max_confidence()
    positive = [ids.get(d.detection_id, 0.0) for (f, did), d in decisions.items()
                if f == rel and did in ids and d.decision in POSITIVE_KINDS]
    return (True, max(positive)) if positive else None


def audit_report(predictions: Mapping[str, Prediction], locations: Mapping[str, str],
                 sample: Mapping[str, Iterable[str]], decisions: Iterable[ReviewDecision], *, threshold: float,
                 target_recall: float = 0.95, seed: int = 0, per_camera: int = 0) -> AuditReport:
    """The audit's figures per camera from the answered part of ``sample`` (see the module docstring)."""
    latest = latest_decisions(decisions)
    by_file: dict[str, dict[tuple[str, str], ReviewDecision]] = {}
    for key, d in latest.items():
        by_file.setdefault(d.file, {})[key] = d
    empty_n: dict[str, int] = {}
    detected_n: dict[str, int] = {}
    for rel, p in predictions.items():
        if p.failed:
            continue
        loc = locations.get(rel, "")
        target = empty_n if p.max_confidence() < threshold else detected_n
        target[loc] = target.get(loc, 0) + 1
    cameras = []
    for loc in sorted(set(empty_n) | set(sample)):
        files = [r for r in sample.get(loc, ()) if r in predictions]
        answers = []
        for rel in files:
            pred = predictions[rel]
            confs = {detection_id(rel, d): d.confidence for d in pred.detections}
            a = _answer(rel, pred, by_file.get(rel, {}), confs)
            if a is not None:
                answers.append((a, pred.max_confidence()))
        e, dn, s = empty_n.get(loc, 0), detected_n.get(loc, 0), len(answers)
        k = sum(1 for (animal, _), _ in answers if animal)
        low, high = wilson_interval(k, s)
        rate = k / s if s else None
        est_missed = rate * e if rate is not None else None
        recall = dn / (dn + est_missed) if est_missed is not None and dn + est_missed > 0 else None
        suggested = extra = None
        if s and k and recall is not None and recall < target_recall:
            total = dn + e * k / s
            for t in sorted({c for (animal, c), _ in answers if animal and c > 0}, reverse=True):
                k_t = sum(1 for (animal, c), _ in answers if animal and c >= t)
                if (dn + e * k_t / s) / total >= target_recall:
                    suggested = t
                    extra = e * sum(1 for _, best in answers if best >= t) / s
                    break
        cameras.append(CameraAudit(loc, e, dn, len(files), s, k, rate, low, high, est_missed, recall,
                                   suggested, extra))
    return AuditReport(threshold, target_recall, seed, per_camera, tuple(cameras))
