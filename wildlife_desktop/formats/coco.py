"""COCO Camera Traps (CCT) writer.

Layout decisions (see formats.md §3):

* image ``id`` = ``file_name`` = the relative path (CCT convention, a string); one image entry per
  video, its annotations carry ``frame_number``;
* boxes in absolute pixels ``[x, y, w, h]`` with ``area`` and ``iscrowd: 0`` and **integer**
  annotation ids, so that pycocotools' ``COCOeval`` runs (formats.md §3.4 option (a); validate
  with ``integrity_check_json_db(..., allowIntIDs=True)``);
* categories: 0 empty, 1 animal, 2 person, 3 vehicle, then one per species label from 4 up;
* an image without any kept box (or confirmed empty by a person) gets one **box-less**
  ``category_id: 0`` annotation, the CCT image-level label. ``COCOeval`` cannot handle box-less
  annotations, so evaluate on :func:`boxed_only` (a copy without them);
* failed files are image entries with ``corrupt: true`` and no annotation;
* our metadata (schema version, app version, random-weights warning) lives inside ``info``
  under ``wildlife_desktop``; extra keys inside ``info`` are fine for CCT tools and pycocotools.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.atomic import atomic_write_json_streamed
from ..core.records import DETECTION_CATEGORIES, Detection
from .bundle import SIDECAR_SCHEMA_VERSION, ExportBundle, ExportItem, detection_id
from .md_batch import (
    RANDOM_WEIGHTS_WARNING,
    clean_label,
    clip_box,
    round_conf,
    species_labels,
    wildlife_block,
)

EMPTY_CATEGORY_ID = 0
EMPTY_CATEGORY_NAME = "empty"
FIRST_SPECIES_ID = 4
PIXEL_DIGITS = 2


def build_coco(bundle: ExportBundle) -> dict[str, Any]:
    """Build the CCT dict for ``bundle``.

    Boxes below ``bundle.detection_threshold`` are dropped unless a person verified them. A box
    takes the species category when its top classification reaches
    ``bundle.classification_threshold`` (or the box is verified), else its detector category.

    Args:
        bundle: the export input.

    Returns:
        A JSON-serialisable dict with ``info``, ``images``, ``categories`` and ``annotations``.
    """
    categories, _, _ = _categories(bundle)
    return {
        "info": _info(bundle),
        "images": list(_iter_images(bundle)),
        "categories": categories,
        "annotations": list(_iter_annotations(bundle)),
    }


def _sorted_items(bundle: ExportBundle) -> list[ExportItem]:
    return sorted(bundle.items, key=lambda it: it.prediction.rel_path)


def _iter_images(bundle: ExportBundle) -> Iterator[dict[str, Any]]:
    for item in _sorted_items(bundle):
        yield _image_entry(item)


def _iter_annotations(bundle: ExportBundle) -> Iterator[dict[str, Any]]:
    _, species_ids, detector_ids = _categories(bundle)
    n = 0
    for item in _sorted_items(bundle):
        if item.prediction.failed:
            continue
        for ann in _annotations(item, bundle, species_ids, detector_ids):
            n += 1
            yield {"id": n, **ann}


def write_coco(path: Path | str, bundle: ExportBundle) -> Path:
    """Write the CCT file atomically, streaming images and annotations; return the path."""
    path = Path(path)
    categories, _, _ = _categories(bundle)
    atomic_write_json_streamed(
        path,
        {"info": _info(bundle)},
        {"images": _iter_images(bundle), "categories": categories, "annotations": _iter_annotations(bundle)},
    )
    return path


def write_coco_boxed(path: Path | str, bundle: ExportBundle) -> Path:
    """Write the boxed-only copy (what ``COCOeval`` needs: no box-less image-level annotations)."""
    path = Path(path)
    categories, _, _ = _categories(bundle)
    atomic_write_json_streamed(
        path,
        {"info": _info(bundle)},
        {"images": _iter_images(bundle), "categories": categories,
         "annotations": (a for a in _iter_annotations(bundle) if "bbox" in a)},
    )
    return path


def boxed_only(coco: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``coco`` keeping only annotations with a pixel ``bbox`` (for ``COCOeval``)."""
    out = copy.deepcopy(coco)
    out["annotations"] = [a for a in out["annotations"] if "bbox" in a]
    return out


def _info(bundle: ExportBundle) -> dict[str, Any]:
    model = bundle.model
    created = model.completion_time or _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    try:
        year = int(created[:4])
    except ValueError:
        year = _dt.date.today().year
    description = f"Camera-trap detections exported by Wildlife Desktop {bundle.app_version}".strip()
    if model.random_weights:
        description += f" - {RANDOM_WEIGHTS_WARNING}"
    info: dict[str, Any] = {
        "version": str(SIDECAR_SCHEMA_VERSION),
        "description": description,
        "date_created": created,
        "year": year,
        "contributor": "Wildlife Desktop",
        "detector": model.detector,
    }
    if model.classifier:
        info["classifier"] = model.classifier
    info["wildlife_desktop"] = wildlife_block(bundle)
    return info


