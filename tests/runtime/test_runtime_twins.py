"""The shared random-weight architecture twins, imported as packs and decoded end to end.

Their outputs are meaningless (random weights): only shapes, ranges and flags are checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox
from wildlife_desktop.runtime import ModelStore

from .conftest import DET_LABELS

TWINS = {
    "twin-yolov10n-640-random": "yolov10",
    "twin-yolov10n-640-one2many-random": "yolov8",
    "twin-yolov5s-640-random": "yolov5",
}
RESNET = "twin-resnet50-224-36cls-features-random"


@pytest.fixture(scope="module")
def twin_store(twins_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelStore]:
    store = ModelStore(AppPaths.under(tmp_path_factory.mktemp("twin_home")))
    for stem, family in TWINS.items():
        store.import_onnx(twins_dir / f"{stem}.onnx", family=family, labels=DET_LABELS)
    store.import_onnx(twins_dir / f"{RESNET}.onnx", family="classifier",
                      labels=tuple(f"class_{i:02d}" for i in range(36)))
    yield store


@pytest.fixture(scope="module")
def photo(sample_jpeg: Path) -> np.ndarray:
    with Image.open(sample_jpeg) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.shape[0] != arr.shape[1]  # the letterbox must matter
    return arr


def test_twins_are_flagged_random(twin_store: ModelStore) -> None:
    ms = twin_store.list()
    assert sorted(m.id for m in ms) == sorted([*TWINS, RESNET])
    assert all(m.random_weights for m in ms)
    assert all(ok for _, ok, _ in twin_store.verify())


@pytest.mark.parametrize("model_id", list(TWINS))
def test_twin_detector_decodes_in_range(twin_store: ModelStore, photo: np.ndarray, model_id: str) -> None:
    det = twin_store.open_detector(model_id)
    assert det.random_weights and det.input_size == 640 and det.letterbox_mode == "square"
    out = det.detect(photo, conf_floor=0.0)
    assert 0 < len(out) <= 300
    confs = [d.confidence for d in out]
    assert confs == sorted(confs, reverse=True)
    for d in out:
        b = d.bbox
        assert d.category in {"1", "2", "3"}
        assert all(math.isfinite(v) for v in (*b.as_list(), d.confidence))
        assert 0.0 <= d.confidence <= 1.0
        assert 0.0 <= b.x <= 1.0 and 0.0 <= b.y <= 1.0 and b.w > 0 and b.h > 0
        assert b.x + b.w <= 1.0 + 1e-4 and b.y + b.h <= 1.0 + 1e-4


def test_twin_resnet_classifies_two_crops(twin_store: ModelStore, photo: np.ndarray) -> None:
    clf = twin_store.open_classifier(RESNET)
    assert clf.random_weights and clf.input_size == 224 and len(clf.labels) == 36 and clf.fixed_batch == 1
    boxes = [BBox(0.1, 0.2, 0.3, 0.4), BBox(0.6, 0.5, 0.2, 0.1)]
    res = clf.classify(photo, boxes, top_k=36)
    assert len(res) == 2
    for r in res:
        assert len(r) == 36 and {c.label for c in r} == set(clf.labels)
        confs = [c.confidence for c in r]
        assert confs == sorted(confs, reverse=True)
        assert sum(confs) == pytest.approx(1.0, abs=0.02)
    assert res[0] != res[1]  # different crops, different outputs
