"""Camtrap DP 1.0.2 export, validated offline by frictionless against the bundled official files.

The real sample run: a copy of ``caltech_cct`` with its real MDv6 results imported (no model run)
and a few human decisions. Sockets are blocked in every validation: frictionless would fetch the
profile and schemas from the network by default.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.fixtures.md_validator import md_validation
from wildlife_desktop.formats.camtrap_dp import CamtrapOptions, build_camtrap_dp, write_camtrap_dp
from wildlife_desktop.formats.camtrap_validate import PROFILE_URL, SCHEMA_URLS, validate_package
from wildlife_desktop.formats.decisions import ReviewDecision, append_decisions
from wildlife_desktop.formats.md_batch import megadetector_version
from wildlife_desktop.formats.project import (
    ProjectError,
    ProjectSettings,
    apply_settings,
    load_project,
    parse_pairs,
    rounding_uncertainty_m,
    save_project,
)
from wildlife_desktop.formats.taxonomy import load_taxonomy, timelapse_description
from wildlife_desktop.pipeline.camtrap import export_camtrap_dp
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.journal import STATE_DIRNAME
from wildlife_desktop.pipeline.results import export_folder, load_results

from .conftest import Site

GOLDEN = Path(__file__).parent / "golden" / "camtrap_dp"
MDV6 = "mdv6_yolov10c_pytorchwildlife_output.json"
PROJECT = ("contributors=Ana Silva <ana@example.org> (contact)", "timezone=-08:00", "title=Caltech sample",
           "location.caltech.lat=34.123456", "location.caltech.lon=-118.987654",
           "location.caltech.uncertainty_m=30", "data_licence=CC0-1.0", "media_licence=CC-BY-4.0")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def caltech(tmp_path: Path, shared_dir: Path) -> tuple[Path, dict[str, str]]:
    """A copy of caltech_cct with the real MDv6 results imported and a few human decisions.

    Returns the folder and the decided files by role: ``coyote`` (relabelled Canis latrans by
    ana), ``person`` (a box a person relabelled "person"), ``empty`` (confirmed empty).
    """
    folder = tmp_path / "caltech"
    shutil.copytree(shared_dir / "samples" / "caltech_cct", folder)
    rep = import_results(folder, folder / MDV6)
    res = rep.results
    ids = {rel: [(d, res.predictions[rel].detections[i]) for i, d in enumerate(_det_ids(rel, res))]
           for rel in res.predictions}
    coyote = next(r for r in sorted(ids) if r.startswith("coyote__") and ids[r])
    person = next(r for r in sorted(ids) if r.startswith("car__") and ids[r])
    empty = next(r for r in sorted(ids) if r.startswith("empty__"))
    (cid, cdet), (pid, pdet) = ids[coyote][0], ids[person][0]
    append_decisions(res.output_dir / STATE_DIRNAME, [
        ReviewDecision(coyote, cid, "relabel", "coyote", "ana", "2024-07-01T10:00:00+00:00", cdet.bbox, None,
                       "animal", cdet.confidence),
        ReviewDecision(person, pid, "relabel", "person", "ben", "2024-07-01T10:01:00+00:00", pdet.bbox, None,
                       "vehicle", pdet.confidence),
        ReviewDecision(empty, "", "empty", "", "ana", "2024-07-01T10:02:00+00:00"),
    ])
    state_dir = res.output_dir / STATE_DIRNAME
    save_project(state_dir, apply_settings(ProjectSettings(), parse_pairs(PROJECT)))
    return folder, {"coyote": coyote, "person": person, "empty": empty}


def _det_ids(rel: str, res: object) -> list[str]:
    from wildlife_desktop.formats.bundle import detection_id

    return [detection_id(rel, d) for d in res.predictions[rel].detections]  # type: ignore[attr-defined]


def test_official_example_validates_offline_and_a_broken_copy_does_not(tmp_path: Path, shared_dir: Path,
                                                                       no_network: None) -> None:
    example = tmp_path / "example"
    shutil.copytree(shared_dir / "docs" / "camtrap-dp-1.0.2" / "example", example)
    assert validate_package(example / "datapackage.json").valid
    media = example / "media.csv"
    media.write_text(media.read_text(encoding="utf-8").replace("image/jpeg", "jpeg", 1), encoding="utf-8")
    descriptor = json.loads((example / "datapackage.json").read_text(encoding="utf-8"))
    del descriptor["project"]
    (example / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    result = validate_package(example / "datapackage.json")
    assert not result.valid and "'project' is a required property" in " ".join(result.errors)
    descriptor["project"] = {"title": "x", "samplingDesign": "targeted", "captureMethod": ["timeLapse"],
                             "individualAnimals": False, "observationLevel": ["media"]}
    (example / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    result = validate_package(example / "datapackage.json")
    assert not result.valid and any("fileMediatype" in e for e in result.errors), result.errors


def test_bundled_files_are_the_official_ones(shared_dir: Path) -> None:
    from wildlife_desktop.formats.camtrap_validate import ASSETS_DIR

    for url in (PROFILE_URL, *SCHEMA_URLS.values()):
        name = url.rsplit("/", 1)[-1]
        assert (ASSETS_DIR / name).read_bytes() == (shared_dir / "docs" / "camtrap-dp-1.0.2" / name).read_bytes()
    assert (ASSETS_DIR / "LICENSE").is_file()


def test_caltech_package_is_valid_offline_and_tells_people_from_machines(
        caltech: tuple[Path, dict[str, str]], tmp_path: Path, no_network: None) -> None:
    folder, roles = caltech
    out = tmp_path / "package"
    rep = export_camtrap_dp(folder, out)
    assert rep.validation is not None and rep.validation.valid, rep.validation
    assert validate_package(out / "datapackage.json").valid

    media = {r["mediaID"]: r for r in _rows(out / "media.csv")}
    by_path = {r["filePath"]: r for r in media.values()}
    assert len(media) == len(load_results(folder).predictions)  # type: ignore[union-attr]
    obs = _rows(out / "observations.csv")
    mine = [o for o in obs if o["observationLevel"] == "media"]

    coyote = [o for o in mine if o["mediaID"] == by_path[roles["coyote"]]["mediaID"]]
    human = [o for o in coyote if o["classificationMethod"] == "human"]
    assert len(human) == 1 and human[0]["classifiedBy"] == "ana" and human[0]["scientificName"] == "Canis latrans"
    assert human[0]["classificationProbability"] == "" and human[0]["classificationTimestamp"].startswith("2024-07-01")
    machine = [o for o in mine if o["classificationMethod"] == "machine" and o["observationType"] == "animal"]
    assert machine and all(o["classifiedBy"] == MDV6 and 0 < float(o["classificationProbability"]) <= 1
                           for o in machine)
    assert all(o["bboxX"] != "" for o in machine)
    empty = [o for o in mine if o["mediaID"] == by_path[roles["empty"]]["mediaID"]]
    assert [(o["observationType"], o["classificationMethod"], o["classifiedBy"]) for o in empty] == [
        ("blank", "human", "ana")]
    pid = by_path[roles["person"]]["mediaID"]
    person = [o for o in mine if o["mediaID"] == pid and o["observationType"] == "human"]
    assert [(o["classificationMethod"], o["classifiedBy"]) for o in person] == [("human", "ben")]
    events = [o for o in obs if o["observationLevel"] == "event"]
    assert events and all(o["mediaID"] == "" and int(o["count"]) >= 1 for o in events)

    dep = _rows(out / "deployments.csv")
    assert [(d["deploymentID"], d["latitude"], d["longitude"]) for d in dep] == [("caltech", "34.12", "-118.99")]
    assert int(dep[0]["coordinateUncertainty"]) == 30 + rounding_uncertainty_m(2, 34.123456)
    assert dep[0]["timestampIssues"] == "true"  # the sample images have no EXIF: file times were used
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["profile"] == PROFILE_URL and descriptor["coordinatePrecision"] == 0.01
    assert {t["scientificName"] for t in descriptor["taxonomic"]} >= {"Canis latrans"}
    assert descriptor["contributors"] == [{"title": "Ana Silva", "email": "ana@example.org", "role": "contact"}]
    assert [lic["scope"] for lic in descriptor["licenses"]] == ["data", "media"]


def test_people_left_out_when_asked_and_coordinates_as_precise_as_chosen(
        caltech: tuple[Path, dict[str, str]], tmp_path: Path, no_network: None) -> None:
    folder, roles = caltech
    out = tmp_path / "shared"
    rep = export_camtrap_dp(folder, out, options=CamtrapOptions(exclude_people=True, coordinate_decimals=3))
    assert rep.validation is not None and rep.validation.valid, rep.validation
    assert rep.excluded_media == (roles["person"],)
    paths = {r["filePath"] for r in _rows(out / "media.csv")}
    assert roles["person"] not in paths and roles["coyote"] in paths
    obs = _rows(out / "observations.csv")
    assert not [o for o in obs if o["observationType"] == "human"]
    dep = _rows(out / "deployments.csv")[0]
    assert (dep["latitude"], dep["longitude"]) == ("34.123", "-118.988")
    full = export_camtrap_dp(folder, tmp_path / "full", options=CamtrapOptions(coordinate_decimals=-1))
    assert full.validation is not None and full.validation.valid
    dep = _rows(tmp_path / "full" / "deployments.csv")[0]
    assert (dep["latitude"], dep["longitude"], dep["coordinateUncertainty"]) == ("34.123456", "-118.987654", "30")


def test_missing_project_metadata_is_one_line_naming_it(caltech: tuple[Path, dict[str, str]],
                                                        tmp_path: Path) -> None:
    folder, _ = caltech
    with pytest.raises(ProjectError) as err:
        export_camtrap_dp(folder, tmp_path / "p", project=ProjectSettings())
    text = str(err.value)
    assert "\n" not in text and "contributors" in text and "timezone" in text and "coordinates of caltech" in text
    assert not (tmp_path / "p" / "datapackage.json").exists()


def test_sidecars_of_the_real_run_keep_taxonomy_and_pass_the_md_validator(
        caltech: tuple[Path, dict[str, str]]) -> None:
    folder, _ = caltech
    md, coco, _ = export_folder(folder, coco_boxed_only=False)
    data = json.loads(md.read_text(encoding="utf-8"))
    cats = data["classification_categories"]
    coyote = next(k for k, v in cats.items() if v == "coyote")
    assert data["classification_category_descriptions"][coyote] == ";mammalia;carnivora;canidae;canis;latrans;coyote"
    vr = md_validation(md, folder)
    assert vr["errors"] == [] and vr["warnings"] == [], vr
    text = coco.read_text(encoding="utf-8")
    assert '"datetime": null' not in text and all("datetime" not in im for im in json.loads(text)["images"])


def test_taxonomy_table() -> None:
    tax = load_taxonomy()
    assert tax.lookup("Red_Deer").scientific_name == "Cervus elaphus"  # type: ignore[union-attr]
    assert tax.lookup("Human") is tax.lookup("person")
    assert tax.lookup("Non-opossum") is None and tax.lookup("") is None
    assert timelapse_description(tax.lookup("bird")) == ";aves;;;;;bird"  # type: ignore[arg-type]
    for taxon in tax.taxa:  # seven fields each; a species' genus and epithet are both there
        fields = timelapse_description(taxon).split(";")
        assert len(fields) == 7 and (taxon.rank != "species" or (fields[4] and fields[5]))
        assert taxon.taxon_id == ""  # no GUID we could not verify offline
    catalogue = json.loads((Path(__file__).parents[2] / "wildlife_desktop" / "assets" / "model_catalogue.json")
                           .read_text(encoding="utf-8"))
    labels = {lab for m in catalogue["models"] if m.get("task") == "classification" for lab in m.get("labels", [])}
    unmapped = {lab for lab in labels if tax.lookup(lab) is None}
    assert unmapped == {"Unknown", "other", "Non-opossum"}


def test_megadetector_version_is_the_detectors_own() -> None:
    assert megadetector_version("mdlite-nanodet", "1") == "mdlite-nanodet-v1"
    assert megadetector_version("mdv5a", "1") == "v5a.0.0"
    assert megadetector_version("mdv1000-redwood", "2") == "v1000.0.0-redwood"
    assert megadetector_version("md_v5a.0.0.pt", "v5a.0.0") == "v5a.0.0"  # an imported file's own


def test_project_settings_round_trip_and_refusals(tmp_path: Path) -> None:
    p = apply_settings(ProjectSettings(), parse_pairs(PROJECT))
    save_project(tmp_path, p)
    assert load_project(tmp_path) == p
    stored = json.loads((tmp_path / "project.json").read_text(encoding="utf-8"))
    assert stored["format"] == "wildlife-desktop-project" and stored["version"] == 1
    for bad, word in (("location.caltech.lat=91", "outside"), ("timezone=Mars/Base", "time zone"),
                      ("contributors=Ana (boss)", "role"), ("colour=red", "unknown project key"),
                      ("coordinate_decimals=x", "whole number")):
        with pytest.raises(ProjectError, match=word):
            apply_settings(p, parse_pairs([bad]))
    stored["version"] = 99
    (tmp_path / "project.json").write_text(json.dumps(stored), encoding="utf-8")
    with pytest.raises(ProjectError, match="version"):
        load_project(tmp_path)


def test_camtrap_writer_golden_files(site: Site, tmp_path: Path, no_network: None) -> None:
    """The writer's four files for the formats fixture, byte for byte (export time normalised)."""
    project = apply_settings(ProjectSettings(), parse_pairs([
        "contributors=Ana Silva <ana@example.org> (contact); Field Team", "timezone=+02:00",
        "location.cam1.lat=-15.41234", "location.cam1.lon=28.28765", "location.cam2.lat=-15.5",
        "location.cam2.lon=28.3", "location.Forêt du Nord.lat=46.1", "location.Forêt du Nord.lon=6.2",
        "data_licence=CC-BY-4.0", "media_licence=https://creativecommons.org/licenses/by-nc/4.0/"]))
    mtimes = {it.prediction.rel_path: 1_717_200_000_000_000_000 for it in site.bundle.items}
    package = build_camtrap_dp(site.bundle, project, folder_name="site", media_mtimes=mtimes,
                               created=dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone.utc))
    write_camtrap_dp(tmp_path, package)
    assert validate_package(tmp_path / "datapackage.json").valid
    for name in ("datapackage.json", "deployments.csv", "media.csv", "observations.csv"):
        got = (tmp_path / name).read_text(encoding="utf-8").replace(package.descriptor["sources"][0]["version"],
                                                                    "<version>")
        golden = GOLDEN / name
        if os.environ.get("WILDLIFE_UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got, encoding="utf-8")
        assert golden.exists(), f"missing golden file {golden}; create it with WILDLIFE_UPDATE_GOLDEN=1"
        assert got == golden.read_text(encoding="utf-8"), f"{name} differs from {golden}"