def _categories(bundle: ExportBundle) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
    cats: list[dict[str, Any]] = [{"id": EMPTY_CATEGORY_ID, "name": EMPTY_CATEGORY_NAME}]
    cats += [{"id": int(k), "name": v} for k, v in sorted(DETECTION_CATEGORIES.items(), key=_int_key)]
    used = {c["name"].lower() for c in cats}
    next_id = max(FIRST_SPECIES_ID, max(c["id"] for c in cats) + 1)
    species_ids: dict[str, int] = {}
    for label in species_labels(bundle):
        name = _unique(label, used, "species")
        species_ids[label] = next_id
        cats.append({"id": next_id, "name": name})
        next_id += 1
    # Detector categories outside 1..3 (imported files) get their own category.
    detector_ids = {k: int(k) for k in DETECTION_CATEGORIES}
    for item in bundle.items:
        for det in item.prediction.detections:
            if det.category not in detector_ids:
                detector_ids[det.category] = next_id
                cats.append({"id": next_id, "name": _unique(f"detector_{det.category}", used, "x")})
                next_id += 1
    return cats, species_ids, detector_ids


def _int_key(kv: tuple[str, str]) -> int:
    return int(kv[0])


def _unique(name: str, used: set[str], suffix: str) -> str:
    candidate = name
    n = 1
    while candidate.lower() in used:
        candidate = f"{name}_{suffix}" if n == 1 else f"{name}_{suffix}{n}"
        n += 1
    used.add(candidate.lower())
    return candidate


def _image_entry(item: ExportItem) -> dict[str, Any]:
    pred, seq = item.prediction, item.sequence
    entry: dict[str, Any] = {"id": pred.rel_path, "file_name": pred.rel_path}
    if pred.meta.width and pred.meta.height:
        entry["width"], entry["height"] = int(pred.meta.width), int(pred.meta.height)
    if pred.meta.datetime:  # unknown: no key (MegaDetector's parse_datetimes_from_cct_image_list raises on null)
        entry["datetime"] = pred.meta.datetime
    entry["location"] = seq.location
    entry["seq_id"] = seq.seq_id
    entry["seq_num_frames"] = int(seq.seq_num_frames)
    entry["frame_num"] = int(seq.frame_num)
    if pred.kind == "video" and pred.frame_rate:
        entry["frame_rate"] = float(pred.frame_rate)
    if pred.failed:
        entry["corrupt"] = True
        entry["failure"] = pred.failure
    return entry


def kept_indices(item: ExportItem, detection_threshold: float) -> list[int]:
    """Indices of the detections an export keeps: at/above the threshold, or verified.

    A file confirmed empty by a person keeps none. Sorted by confidence, descending.
    """
    pred = item.prediction
    if item.verified_empty or pred.failed:
        return []
    keep = [
        i
        for i, d in enumerate(pred.detections)
        if d.confidence >= detection_threshold or item.is_verified(i)
    ]
    return sorted(keep, key=lambda i: -pred.detections[i].confidence)


def det_id(item: ExportItem, index: int) -> str:
    """Stable id of detection ``index`` of ``item`` (computed when the bundle does not carry it)."""
    if index < len(item.detection_ids) and item.detection_ids[index]:
        return item.detection_ids[index]
    return detection_id(item.prediction.rel_path, item.prediction.detections[index])


def species_of(det: Detection, verified: bool, classification_threshold: float) -> str | None:
    """The species label an export writes for ``det``, or None when below the threshold."""
    if not det.classifications:
        return None
    top = max(det.classifications, key=lambda c: c.confidence)
    if verified or top.confidence >= classification_threshold:
        return clean_label(top.label)
    return None


def _annotations(
    item: ExportItem, bundle: ExportBundle, species_ids: dict[str, int], detector_ids: dict[str, int]
) -> list[dict[str, Any]]:
    pred = item.prediction
    keep = kept_indices(item, bundle.detection_threshold)
    if not keep:
        return [{
            "image_id": pred.rel_path,
            "category_id": EMPTY_CATEGORY_ID,
            "verified": bool(item.verified_empty),
        }]
    width, height = pred.meta.width, pred.meta.height
    out = []
    for i in keep:
        det = pred.detections[i]
        verified = item.is_verified(i)
        label = species_of(det, verified, bundle.classification_threshold)
        ann: dict[str, Any] = {
            "image_id": pred.rel_path,
            "category_id": species_ids[label] if label is not None else detector_ids[det.category],
        }
        x, y, w, h = clip_box(det.bbox)
        if width and height:
            pw, ph = round(w * width, PIXEL_DIGITS), round(h * height, PIXEL_DIGITS)
            ann["bbox"] = [round(x * width, PIXEL_DIGITS), round(y * height, PIXEL_DIGITS), pw, ph]
            ann["area"] = round(pw * ph, PIXEL_DIGITS)
            ann["iscrowd"] = 0
        else:  # size unknown: CCT allows a normalised box instead (mutually exclusive with bbox)
            ann["bbox_relative"] = [x, y, w, h]
        ann["score"] = round_conf(det.confidence)
        if label is not None:
            top = max(det.classifications, key=lambda c: c.confidence)
            ann["classification_score"] = round_conf(top.confidence)
        if det.frame is not None:
            ann["frame_number"] = int(det.frame)
        ann["detection_id"] = det_id(item, i)
        ann["verified"] = verified
        if item.is_smoothed(i):
            ann["label_source"] = "smoothing"  # a smoothing suggestion a person accepted
        out.append(ann)
    return out
