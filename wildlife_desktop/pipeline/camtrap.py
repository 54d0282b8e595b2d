"""Export a folder as a Camtrap DP 1.0.2 package (CLI ``export --camtrap-dp``, *File > Export > Camtrap DP*).

Gathers what ``formats.camtrap_dp`` needs and cannot read itself: the folder's results with the
human decisions merged (as every export), the reviewer of each decision, the files' modification
times (for files without an EXIF capture time), EXIF serial/GPS/UTC offset of a few files per
camera location, and the folder's project settings. Then writes the package and validates it
offline with frictionless when that is installed (``[camtrapdp]`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..core.errors import DatasetError
from ..core.locks import sidecar_lock
from ..core.paths import AppPaths
from ..formats.camtrap_dp import (
    CamtrapOptions,
    DeploymentFacts,
    build_camtrap_dp,
    deployment_id,
    write_camtrap_dp,
)
from ..formats.camtrap_validate import ValidationResult, frictionless_available, validate_package
from ..formats.corrections import load_corrections
from ..formats.decisions import latest_decisions
from ..formats.methods import load_methods
from ..formats.project import ProjectSettings, load_project
from .exif import read_exif_extras
from .journal import STATE_DIRNAME
from .results import build_bundle, load_results, tend_decisions
from .scan import scan_folder
from .sequences import camera_location

#: Files per camera location whose whole EXIF is read for serial, GPS and UTC offset.
EXIF_SAMPLES_PER_LOCATION: Final = 3


@dataclass(frozen=True)
class CamtrapReport:
    paths: tuple[Path, ...]
    media: int
    observations: int
    excluded_media: tuple[str, ...]
    warnings: tuple[str, ...]
    validation: ValidationResult | None  # None: frictionless is not installed


def project_state_dir(folder: Path, paths: AppPaths | None = None) -> Path:
    """Where the folder's ``project.json`` lives (its results' state directory)."""
    res = load_results(Path(folder), paths, files=())
    if res is None:
        raise DatasetError(f"No results for {folder}: run detection or import a results file first.")
    return res.output_dir / STATE_DIRNAME


def _deployment_facts(folder: Path, rels: list[str], folder_name: str,
                      metas: Mapping[str, tuple[str, str]],
                      names: Mapping[str, str] | None = None) -> dict[str, DeploymentFacts]:
    per_dep: dict[str, list[str]] = {}
    for rel in rels:
        loc = camera_location(rel)
        per_dep.setdefault((names or {}).get(loc) or deployment_id(loc, folder_name), []).append(rel)
    out: dict[str, DeploymentFacts] = {}
    for dep, files in per_dep.items():
        serial, lat, lon, offset = "", None, None, ""
        for rel in files[:EXIF_SAMPLES_PER_LOCATION]:
            extra = read_exif_extras(folder / rel)
            serial = serial or extra.serial
            offset = offset or extra.utc_offset
            if lat is None and extra.latitude is not None:
                lat, lon = extra.latitude, extra.longitude
        make, model = next((metas[r] for r in files if any(metas.get(r, ("", "")))), ("", ""))
        out[dep] = DeploymentFacts(make=make, model=model, serial=serial, latitude=lat, longitude=lon,
                                   utc_offset=offset)
    return out


def export_camtrap_dp(
    folder: Path,
    out_dir: Path,
    *,
    options: CamtrapOptions | None = None,
    project: ProjectSettings | None = None,
    detection_threshold: float | None = None,
    classification_threshold: float | None = None,
    validate: bool = True,
    paths: AppPaths | None = None,
) -> CamtrapReport:
    """Write ``out_dir/{datapackage.json,deployments,media,observations.csv}`` for ``folder``.

    ``project``: settings to use instead of the saved ones (the dialog passes what it shows).

    Raises:
        DatasetError: no results; ProjectError: required project metadata missing (one line).
    """
    folder = Path(folder)
    scan = scan_folder(folder)
    res = load_results(folder, paths, files=scan.files)
    if res is None:
        raise DatasetError(f"No results for {folder}: run detection or import a results file first.")
    state_dir = res.output_dir / STATE_DIRNAME
    settings = project if project is not None else load_project(state_dir)
    with sidecar_lock(state_dir):
        decisions = tend_decisions(state_dir)
    corrections = load_corrections(state_dir)
    bundle = build_bundle(res.layer, res.predictions, detection_threshold=detection_threshold,
                          classification_threshold=classification_threshold, decisions=decisions,
                          corrections=corrections, methods=load_methods(state_dir))
    folder_name = folder.resolve().name or "camera-traps"
    rels = sorted(res.predictions)
    metas = {r: (p.meta.make or "", p.meta.model or "") for r, p in res.predictions.items()}
    opts = options or CamtrapOptions()
    out_dir = Path(out_dir)
    if not opts.media_prefix and out_dir.resolve() != folder.resolve():
        rel = os.path.relpath(folder.resolve(), out_dir.resolve()).replace(os.sep, "/")
        if not rel.startswith(".."):
            opts = CamtrapOptions(opts.exclude_people, opts.coordinate_decimals, opts.event_observations, rel + "/")
    package = build_camtrap_dp(
        bundle, settings, folder_name=folder_name,
        deployments=_deployment_facts(folder, rels, folder_name, metas, corrections.deployments),
        media_mtimes={f.rel_path: f.mtime_ns for f in scan.files},
        reviews=latest_decisions(decisions), options=opts,
        detector_name=res.layer.detector_id or res.layer.detector,
        classifier_name=res.layer.classifier_id or res.layer.classifier,
        deployment_names=corrections.deployments,
    )
    written = write_camtrap_dp(out_dir, package)
    warnings = list(package.warnings)
    if out_dir.resolve() != folder.resolve() and not opts.media_prefix:
        warnings.append(f"media paths are relative to the image folder {folder}: keep the package in that folder, "
                        "or copy the images beside it, for filePath to resolve")
    validation = None
    if validate and frictionless_available():
        validation = validate_package(written[0])
    elif validate:
        warnings.append("not validated: install frictionless (pip install 'wildlife-desktop[camtrapdp]')")
    return CamtrapReport(written, len(package.tables["media"]), len(package.tables["observations"]),
                         package.excluded_media, tuple(warnings), validation)


def deployment_names(folder: Path, paths: AppPaths | None = None) -> tuple[str, ...]:
    """The deployment (camera location) names an export of ``folder`` will have, from its active layer."""
    from .journal import Workspace

    ws = Workspace.locate(Path(folder), paths or AppPaths.default(), create=False)
    lid = ws.active_layer_id if ws is not None else None
    if ws is None or lid is None:
        return ()
    name = Path(folder).resolve().name or "camera-traps"
    named = load_corrections(ws.state_dir).deployments  # folders assigned to named deployments
    return tuple(sorted({named.get(loc) or deployment_id(loc, name)
                         for loc in {camera_location(rel) for rel in ws.journal(lid).load()}}))
