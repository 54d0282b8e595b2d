"""Camtrap DP 1.0.2 writer: ``datapackage.json``, ``deployments.csv``, ``media.csv``, ``observations.csv``.

Input: the export bundle (model output with the human decisions merged), what the pipeline read
from the files (per location: camera make/model/serial, GPS and UTC offset from EXIF; per file:
the modification time) and the project settings (``formats.project``). Pure: no file is read.

* **Deployments**: one per camera location (``SequenceInfo.location``; a flat folder is one
  deployment named after the folder); start/end = first/last capture time; coordinates from the
  project settings, else EXIF GPS, rounded to ``coordinate_decimals`` (default 2 decimals, about
  1 km) with ``coordinateUncertainty`` widened by the rounding.
* **Media**: every processed file; ``filePath`` relative to the image folder; the capture time
  with the camera's UTC offset (EXIF ``OffsetTimeOriginal``, else the project's time zone); a
  file without an EXIF time gets its modification time and its deployment ``timestampIssues``.
* **Observations**, media level: one per kept box (at or above the detection threshold, or
  verified), blank for an empty file; event level (event = sequence): one per event and
  species with the largest number of boxes in any one frame. ``classificationMethod`` is
  ``human`` for a person's decision (``classifiedBy`` = reviewer), else ``machine``
  (``classifiedBy`` = the model, ``classificationProbability`` its confidence).
* ``exclude_people``: files with a person box are left out, with their observations, and no
  event-level human observation is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final

from ..core.atomic import atomic_open, atomic_write_json
from ..core.records import Detection
from .bundle import ExportBundle, ExportItem
from .camtrap_validate import CAMTRAP_DP_VERSION, PROFILE_URL, SCHEMA_URLS, TABLES, bundled_schema
from .coco import det_id, kept_indices, species_of
from .csv_safe import csv_row
from .decisions import ReviewDecision
from .md_batch import clip_box, round_conf
from .methods import methods_text
from .project import ProjectError, ProjectSettings, parse_timezone, round_coordinate, rounding_uncertainty_m
from .taxonomy import Taxon, Taxonomy, load_taxonomy

ROOT_LOCATION: Final = "(root)"  # pipeline.sequences.ROOT_LOCATION (formats may not import pipeline)
OBSERVATION_TYPES: Final[dict[str, str]] = {"1": "animal", "2": "human", "3": "vehicle"}
UNKNOWN_LABELS: Final = frozenset({"unknown"})
_NUMERIC: Final = frozenset({"latitude", "longitude", "coordinateUncertainty", "count", "bboxX", "bboxY",
                             "bboxWidth", "bboxHeight", "classificationProbability"})
_SLUG: Final = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class DeploymentFacts:
    """What the files of one location say about its camera (EXIF of a few of its files)."""

    make: str = ""
    model: str = ""
    serial: str = ""
    latitude: float | None = None
    longitude: float | None = None
    utc_offset: str = ""  # EXIF OffsetTimeOriginal, e.g. "+02:00"


@dataclass(frozen=True)
class CamtrapOptions:
    exclude_people: bool = False
    coordinate_decimals: int | None = None  # None: the project's setting
    event_observations: bool = True
    media_prefix: str = ""  # prepended to each filePath (the image folder relative to the package)


@dataclass(frozen=True)
class CamtrapPackage:
    """A built package: the descriptor, the three tables (rows in schema column order) and notes."""

    descriptor: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    warnings: tuple[str, ...] = ()
    excluded_media: tuple[str, ...] = field(default_factory=tuple)


def schema_columns(table: str) -> tuple[str, ...]:
    return tuple(f["name"] for f in bundled_schema(SCHEMA_URLS[table])["fields"])


def deployment_id(location: str, folder_name: str) -> str:
    """The deployment (and project-settings) name of a location: the folder's name for its root."""
    return folder_name if location == ROOT_LOCATION else location


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-._") or "camera-trap-package"


def _person(item: ExportItem, threshold: float) -> bool:
    return any(item.prediction.detections[i].category == "2" for i in kept_indices(item, threshold))


