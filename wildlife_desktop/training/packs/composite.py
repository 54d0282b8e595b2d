"""``mdlite-nanodet``: the default detector, MegadetectorLite (animals) + NanoDet COCO (people, vehicles).

A composite pack: its file ``mdlite-nanodet.json`` (a :mod:`wildlife_desktop.runtime.composite`
spec) names the two installed member packs by id and sha256, which member owns which detector
category, the floors and the merge rule. Result files name it ``mdlite-nanodet`` with both
members (name, version, licence, sha256) in ``info.detector_metadata.members``. Never call it
MegaDetector: both members are weaker than MegaDetector.

The merge rule, measured on ``shared/samples/caltech_cct`` (7 car images): MegadetectorLite calls
parts of cars "animal" (boxes at >= its 0.25 threshold on 4 of the 7 car images). Three of those
boxes lie on a NanoDet vehicle box scoring >= 0.25 at IoU 0.60, 0.65 and 0.73; on the other 65
sample images no MegadetectorLite box at >= 0.25 overlaps a NanoDet vehicle box at all. So an
animal box overlapping a NanoDet vehicle box (>= 0.25, even below the 0.4 vehicle floor) at
IoU >= 0.5 is dropped: cars with a false animal 4/7 -> 3/7, animals found still 19/21. IoU rather
than "inside the vehicle box": a small animal in front of a parked car must stay an animal.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from ...core.errors import ModelLoadError, ModelPackError
from ...runtime.composite import CategoryRule, CompositeSpec, Member, SuppressRule, write_composite_spec
from ...runtime.manifest import DETECTOR_LABELS, MANIFEST_NAME, ModelManifest, save_manifest
from ...runtime.store import ModelStore, sha256_file
from .nanodet import CATEGORY_FLOORS as NANODET_FLOORS
from .nanodet import MODEL_ID as NANODET_ID

Notify = Callable[[str], None]

MODEL_ID: Final[str] = "mdlite-nanodet"
MODEL_NAME: Final[str] = "MegadetectorLite + NanoDet (animal, person, vehicle)"
VERSION: Final[str] = "1"
ANIMAL_MEMBER: Final[str] = "mdlite"
OTHER_MEMBER: Final[str] = NANODET_ID
#: The merge rule (see the module docstring for the figures).
SUPPRESS: Final[tuple[SuppressRule, ...]] = (
    SuppressRule(drop="animal", overlapping="vehicle", iou=0.5, min_confidence=0.25),
)


def _member(store: ModelStore, member_id: str) -> ModelManifest:
    try:
        m, path = store.get(member_id)
    except ModelLoadError as exc:
        raise ModelPackError(f"{MODEL_NAME} needs the '{member_id}' pack: install it first ({exc})") from exc
    if m.task != "detection" or not path.is_file() or sha256_file(path) != m.sha256:
        raise ModelPackError(f"{MODEL_NAME}: the installed '{member_id}' pack is not an intact detector; "
                             f"reinstall it first")
    return m


def composite_spec(animals: ModelManifest, others: ModelManifest) -> CompositeSpec:
    """Animals from ``animals``; people and vehicles from ``others`` with their measured floors."""
    members = tuple(Member(id=m.id, sha256=m.sha256, name=m.name, version=m.version, licence=m.licence)
                    for m in (animals, others))
    cats = (CategoryRule("animal", animals.id, 0.0),
            CategoryRule("person", others.id, NANODET_FLOORS["person"]),
            CategoryRule("vehicle", others.id, NANODET_FLOORS["vehicle"]))
    return CompositeSpec(members, cats, SUPPRESS)


def install_composite(store: ModelStore, source: Path | None = None, *, notify: Notify = print,
                      replace: bool = True) -> ModelManifest:
    """Install the ``mdlite-nanodet`` composite over the installed ``mdlite`` and ``nanodet-coco`` packs.

    Args:
        store: the model store holding both members.
        source: unused (the composite is made from installed packs; kept for the installers' signature).
        notify: progress messages, one line each.
        replace: replace an installed composite (e.g. after a member was reinstalled).

    Returns:
        The installed manifest.

    Raises:
        ModelPackError: a member is not installed or not intact.
    """
    animals, others = _member(store, ANIMAL_MEMBER), _member(store, OTHER_MEMBER)
    spec = composite_spec(animals, others)
    licences = sorted({animals.licence, others.licence})
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".composite-", dir=store.root) as tmp:
        spec_path = Path(tmp) / f"{MODEL_ID}.json"
        write_composite_spec(spec_path, spec)
        m = ModelManifest(
            id=MODEL_ID, version=VERSION, name=MODEL_NAME, family="composite", task="detection",
            file=spec_path.name, sha256=sha256_file(spec_path),
            input_size=max(animals.input_size, others.input_size), labels=DETECTOR_LABELS,
            typical_threshold=animals.typical_threshold, conservative_threshold=animals.conservative_threshold,
            licence=" + ".join(licences), source_url=f"composite of '{animals.id}' and '{others.id}'",
            citation=" | ".join(c for c in (animals.citation, others.citation) if c),
            random_weights=animals.random_weights or others.random_weights,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extra={"members": spec.describe(),
                   "not_megadetector": "two models weaker than MegaDetector: animals from MegadetectorLite, "
                                       "people and vehicles from NanoDet COCO"},
        )
        save_manifest(Path(tmp) / MANIFEST_NAME, m)
        installed = store.import_pack(Path(tmp), replace=replace)
    notify(f"Installed {installed.id}: {installed.name} (animals from {animals.id}, people and vehicles "
           f"from {others.id})")
    return installed
