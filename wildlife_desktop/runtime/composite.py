"""Composite detector: several installed detector packs run as one, described as data.

A composite pack's file is a JSON spec (sha256-checked like any pack file)::

    {"format": "wildlife-desktop-composite", "version": 1,
     "members": [{"id": "mdlite", "sha256": "...", "name": "...", "version": "...", "licence": "MIT"}, ...],
     "categories": {"animal": {"member": "mdlite", "floor": 0.0},
                    "person": {"member": "nanodet-coco", "floor": 0.55}, ...},
     "suppress": [{"drop": "animal", "overlapping": "vehicle", "iou": 0.5, "min_confidence": 0.35}]}

Each member runs once on the same decoded image; each detector category is taken from the member
that owns it (its other categories are ignored), keeping boxes at or above the category's floor;
then the suppression rules drop boxes of one category that overlap a box of another (e.g. the
animal detector firing on a car the vehicle detector found). Members are named by id and sha256:
a composite whose member is missing or was replaced by another file refuses to open.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..core.atomic import atomic_write_json
from ..core.errors import ModelLoadError, ModelPackError
from ..core.records import Detection
from .detector import DEFAULT_CONF_FLOOR, Detector
from .manifest import DETECTOR_LABELS, ModelManifest

COMPOSITE_FORMAT: Final[str] = "wildlife-desktop-composite"
COMPOSITE_SPEC_VERSION: Final[int] = 1
MAX_SPEC_BYTES: Final[int] = 1 << 20

#: ``open_member(member_id, intra_threads)``: the store's sha256-checked detector of an installed pack.
OpenMember = Callable[[str, "int | None"], Detector]


@dataclass(frozen=True)
class Member:
    """One member pack, pinned by its id and the sha256 of its model file."""

    id: str
    sha256: str
    name: str = ""
    version: str = ""
    licence: str = ""


@dataclass(frozen=True)
class CategoryRule:
    """Which member's boxes make a detector category, and the minimum confidence kept."""

    category: str
    member: str
    floor: float = 0.0


@dataclass(frozen=True)
class SuppressRule:
    """Drop a ``drop`` box that overlaps, at IoU ``iou`` or more, an ``overlapping`` box of that
    category's owner scoring ``min_confidence`` or more, even one below the category's floor
    (a box too weak to report can still say "this is not an animal")."""

    drop: str
    overlapping: str
    iou: float
    min_confidence: float = 0.0


@dataclass(frozen=True)
class CompositeSpec:
    """The parsed ``composite.json``."""

    members: tuple[Member, ...]
    categories: tuple[CategoryRule, ...]
    suppress: tuple[SuppressRule, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": COMPOSITE_FORMAT, "version": COMPOSITE_SPEC_VERSION,
            "members": [vars(m).copy() for m in self.members],
            "categories": {c.category: {"member": c.member, "floor": c.floor} for c in self.categories},
            "suppress": [vars(r).copy() for r in self.suppress],
        }

    def describe(self) -> list[dict[str, Any]]:
        """The members as written into result files (id, name, version, licence, sha256, categories)."""
        owned = {m.id: [c.category for c in self.categories if c.member == m.id] for m in self.members}
        return [{"id": m.id, "name": m.name, "version": m.version, "licence": m.licence, "sha256": m.sha256,
                 "categories": owned[m.id]} for m in self.members]