class _Clock:
    """Capture times with their UTC offset, per deployment."""

    def __init__(self, project: ProjectSettings, facts: Mapping[str, DeploymentFacts]) -> None:
        self.project, self.facts = project, facts
        self.missing: set[str] = set()

    def zone(self, dep: str, naive: dt.datetime | None) -> dt.timezone | None:
        text = self.facts.get(dep, DeploymentFacts()).utc_offset or self.project.timezone_for(dep)
        if not text:
            self.missing.add(dep)
            return None
        try:
            return parse_timezone(text, when=naive)
        except ProjectError:
            self.missing.add(dep)
            return None

    def stamp(self, dep: str, exif_time: str | None, mtime_ns: int | None) -> tuple[dt.datetime | None, bool]:
        """(aware capture time, from the file time?) for one file."""
        if exif_time:
            naive = dt.datetime.fromisoformat(exif_time)
            zone = self.zone(dep, naive)
            return (naive.replace(tzinfo=zone) if zone else None), False
        if mtime_ns is None:
            return None, True
        utc = dt.datetime.fromtimestamp(mtime_ns / 1e9, tz=dt.timezone.utc).replace(microsecond=0)
        zone = self.zone(dep, utc.replace(tzinfo=None)) or dt.timezone.utc
        return utc.astimezone(zone), True


