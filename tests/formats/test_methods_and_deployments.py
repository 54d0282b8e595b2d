"""Outputs carry the folder's named deployments and the empty-image audit (issue 14): Camtrap DP
``deploymentID``/``locationName`` are the deployment names; ``recognitions.json`` ``info`` and the
Camtrap DP descriptor hold the audit's figures for a methods section. The MegaDetector validator
stays 0/0 and the package still validates offline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.fixtures.md_validator import md_validation
from tests.formats.test_camtrap_dp import caltech, no_network  # noqa: F401 - fixtures
from wildlife_desktop.core.atomic import atomic_write_json
from wildlife_desktop.formats.camtrap_validate import validate_package
from wildlife_desktop.formats.corrections import set_deployment
from wildlife_desktop.formats.methods import AUDIT_FILE, load_methods, methods_text
from wildlife_desktop.formats.project import ProjectSettings, apply_settings, load_project, parse_pairs, save_project
from wildlife_desktop.pipeline.camtrap import deployment_names, export_camtrap_dp
from wildlife_desktop.pipeline.journal import STATE_DIRNAME
from wildlife_desktop.pipeline.results import export_folder, load_results
from wildlife_desktop.pipeline.sequences import ROOT_LOCATION, camera_location
from wildlife_desktop.review.audit import audit_report, audit_sample


def _audit(folder: Path) -> Path:
    """An audit of the (two) empty images of the camera: 1 answered 'missed', 1 'empty'; audit.json written."""
    from wildlife_desktop.formats.decisions import ReviewDecision, append_decisions, load_decisions

    res = load_results(folder)
    assert res is not None
    state = res.output_dir / STATE_DIRNAME
    locs = {r: camera_location(r) for r in res.predictions}
    sample = audit_sample(res.predictions, locs, threshold=0.2, per_camera=5, seed=1)
    files = [f for fs in sample.values() for f in fs]
    assert len(files) == 2
    append_decisions(state, [ReviewDecision(f, "", "missed" if i == 0 else "empty", "", "ana",
                                            "2024-07-02T10:00:00+00:00", source="audit")
                             for i, f in enumerate(files)])
    rep = audit_report(res.predictions, locs, sample, load_decisions(state), threshold=0.2, seed=1, per_camera=5)
    atomic_write_json(state / AUDIT_FILE, {"format": "wildlife-desktop-audit", "version": 1, "seed": 1,
                                           "per_camera": 5, "threshold": 0.2,
                                           "sample": {k: list(v) for k, v in sample.items()},
                                           "report": rep.to_dict()})
    return state


def test_audit_figures_in_recognitions_info_and_md_validator_clean(caltech: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    folder, _ = caltech
    state = _audit(folder)
    methods = load_methods(state)
    cam = methods["empty_image_audit"]["cameras"][0]
    assert (cam["answered"], cam["missed"], cam["miss_rate"]) == (2, 1, 0.5)
    assert (cam["miss_rate_low"], cam["miss_rate_high"]) == (0.0945, 0.9055)  # Wilson 95 %, 1 of 2
    md, coco, _ = export_folder(folder, coco_boxed_only=False)
    info = json.loads(md.read_text(encoding="utf-8"))["info"]
    assert info["wildlife_desktop"]["methods"] == methods
    assert json.loads(coco.read_text(encoding="utf-8"))["info"]["wildlife_desktop"]["methods"] == methods
    vr = md_validation(md, folder)
    assert vr["errors"] == [] and vr["warnings"] == [], vr
    text = methods_text(methods)
    assert "1 of 2 checked images held an animal" in text and "95 % CI 9.4 %–90.5 %" in text


def test_camtrap_dp_uses_deployment_names_and_records_the_audit(
        caltech: tuple[Path, dict[str, str]], tmp_path: Path, no_network: None) -> None:  # noqa: F811
    folder, _ = caltech
    state = _audit(folder)
    set_deployment(state, ROOT_LOCATION, "north-ridge-2024", who="ana")
    assert deployment_names(folder) == ("north-ridge-2024",)
    settings = load_project(state)
    save_project(state, apply_settings(settings, parse_pairs((
        "location.north-ridge-2024.lat=34.1", "location.north-ridge-2024.lon=-118.9"))))
    out = tmp_path / "package"
    rep = export_camtrap_dp(folder, out)
    assert rep.validation is not None and rep.validation.valid, rep.validation
    assert validate_package(out / "datapackage.json").valid
    with open(out / "deployments.csv", encoding="utf-8", newline="") as fh:
        deps = list(csv.DictReader(fh))
    assert [(d["deploymentID"], d["locationID"], d["locationName"]) for d in deps] == [("north-ridge-2024",) * 3]
    for table in ("media.csv", "observations.csv"):
        with open(out / table, encoding="utf-8", newline="") as fh:
            assert {r["deploymentID"] for r in csv.DictReader(fh)} == {"north-ridge-2024"}
    desc = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert "Empty-image audit at detection threshold 0.2" in desc["project"]["description"]
    assert desc["wildlifeDesktop"]["methods"]["empty_image_audit"]["cameras"][0]["missed"] == 1


def test_no_audit_no_methods(tmp_path: Path) -> None:
    assert load_methods(tmp_path) == {} and methods_text({}) == ""
    (tmp_path / AUDIT_FILE).write_text("{broken", encoding="utf-8")
    assert load_methods(tmp_path) == {}
    assert ProjectSettings() is not None
