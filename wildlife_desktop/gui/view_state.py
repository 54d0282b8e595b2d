"""How predictions are *shown*: thresholds and per-file badge status. Pure Python, no Qt.

Thresholds here change what the grid, the review pane and exports show; they never change
the stored model output (the journal keeps every box above the job's confidence floor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ..core.records import Detection, MediaFile, Prediction
from ..formats.bundle import SequenceInfo
from ..formats.decisions import ReviewDecision, latest_decisions
from ..review.queue import disagrees


class FileStatus(str, Enum):
    """Badge state of one file in the grid."""

    PENDING = "pending"
    FAILED = "failed"
    EMPTY = "empty"
    ANIMAL = "animal"
    PERSON = "person"
    VEHICLE = "vehicle"


_CATEGORY_STATUS = {"1": FileStatus.ANIMAL, "2": FileStatus.PERSON, "3": FileStatus.VEHICLE}
_NEG = float("-inf")


@dataclass(frozen=True, slots=True)
class PredictionDigest:
    """What the grid needs of one prediction at any threshold, computed once per prediction.

    ``Thresholds.status``/``top`` filter and sort the detections on every call; over 100k files
    per slider step that is seconds. With the best detection and the best confidence per
    category, both answers are a few comparisons (:meth:`Thresholds.status_of`/``top_of``).
    """

    failed: bool
    best: Detection | None  # most confident detection (the first one on ties, as a stable sort)
    best_by_category: dict[str, float]

    @classmethod
    def of(cls, prediction: Prediction) -> PredictionDigest:
        if prediction.failed:
            return cls(True, None, {})
        dets = prediction.detections
        best = max(dets, key=lambda d: d.confidence) if dets else None
        by_cat: dict[str, float] = {}
        for d in dets:
            if d.confidence > by_cat.get(d.category, _NEG):
                by_cat[d.category] = d.confidence
        return cls(False, best, by_cat)

    @property
    def best_confidence(self) -> float:
        return self.best.confidence if self.best is not None else _NEG


@dataclass(frozen=True)
class Thresholds:
    """Display thresholds (0..1)."""

    detection: float = 0.2
    classification: float = 0.5

    def visible(self, prediction: Prediction) -> list[Detection]:
        """Detections at or above the detection threshold, most confident first."""
        dets = [d for d in prediction.detections if d.confidence >= self.detection]
        dets.sort(key=lambda d: d.confidence, reverse=True)
        return dets

    def label(self, det: Detection) -> str:
        """Species label when the classifier is confident enough, else the detector category."""
        conf = det.top_label_confidence
        if det.top_label and conf is not None and conf >= self.classification:
            return det.top_label
        return det.category_name

    def status(self, prediction: Prediction | None) -> FileStatus:
        if prediction is None:
            return FileStatus.PENDING
        if prediction.failed:
            return FileStatus.FAILED
        dets = self.visible(prediction)
        if not dets:
            return FileStatus.EMPTY
        cats = {d.category for d in dets}
        # A person anywhere in the frame matters most (privacy), then animals.
        for cat in ("2", "1", "3"):
            if cat in cats:
                return _CATEGORY_STATUS[cat]
        return FileStatus.ANIMAL

    def status_of(self, digest: PredictionDigest | None) -> FileStatus:
        """Same as :meth:`status`, from a :class:`PredictionDigest`."""
        if digest is None:
            return FileStatus.PENDING
        if digest.failed:
            return FileStatus.FAILED
        t = self.detection
        if digest.best is None or digest.best.confidence < t:
            return FileStatus.EMPTY
        by_cat = digest.best_by_category
        for cat in ("2", "1", "3"):
            if by_cat.get(cat, _NEG) >= t:
                return _CATEGORY_STATUS[cat]
        return FileStatus.ANIMAL

    def top_of(self, digest: PredictionDigest | None) -> tuple[str, float] | None:
        """Same as :meth:`top`, from a :class:`PredictionDigest`."""
        if digest is None or digest.best is None or digest.best.confidence < self.detection:
            return None
        return self.label(digest.best), digest.best.confidence

    def top(self, prediction: Prediction | None) -> tuple[str, float] | None:
        """(label, confidence) of the most confident visible detection."""
        if prediction is None or prediction.failed:
            return None
        dets = self.visible(prediction)
        if not dets:
            return None
        return self.label(dets[0]), dets[0].confidence


# ---- season filters of the grid (issue 14): computed on the pool, never per row on the GUI thread ----

#: Review states of a file (``review.queue.REVIEW_STATES`` at file level).
FILE_STATES: Final[tuple[str, ...]] = ("not_reviewed", "verified", "mine", "relabelled", "rejected", "disagreement")


@dataclass(frozen=True, slots=True)
class FileReview:
    """What the grid's filters need of one file's effective decisions."""

    labels: frozenset[str]  # verified labels (accept / relabel / unknown), lower case
    states: frozenset[str]


@dataclass(frozen=True)
class GridFilter:
    """The grid's filters; empty fields do not filter. ``label`` is the verified label, else the top one."""

    status: str | None = None  # a FileStatus value, or "unreviewed"
    label: str = ""
    states: frozenset[str] = frozenset()
    location: str = ""
    date_from: str = ""  # "YYYY-MM-DD", inclusive
    date_to: str = ""
    min_conf: float = 0.0  # confidence band of the file's best visible detection
    max_conf: float = 1.0

    @property
    def active(self) -> bool:
        return self != GridFilter()