def build_camtrap_dp(
    bundle: ExportBundle,
    project: ProjectSettings,
    *,
    folder_name: str,
    deployments: Mapping[str, DeploymentFacts] | None = None,
    media_mtimes: Mapping[str, int] | None = None,
    reviews: Mapping[tuple[str, str], ReviewDecision] | None = None,
    options: CamtrapOptions | None = None,
    taxonomy: Taxonomy | None = None,
    detector_name: str = "",
    classifier_name: str = "",
    created: dt.datetime | None = None,
    deployment_names: Mapping[str, str] | None = None,
) -> CamtrapPackage:
    """Build the package in memory.

    Args:
        bundle: export input with the decisions applied.
        project: the folder's project settings.
        folder_name: the image folder's name (the deployment name of its root, the default title).
        deployments: EXIF facts per deployment id.
        media_mtimes: file modification times (ns) by relative path, for files without EXIF time.
        reviews: the latest decision per ``(file, detection_id)`` (file-level: ``detection_id`` "").
        options: see :class:`CamtrapOptions`.
        deployment_names: location -> deployment name (``formats.corrections``: the folders a person
            assigned to named deployments); the name is the ``deploymentID``, ``locationID`` and
            ``locationName``; several locations (e.g. overflow folders) may share one deployment.

    Raises:
        ProjectError: something the standard requires is unknown (one line naming all of it).
    """
    opts = options or CamtrapOptions()
    facts = dict(deployments or {})
    mtimes = media_mtimes or {}
    reviews = reviews or {}
    tax = taxonomy or load_taxonomy()
    decimals = project.coordinate_decimals if opts.coordinate_decimals is None else opts.coordinate_decimals
    detector = detector_name or bundle.model.detector
    classifier = classifier_name or bundle.model.classifier or detector
    clock = _Clock(project, facts)
    warnings: list[str] = []
    names = {k: v for k, v in (deployment_names or {}).items() if v}

    def dep_of(location: str) -> str:
        return names.get(location) or deployment_id(location, folder_name)

    # ---- media --------------------------------------------------------------------------------
    excluded: list[str] = []
    media_rows: list[dict[str, Any]] = []
    kept: list[tuple[ExportItem, str, dt.datetime]] = []
    no_time: list[str] = []
    mtime_deps: set[str] = set()
    for item in sorted(bundle.items, key=lambda it: it.prediction.rel_path):
        pred = item.prediction
        if opts.exclude_people and _person(item, bundle.detection_threshold):
            excluded.append(pred.rel_path)
            continue
        dep = dep_of(item.sequence.location)
        stamp, from_file = clock.stamp(dep, pred.meta.datetime, mtimes.get(pred.rel_path))
        if from_file:
            mtime_deps.add(dep)
        if stamp is None:
            no_time.append(pred.rel_path)
            continue
        media_id = _media_id(pred.rel_path)
        mime = mimetypes.guess_type(pred.rel_path)[0] or ("video/mp4" if pred.kind == "video" else "image/jpeg")
        media_rows.append({
            "mediaID": media_id, "deploymentID": dep, "captureMethod": project.capture_method[0],
            "timestamp": _iso(stamp), "filePath": opts.media_prefix + pred.rel_path, "filePublic": "false",
            "fileName": PurePosixPath(pred.rel_path).name, "fileMediatype": mime,
            "mediaComments": "timestamp from the file's modification time (no EXIF capture time)" if from_file
            else ("unreadable file: " + (pred.failure or "")).strip() if pred.failed else "",
        })
        kept.append((item, media_id, stamp))

    # ---- deployments ---------------------------------------------------------------------------
    by_dep: dict[str, list[dt.datetime]] = {}
    for item, _, stamp in kept:
        by_dep.setdefault(dep_of(item.sequence.location), []).append(stamp)
    missing: list[str] = []
    if not project.contributors:
        missing.append("contributors")
    if clock.missing:
        missing.append("timezone (no EXIF UTC offset for " + ", ".join(sorted(clock.missing)) + ")")
    no_coords = []
    dep_rows: list[dict[str, Any]] = []
    points: list[tuple[float, float]] = []
    for dep in sorted(by_dep):
        f = facts.get(dep, DeploymentFacts())
        loc = project.location(dep)
        lat = loc.latitude if loc.latitude is not None else f.latitude
        lon = loc.longitude if loc.longitude is not None else f.longitude
        if lat is None or lon is None:
            no_coords.append(dep)
            continue
        rlat, rlon = round_coordinate(lat, decimals), round_coordinate(lon, decimals)
        uncertainty = (loc.uncertainty_m or 0) + rounding_uncertainty_m(decimals, lat)
        points.append((rlat, rlon))
        stamps = by_dep[dep]
        dep_rows.append({
            "deploymentID": dep, "locationID": dep, "locationName": dep, "latitude": rlat, "longitude": rlon,
            "coordinateUncertainty": uncertainty or "",
            "deploymentStart": _iso(min(stamps)), "deploymentEnd": _iso(max(stamps)),
            "cameraID": f.serial, "cameraModel": "-".join(p for p in (f.make, f.model) if p),
            "timestampIssues": "true" if dep in mtime_deps else "false",
        })
    if no_coords:
        missing.append("coordinates of " + ", ".join(no_coords))
    if missing:
        raise ProjectError("Camtrap DP needs " + "; ".join(missing) + ". Set them with: wildlife-desktop project "
                           "set FOLDER contributors='Name <email>' timezone=+02:00 location.NAME.lat=.. "
                           "location.NAME.lon=.. (or in File > Export > Camtrap DP)")
    if no_time:
        warnings.append(f"{len(no_time)} files without any capture or file time were left out")
    if mtime_deps:
        warnings.append("files without an EXIF capture time carry their modification time (deployments "
                        + ", ".join(sorted(mtime_deps)) + " flagged timestampIssues)")

    # ---- observations ---------------------------------------------------------------------------
    obs_rows: list[dict[str, Any]] = []
    events: dict[tuple[str, str], list[tuple[ExportItem, dt.datetime]]] = {}
    for item, media_id, stamp in kept:
        events.setdefault((dep_of(item.sequence.location), item.sequence.seq_id), []).append((item, stamp))
        obs_rows.extend(_media_observations(item, media_id, stamp, dep_of(item.sequence.location), bundle, tax,
                                            reviews, detector, classifier))
    if opts.event_observations:
        for (dep, seq_id), members in sorted(events.items()):
            obs_rows.extend(_event_observations(dep, seq_id, members, bundle, tax, reviews, detector, classifier,
                                                opts.exclude_people))

    # ---- descriptor -----------------------------------------------------------------------------
    species_names = sorted({r["scientificName"] for r in obs_rows if r.get("scientificName")})
    taxa = {t.scientific_name: t for t in tax.taxa}
    all_stamps = [s for _, _, s in kept]
    levels = ["media", "event"] if opts.event_observations else ["media"]
    when = (created or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    title = project.title or folder_name
    descriptor: dict[str, Any] = {
        "resources": [{"name": t, "path": f"{t}.csv", "profile": "tabular-data-resource", "format": "csv",
                       "mediatype": "text/csv", "encoding": "utf-8", "schema": SCHEMA_URLS[t]} for t in TABLES],
        "profile": PROFILE_URL,
        "name": _slug(title),
        "created": when.isoformat().replace("+00:00", "Z"),
        "title": title,
        "contributors": [{k: v for k, v in (("title", c.title), ("email", c.email), ("role", c.role)) if v}
                         for c in project.contributors],
        "sources": [{"title": "Wildlife Desktop", "version": bundle.app_version}],
        "project": {
            "title": title, "samplingDesign": project.sampling_design,
            "captureMethod": list(project.capture_method), "individualAnimals": False, "observationLevel": levels,
        },
        "spatial": _spatial(points),
        "temporal": {"start": min(all_stamps).date().isoformat() if all_stamps else when.date().isoformat(),
                     "end": max(all_stamps).date().isoformat() if all_stamps else when.date().isoformat()},
        "taxonomic": [_taxonomic(taxa[n]) if n in taxa else {"scientificName": n} for n in species_names],
    }
    described = " ".join(t for t in (project.description, methods_text(bundle.methods)) if t)
    if described:  # the empty-image audit's figures, for a methods section (formats/methods.py)
        descriptor["description"] = described
        descriptor["project"]["description"] = described
    if bundle.methods:
        descriptor["wildlifeDesktop"] = {"methods": bundle.methods}  # custom property (Data Package allows it)
    if decimals >= 0:
        descriptor["coordinatePrecision"] = float(10.0 ** -decimals)
    licences = _licences(project)
    if licences:
        descriptor["licenses"] = licences
    else:
        warnings.append("no data and media licence set (project set FOLDER data_licence=CC-BY-4.0 "
                        "media_licence=CC-BY-4.0): the package has no licenses")
    if bundle.model.random_weights:
        descriptor["description"] = (descriptor.get("description", "") + " WARNING: random-weight model; "
                                     "machine observations are meaningless.").strip()
    tables = {
        "deployments": _ordered("deployments", dep_rows),
        "media": _ordered("media", [r for r in media_rows if r["deploymentID"] in by_dep]),
        "observations": _ordered("observations", obs_rows),
    }
    return CamtrapPackage(descriptor, tables, tuple(warnings), tuple(excluded))


def _media_id(rel_path: str) -> str:
    import hashlib

    return "m" + hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:12]


