"""Golden files: the three sidecars of a fixed input (with human decisions) byte for byte.

Any change to what a writer puts in a file shows up here as a diff against
``tests/formats/golden/``. Run times are normalised before comparing. After an intended change,
regenerate with ``WILDLIFE_UPDATE_GOLDEN=1 python -m pytest tests/formats/test_golden_sidecars.py``
and review the diff like code. The MD file is also checked with MegaDetector's validator.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.fixtures.md_validator import md_validation
from wildlife_desktop.core.records import BBox
from wildlife_desktop.formats import write_coco, write_csv, write_md_batch
from wildlife_desktop.formats.bundle import ExportBundle
from wildlife_desktop.formats.decisions import ReviewDecision, apply_decisions

from .conftest import IMG1, IMG_UNICODE, Site

GOLDEN = Path(__file__).parent / "golden"
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _normalised(text: str) -> str:
    """Any time written at export replaced; the fixed input's times (all in 2024) stay as they are."""
    return _TIME.sub(lambda m: m.group(0) if m.group(0).startswith("2024-") else "<time>", text)


def _bundle(site: Site) -> ExportBundle:
    """The formats fixture's site with two decisions: a person box relabelled as a zebra (it
    becomes an animal everywhere; accepted from a smoothing suggestion, which every file says) and a
    badger the model missed (kept as a verified box)."""
    pred = next(it.prediction for it in site.bundle.items if it.prediction.rel_path == IMG_UNICODE)
    decisions = [
        ReviewDecision(IMG_UNICODE, _id(site, IMG_UNICODE, 0), "relabel", "zebra", "ana", "2024-07-01T10:00:00",
                       pred.detections[0].bbox, None, "person", 0.7, source="smoothing"),
        ReviewDecision(IMG1, "dmissed000001", "relabel", "badger", "ana", "2024-07-01T10:01:00",
                       BBox(0.6, 0.05, 0.2, 0.2), None, "badger", 0.4),
    ]
    return apply_decisions(site.bundle, decisions)


def _id(site: Site, rel: str, index: int) -> str:
    return next(it.detection_ids[index] for it in site.bundle.items if it.prediction.rel_path == rel)


@pytest.mark.parametrize("name", ["recognitions.json", "coco_cameratraps.json", "detections.csv"])
def test_sidecars_match_their_golden_files(site: Site, tmp_path: Path, name: str) -> None:
    writer = {"recognitions.json": write_md_batch, "coco_cameratraps.json": write_coco, "detections.csv": write_csv}
    out = tmp_path / name
    writer[name](out, _bundle(site))
    got = _normalised(out.read_bytes().decode("utf-8"))
    golden = GOLDEN / name
    if os.environ.get("WILDLIFE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(got.encode("utf-8"))
    assert golden.exists(), f"missing golden file {golden}; create it with WILDLIFE_UPDATE_GOLDEN=1"
    assert got == golden.read_bytes().decode("utf-8"), f"{name} differs from {golden}"
    if name == "recognitions.json":
        vr = md_validation(out, site.root)
        assert vr["errors"] == [] and vr["warnings"] == [], vr