def file_reviews(decisions: Iterable[ReviewDecision], reviewer: str = "") -> dict[str, FileReview]:
    """Per file, its verified labels and review states from the history (latest decision per key wins).

    Files without an effective decision are absent (they are "not reviewed"). Pure Python; the
    window calls it on the pool (a season's history is 10^5 records).
    """
    latest = latest_decisions(decisions)
    per: dict[str, tuple[set[str], set[str]]] = {}
    for d in latest.values():
        if d.decision not in ("accept", "relabel", "unknown", "reject", "empty"):
            continue  # counts, audit answers: not a verification of a box
        labels, states = per.setdefault(d.file, (set(), set()))
        if reviewer and d.reviewer == reviewer:
            states.add("mine")
        if d.decision in ("accept", "relabel", "unknown"):
            states.add("verified")
            if d.label:
                labels.add(d.label.lower())
        else:
            states |= {"rejected", "disagreement"}
        if d.decision == "relabel" and d.model_label and d.label.lower() != d.model_label.lower():
            states |= {"relabelled", "disagreement"}
    return {f: FileReview(frozenset(lab), frozenset(st)) for f, (lab, st) in per.items()}


def compute_grid_rows(
    files: Sequence[MediaFile],
    digests: Mapping[str, PredictionDigest],
    predictions: Mapping[str, Prediction],
    thresholds: Thresholds,
    flt: GridFilter,
    *,
    reviewed: Set[str] = frozenset(),
    reviews: Mapping[str, FileReview] | None = None,
    sequences: Mapping[str, SequenceInfo] | None = None,
) -> list[int]:
    """Indices into ``files`` that pass ``flt`` (file order). Pure Python: safe on a pool thread."""
    reviews = reviews or {}
    sequences = sequences or {}
    status_of, top_of = thresholds.status_of, thresholds.top_of
    want_label = flt.label.lower()
    lo, hi = flt.min_conf, flt.max_conf
    band = lo > 0.0 or hi < 1.0
    keep: list[int] = []
    for i, f in enumerate(files):
        rel = f.rel_path
        d = digests.get(rel)
        if band:
            top = top_of(d)
            if top is None or not lo <= top[1] <= hi:
                continue
        if flt.status is not None:
            if flt.status == "unreviewed":
                if rel in reviewed:
                    continue
            elif status_of(d).value != flt.status:
                continue
        rv = reviews.get(rel)
        if flt.states:
            states = rv.states if rv is not None else _NOT_REVIEWED
            if d is not None and d.best is not None and rv is None and disagrees(d.best):
                states = _NOT_REVIEWED_DISAGREE
            if not flt.states & states:
                continue
        if want_label:
            if rv is not None and rv.labels:
                if want_label not in rv.labels:
                    continue
            else:
                top = top_of(d)
                if top is None or top[0].lower() != want_label:
                    continue
        if flt.location:
            seq = sequences.get(rel)
            if seq is None or seq.location != flt.location:
                continue
        if flt.date_from or flt.date_to:
            p = predictions.get(rel)
            day = (p.meta.datetime or "")[:10] if p is not None else ""
            if not day or (flt.date_from and day < flt.date_from) or (flt.date_to and day > flt.date_to):
                continue
        keep.append(i)
    return keep


def event_sort_key(files: Sequence[MediaFile], predictions: Mapping[str, Prediction],
                   sequences: Mapping[str, SequenceInfo]) -> Callable[[int], tuple[str, str, str, int, str]]:
    """Sort key by event: camera, the event's first capture time, the event, its frame order."""
    start: dict[str, str] = {}
    for rel, seq in sequences.items():
        p = predictions.get(rel)
        t = (p.meta.datetime if p is not None else None) or "~"
        if t < start.get(seq.seq_id, "~~"):
            start[seq.seq_id] = t

    def key(i: int) -> tuple[str, str, str, int, str]:
        rel = files[i].rel_path
        seq = sequences.get(rel)
        if seq is None:
            return (rel.rpartition("/")[0], "~", rel, 0, rel)
        return (seq.location, start.get(seq.seq_id, "~"), seq.seq_id, seq.frame_num, rel)

    return key


_NOT_REVIEWED: Final = frozenset({"not_reviewed"})
_NOT_REVIEWED_DISAGREE: Final = frozenset({"not_reviewed", "disagreement"})