def _spatial(points: Sequence[tuple[float, float]]) -> dict[str, Any]:
    if not points:
        return {"type": "Point", "coordinates": [0.0, 0.0]}
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    if min(lats) == max(lats) and min(lons) == max(lons):
        return {"type": "Point", "coordinates": [lons[0], lats[0]]}
    w, e, s, n = min(lons), max(lons), min(lats), max(lats)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _taxonomic(t: Taxon) -> dict[str, Any]:
    out: dict[str, Any] = {"scientificName": t.scientific_name, "taxonRank": t.rank}
    if t.taxon_id:
        out["taxonID"] = t.taxon_id
    for key, value in (("kingdom", t.kingdom), ("phylum", t.phylum), ("class", t.class_), ("order", t.order),
                       ("family", t.family), ("genus", t.genus)):
        if value:
            out[key] = value
    if t.common_name:
        out["vernacularNames"] = {"eng": t.common_name}
    return out


def _licences(project: ProjectSettings) -> list[dict[str, str]]:
    if not (project.data_licence and project.media_licence):
        return []
    out = []
    for scope, value in (("data", project.data_licence), ("media", project.media_licence)):
        key = "path" if "://" in value else "name"
        out.append({key: value, "scope": scope})
    return out


def _ordered(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cols = schema_columns(table)
    return [{c: row.get(c, "") for c in cols} for row in rows]


def _classification(det: Detection, verified: bool, threshold: float, tax: Taxonomy) -> tuple[str, str, float | None]:
    """(observationType, scientificName, machine probability) of one kept box."""
    label = species_of(det, verified, threshold)
    kind = OBSERVATION_TYPES.get(det.category, "unknown")
    if label is not None and label.strip().lower() in UNKNOWN_LABELS:
        return "unknown", "", None
    taxon = tax.lookup(label) if label else None
    if kind == "human":
        return "human", "", det.confidence
    prob = max(c.confidence for c in det.classifications) if label is not None else det.confidence
    return kind, taxon.scientific_name if (taxon and kind == "animal") else "", prob


def _reviewer(reviews: Mapping[tuple[str, str], ReviewDecision], rel: str, did: str) -> ReviewDecision | None:
    return reviews.get((rel, did)) or reviews.get((rel, ""))


def _method(verified: bool, review: ReviewDecision | None, machine: str, prob: float | None) -> dict[str, Any]:
    if verified:
        out: dict[str, Any] = {"classificationMethod": "human",
                               "classifiedBy": (review.reviewer if review and review.reviewer else "reviewer")}
        if review and review.time:
            try:
                out["classificationTimestamp"] = _iso(dt.datetime.fromisoformat(review.time.replace("Z", "+00:00"))
                                                      .replace(microsecond=0))
            except ValueError:
                pass
        return out
    out = {"classificationMethod": "machine", "classifiedBy": machine}
    if prob is not None:
        out["classificationProbability"] = round_conf(prob)
    return out


def _media_observations(item: ExportItem, media_id: str, stamp: dt.datetime, dep: str,
                        bundle: ExportBundle, tax: Taxonomy, reviews: Mapping[tuple[str, str], ReviewDecision],
                        detector: str, classifier: str) -> list[dict[str, Any]]:
    pred = item.prediction
    if pred.failed:
        return []
    base = {"deploymentID": dep, "mediaID": media_id, "eventID": item.sequence.seq_id, "eventStart": _iso(stamp),
            "eventEnd": _iso(stamp), "observationLevel": "media"}
    keep = kept_indices(item, bundle.detection_threshold)
    if not keep:
        review = reviews.get((pred.rel_path, "")) if item.verified_empty else None
        return [{**base, "observationID": f"{media_id}-blank", "observationType": "blank",
                 **_method(item.verified_empty, review, detector, None if item.verified_empty
                           else 1.0 - pred.max_confidence())}]
    rows = []
    for i in keep:
        det = pred.detections[i]
        verified = item.is_verified(i)
        kind, name, prob = _classification(det, verified, bundle.classification_threshold, tax)
        did = det_id(item, i)
        row = {**base, "observationID": did, "observationType": kind, "scientificName": name, "count": 1,
               **_method(verified, _reviewer(reviews, pred.rel_path, did),
                         classifier if (det.classifications and kind == "animal") else detector, prob)}
        if pred.kind == "image":
            x, y, w, h = clip_box(det.bbox)
            row.update(bboxX=x, bboxY=y, bboxWidth=w, bboxHeight=h)
        rows.append(row)
    return rows


def _event_observations(dep: str, seq_id: str, members: list[tuple[ExportItem, dt.datetime]], bundle: ExportBundle,
                        tax: Taxonomy, reviews: Mapping[tuple[str, str], ReviewDecision], detector: str,
                        classifier: str, exclude_people: bool) -> list[dict[str, Any]]:
    """One observation per (type, species) of an event, counted as the most boxes in any one frame."""
    start, end = min(s for _, s in members), max(s for _, s in members)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for item, _ in members:
        pred = item.prediction
        if pred.failed:
            continue
        per_frame: dict[tuple[str, str, int | None], int] = {}
        for i in kept_indices(item, bundle.detection_threshold):
            det = pred.detections[i]
            kind, name, prob = _classification(det, item.is_verified(i), bundle.classification_threshold, tax)
            if kind == "human" and exclude_people:
                continue
            key = (kind, name)
            per_frame[(kind, name, det.frame)] = per_frame.get((kind, name, det.frame), 0) + 1
            g = groups.setdefault(key, {"count": 0, "verified": True, "prob": 0.0, "review": None, "model": detector})
            g["verified"] = g["verified"] and item.is_verified(i)
            g["prob"] = max(g["prob"], prob or 0.0)
            if det.classifications and kind == "animal":
                g["model"] = classifier
            g["review"] = g["review"] or _reviewer(reviews, pred.rel_path, det_id(item, i))
        for (kind, name, _), n in per_frame.items():
            groups[(kind, name)]["count"] = max(groups[(kind, name)]["count"], n)
    rows = []
    for n, ((kind, name), g) in enumerate(sorted(groups.items())):
        rows.append({"observationID": f"{_media_id(seq_id)}-e{n}", "deploymentID": dep, "eventID": seq_id,
                     "eventStart": _iso(start), "eventEnd": _iso(end), "observationLevel": "event",
                     "observationType": kind, "scientificName": name, "count": g["count"],
                     **_method(g["verified"], g["review"], g["model"], g["prob"])})
    return rows


def write_camtrap_dp(out_dir: Path | str, package: CamtrapPackage) -> tuple[Path, ...]:
    """Write the three CSVs, then ``datapackage.json``, atomically into ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        path = out / f"{table}.csv"
        with atomic_open(path, newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=schema_columns(table), lineterminator="\n")
            writer.writeheader()
            for row in package.tables[table]:
                writer.writerow(csv_row(row, numeric=_NUMERIC))
        written.append(path)
    descriptor_path = out / "datapackage.json"
    atomic_write_json(descriptor_path, package.descriptor, indent=2)
    return (descriptor_path, *written)


__all__ = ["CAMTRAP_DP_VERSION", "CamtrapOptions", "CamtrapPackage", "DeploymentFacts", "build_camtrap_dp",
           "deployment_id", "write_camtrap_dp"]
