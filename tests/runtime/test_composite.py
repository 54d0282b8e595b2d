"""Composite detector: members pinned by sha256, category owners, floors and the merge rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop.core.errors import ModelLoadError, ModelPackError
from wildlife_desktop.core.records import BBox, Detection
from wildlife_desktop.runtime import ModelManifest, ModelStore
from wildlife_desktop.runtime.composite import (
    CategoryRule,
    CompositeDetector,
    CompositeSpec,
    Member,
    SuppressRule,
    merge,
    spec_from_dict,
    write_composite_spec,
)
from wildlife_desktop.runtime.manifest import DETECTOR_LABELS, MANIFEST_NAME, save_manifest
from wildlife_desktop.runtime.store import sha256_file

from .conftest import DET_LABELS

SPEC = CompositeSpec(
    members=(Member("animals", "a" * 64), Member("others", "b" * 64)),
    categories=(CategoryRule("animal", "animals", 0.0), CategoryRule("person", "others", 0.55),
                CategoryRule("vehicle", "others", 0.35)),
    suppress=(SuppressRule("animal", "vehicle", iou=0.5, min_confidence=0.25),),
)


def det(cat: str, conf: float, box: tuple[float, float, float, float]) -> tuple[str, Detection]:
    return cat, Detection(category=str(DETECTOR_LABELS.index(cat) + 1), confidence=conf, bbox=BBox(*box))


def test_merge_takes_each_category_from_its_owner_with_floors_and_drops_animals_on_vehicles() -> None:
    car = (0.1, 0.1, 0.4, 0.4)
    per_member = {
        "animals": [det("animal", 0.5, (0.12, 0.1, 0.4, 0.4)),  # IoU ~0.9 with the weak car -> dropped
                    det("animal", 0.45, (0.15, 0.15, 0.1, 0.1)),  # small animal in front of the car: IoU 0.06, kept
                    det("animal", 0.8, (0.6, 0.6, 0.2, 0.2)),
                    det("person", 0.9, (0.0, 0.0, 0.1, 0.1))],  # not this member's category: ignored
        "others": [det("vehicle", 0.3, car),  # below the 0.35 vehicle floor: not reported, still evidence
                   det("person", 0.5, (0.7, 0.0, 0.1, 0.3)),  # below the person floor
                   det("person", 0.6, (0.8, 0.0, 0.1, 0.3)),
                   det("animal", 0.9, (0.3, 0.3, 0.1, 0.1))],  # animals are the other member's
    }
    out = merge(per_member, SPEC, conf_floor=0.005)
    assert [(d.category, d.confidence) for d in out] == [("1", 0.8), ("2", 0.6), ("1", 0.45)]
    # a reportable car is reported; the animal box on it still goes
    per_member["others"][0] = det("vehicle", 0.7, car)
    out = merge(per_member, SPEC, conf_floor=0.005)
    assert [(d.category, d.confidence) for d in out] == [("1", 0.8), ("3", 0.7), ("2", 0.6), ("1", 0.45)]
    # no rule, no suppression
    plain = CompositeSpec(SPEC.members, SPEC.categories)
    assert len(merge(per_member, plain, conf_floor=0.005)) == 5


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(format="other"), "not a composite spec"),
    (lambda d: d.update(version=9), "version 9 is not supported"),
    (lambda d: d["categories"].update(boat={"member": "animals"}), "'boat' is not a detector category"),
    (lambda d: d["categories"]["person"].update(member="nobody"), "must name one of the members"),
    (lambda d: d["members"][0].update(sha256="xyz"), "64 hexadecimal"),
    (lambda d: d["suppress"][0].update(iou=2), "iou must be a number between 0 and 1"),
    (lambda d: d["members"].append(dict(d["members"][0])), "listed twice"),
])
def test_malformed_specs_are_refused(change: Callable[[dict], None], message: str) -> None:
    data = SPEC.to_dict()
    assert spec_from_dict(json.loads(json.dumps(data))) == SPEC
    change(data)
    with pytest.raises(ValueError, match=message):
        spec_from_dict(data)


def _const_member(store: ModelStore, make: Callable[..., Path], model_id: str, cls: int, score: float) -> ModelManifest:
    """A yolov5-layout pack that always finds one box of class ``cls``."""
    rows = np.zeros((4, 8), dtype=np.float32)
    rows[0] = [320, 320, 100, 100, score, 0, 0, 0]
    rows[0, 5 + cls] = 1.0
    return store.import_onnx(make(f"{model_id}-{score}.onnx", rows[None]), family="yolov5", labels=DET_LABELS,
                             model_id=model_id, licence="MIT", replace=True)


def _install_composite(store: ModelStore, tmp_path: Path, members: list[ModelManifest]) -> ModelManifest:
    spec = CompositeSpec(tuple(Member(m.id, m.sha256, m.name, m.version, m.licence) for m in members),
                         (CategoryRule("animal", members[0].id), CategoryRule("vehicle", members[1].id, 0.3)))
    folder = tmp_path / "composite-pack"
    folder.mkdir()
    write_composite_spec(folder / "both.json", spec)
    m = ModelManifest(id="both", version="1", name="Both", family="composite", task="detection", file="both.json",
                      sha256=sha256_file(folder / "both.json"), input_size=640, labels=DET_LABELS)
    save_manifest(folder / MANIFEST_NAME, m)
    return store.import_pack(folder)


def test_composite_runs_members_and_refuses_a_missing_or_changed_member(
        store: ModelStore, tmp_path: Path, make_const_model: Callable[..., Path]) -> None:
    animals = _const_member(store, make_const_model, "animals", 0, 0.9)
    others = _const_member(store, make_const_model, "others", 2, 0.8)
    _install_composite(store, tmp_path, [animals, others])
    comp = store.open_detector("both", intra_threads=1)
    assert isinstance(comp, CompositeDetector)
    assert comp.labels == DET_LABELS and comp.input_size == 640 and not comp.random_weights
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    assert [(d.category, d.confidence) for d in comp.detect(image)] == [("1", 0.9), ("3", 0.8)]
    # members are asked only for what the merge can use: the run's floor, or the category floor above it
    assert comp.member_floor("animals", 0.005) == 0.005 and comp.member_floor("others", 0.005) == 0.3
    assert comp.member_floor("animals", 0.5) == 0.5
    assert [v for _, ok, v in store.verify() if not ok] == []

    # a member replaced by another file: refused, naming it
    _const_member(store, make_const_model, "others", 2, 0.7)
    with pytest.raises(ModelLoadError, match=r"^Composite 'both': member 'others' has changed since") as exc:
        store.open_detector("both")
    assert "\n" not in str(exc.value)
    # a member removed: refused, naming it
    store.remove("animals")
    with pytest.raises(ModelLoadError, match=r"^Composite 'both': member 'animals' cannot be used: .*not installed"):
        store.open_detector("both")


def test_a_malformed_composite_pack_is_not_installed(store: ModelStore, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "bad.json").write_text('{"format": "wildlife-desktop-composite", "version": 1, "members": []}',
                                     encoding="utf-8")
    save_manifest(folder / MANIFEST_NAME, ModelManifest(
        id="bad", version="1", name="Bad", family="composite", task="detection", file="bad.json",
        sha256=sha256_file(folder / "bad.json"), input_size=640, labels=DET_LABELS))
    with pytest.raises(ModelPackError, match="Composite 'bad': bad.json: 'members' must be a non-empty list"):
        store.import_pack(folder)