def _unit(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _text(d: dict[str, Any], key: str, what: str, required: bool = False) -> str:
    value = d.get(key, "")
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{what}: '{key}' must be a{' non-empty' if required else ''} string")
    return value


def spec_from_dict(data: Any) -> CompositeSpec:
    """Validate and build a spec from its JSON form.

    Raises:
        ValueError: anything malformed (the message says what).
    """
    if not isinstance(data, dict) or data.get("format") != COMPOSITE_FORMAT:
        raise ValueError(f"not a composite spec (expected \"format\": \"{COMPOSITE_FORMAT}\")")
    if data.get("version") != COMPOSITE_SPEC_VERSION:
        raise ValueError(f"composite spec version {data.get('version')!r} is not supported "
                         f"(this application reads {COMPOSITE_SPEC_VERSION})")
    raw_members, raw_cats, raw_sup = data.get("members"), data.get("categories"), data.get("suppress", [])
    if not isinstance(raw_members, list) or not raw_members or not all(isinstance(m, dict) for m in raw_members):
        raise ValueError("'members' must be a non-empty list of objects")
    members = tuple(Member(id=_text(m, "id", "member", True), sha256=_text(m, "sha256", "member", True).lower(),
                           name=_text(m, "name", "member"), version=_text(m, "version", "member"),
                           licence=_text(m, "licence", "member")) for m in raw_members)
    ids = [m.id for m in members]
    if len(set(ids)) != len(ids):
        raise ValueError("a member is listed twice")
    if any(len(m.sha256) != 64 or any(c not in "0123456789abcdef" for c in m.sha256) for m in members):
        raise ValueError("each member's sha256 must be 64 hexadecimal characters")
    if not isinstance(raw_cats, dict) or not raw_cats:
        raise ValueError("'categories' must map detector categories to their member")
    cats = []
    for name, rule in raw_cats.items():
        if name not in DETECTOR_LABELS:
            raise ValueError(f"{name!r} is not a detector category ({', '.join(DETECTOR_LABELS)})")
        if not isinstance(rule, dict) or rule.get("member") not in ids:
            raise ValueError(f"category {name!r} must name one of the members ({', '.join(ids)})")
        cats.append(CategoryRule(name, rule["member"], _unit(rule.get("floor", 0.0), f"the floor of {name!r}")))
    if not isinstance(raw_sup, list) or not all(isinstance(r, dict) for r in raw_sup):
        raise ValueError("'suppress' must be a list of objects")
    sup = []
    for r in raw_sup:
        drop, over = r.get("drop"), r.get("overlapping")
        if drop not in DETECTOR_LABELS or over not in DETECTOR_LABELS:
            raise ValueError(f"a suppress rule must name two detector categories, got {drop!r} and {over!r}")
        sup.append(SuppressRule(drop, over, _unit(r.get("iou"), "a suppress rule's iou"),
                                _unit(r.get("min_confidence", 0.0), "a suppress rule's min_confidence")))
    return CompositeSpec(members, tuple(cats), tuple(sup))


def read_composite_spec(path: Path, model_id: str) -> CompositeSpec:
    """Read and validate a composite pack's spec file.

    Raises:
        ModelPackError: unreadable, not JSON, or malformed (one line naming the pack).
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise ModelPackError(f"Composite '{model_id}': cannot read {Path(path).name}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_SPEC_BYTES:
        raise ModelPackError(f"Composite '{model_id}': {Path(path).name} is too large for a composite spec")
    try:
        return spec_from_dict(json.loads(raw.decode("utf-8")))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelPackError(f"Composite '{model_id}': {Path(path).name}: {exc}") from exc


def write_composite_spec(path: Path, spec: CompositeSpec) -> None:
    """Write the spec atomically as JSON."""
    atomic_write_json(Path(path), spec.to_dict())


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every ``[x, y, w, h]`` box in ``a`` with every one in ``b``."""
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def merge(per_member: Mapping[str, Sequence[tuple[str, Detection]]], spec: CompositeSpec, conf_floor: float
          ) -> list[Detection]:
    """Merge members' detections by the spec's rules.

    Args:
        per_member: member id -> ``(detector category name, detection)`` pairs.
        spec: owners, floors and suppression rules.
        conf_floor: the run's confidence floor.

    Returns:
        Detections with categories "1"/"2"/"3", highest confidence first.
    """
    kept: list[tuple[str, Detection]] = []
    for rule in spec.categories:
        floor = max(conf_floor, rule.floor)
        kept.extend((name, d) for name, d in per_member.get(rule.member, ())
                    if name == rule.category and d.confidence >= floor)
    owner = {c.category: c.member for c in spec.categories}
    for sup in spec.suppress:
        drop = [i for i, (n, _) in enumerate(kept) if n == sup.drop]
        over = [d.bbox.as_list() for n, d in per_member.get(owner.get(sup.overlapping, ""), ())
                if n == sup.overlapping and d.confidence >= sup.min_confidence]
        if not drop or not over:
            continue
        iou = _iou_matrix(np.array([kept[i][1].bbox.as_list() for i in drop], dtype=np.float64),
                          np.array(over, dtype=np.float64))
        gone = {drop[k] for k in np.flatnonzero((iou >= sup.iou).any(axis=1))}
        kept = [kd for i, kd in enumerate(kept) if i not in gone]
    out = [Detection(category=str(DETECTOR_LABELS.index(name) + 1), confidence=d.confidence, bbox=d.bbox)
           for name, d in kept]
    return sorted(out, key=lambda d: -d.confidence)


class CompositeDetector:
    """Several detector packs as one detector (same duck type as :class:`~.detector.Detector`).

    Args:
        manifest: the composite pack's manifest (family ``composite``).
        spec_path: its ``composite.json`` (sha256-checked by the store).
        open_member: opens an installed member pack, sha256-checked.
        intra_threads: onnxruntime intra-op threads of each member.

    Raises:
        ModelLoadError: malformed spec; a member missing, changed since the composite was made, or
            unloadable (one line naming the member).
    """

    def __init__(self, manifest: ModelManifest, spec_path: Path | str, open_member: OpenMember, *,
                 intra_threads: int | None = None):
        self.manifest = manifest
        self.spec = read_composite_spec(Path(spec_path), manifest.id)
        self.members: dict[str, Detector] = {}
        for member in self.spec.members:
            try:
                det = open_member(member.id, intra_threads)
            except ModelLoadError as exc:
                raise ModelLoadError(f"Composite '{manifest.id}': member '{member.id}' cannot be used: {exc}") from exc
            if det.manifest.sha256 != member.sha256:
                raise ModelLoadError(
                    f"Composite '{manifest.id}': member '{member.id}' has changed since the composite was "
                    f"installed (sha256 {det.manifest.sha256[:12]}... instead of {member.sha256[:12]}...); "
                    f"reinstall the composite")
            self.members[member.id] = det

    @property
    def input_size(self) -> int:
        """The largest member input (the image is decoded once, at this scale)."""
        return max(d.input_size for d in self.members.values())

    @property
    def labels(self) -> tuple[str, ...]:
        """The detector categories, index 0 = category "1"."""
        return DETECTOR_LABELS

    @property
    def random_weights(self) -> bool:
        """True when the composite or any member has random weights."""
        return self.manifest.random_weights or any(d.random_weights for d in self.members.values())

    def member_floor(self, member_id: str, conf_floor: float) -> float:
        """The lowest confidence of a member's boxes the merge can use: its categories' floors
        (at least ``conf_floor``) and the evidence its boxes give to suppression rules. Asking a
        member for nothing below it changes no result and saves decoding (NanoDet: most of its
        3549 cells pass a 0.005 floor)."""
        owner = {c.category: c.member for c in self.spec.categories}
        needs = [max(conf_floor, c.floor) for c in self.spec.categories if c.member == member_id]
        needs += [r.min_confidence for r in self.spec.suppress if owner.get(r.overlapping) == member_id]
        return min(needs, default=1.0)

    def detect_members(self, image: np.ndarray, conf_floor: float = DEFAULT_CONF_FLOOR
                       ) -> dict[str, list[tuple[str, Detection]]]:
        """Each member's detections on ``image``, as ``(category name, detection)`` pairs, without the
        members' own category floors (the spec's floors apply), down to :meth:`member_floor`."""
        out: dict[str, list[tuple[str, Detection]]] = {}
        for mid, det in self.members.items():
            names = det.labels
            found = det.detect(image, self.member_floor(mid, conf_floor), use_category_floors=False)
            out[mid] = [(names[int(d.category) - 1], d) for d in found
                        if d.category.isdigit() and 0 < int(d.category) <= len(names)]
        return out

    def detect(self, image: np.ndarray, conf_floor: float = DEFAULT_CONF_FLOOR) -> list[Detection]:
        """Run every member once on ``image`` and merge (see :func:`merge`).

        Args:
            image: ``H x W x 3`` uint8 RGB array (EXIF orientation already applied).
            conf_floor: drop boxes scoring below this.

        Returns:
            Detections with categories "1" animal, "2" person, "3" vehicle, highest confidence first.
        """
        return merge(self.detect_members(image, conf_floor), self.spec, conf_floor)
