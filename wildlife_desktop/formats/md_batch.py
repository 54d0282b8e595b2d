"""MegaDetector batch-output JSON ("MD format"): the file Timelapse imports as recognition data.

Writer: format ``"1.5"`` (string), relative forward-slash paths, string category ids, float
confidences, ``detections: []`` for processed-empty files and ``detections: null`` + ``failure``
for unreadable ones, one entry per video with ``frame_rate``/``frames_processed``/``frame_number``.
Our own metadata lives under ``info.wildlife_desktop`` (extra keys inside ``info`` are tolerated
by the MegaDetector validator and ignored by Timelapse; extra *top-level* keys give warnings).

Readers: :func:`read_md_batch` (format 1.0-1.6) and :func:`read_pytorch_wildlife_json`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.atomic import atomic_write_json_streamed
from ..core.errors import DatasetError
from ..core.records import (
    DETECTION_CATEGORIES,
    VIDEO_EXTENSIONS,
    BBox,
    Classification,
    Detection,
    MediaMeta,
    Prediction,
)
from .bundle import SIDECAR_SCHEMA_VERSION, ExportBundle, ExportItem, detection_id

MD_FORMAT_VERSION = "1.5"
RANDOM_WEIGHTS_WARNING = "RANDOM WEIGHTS - benchmark twin, not a detector; these boxes are meaningless"
CONF_DIGITS = 3
COORD_DIGITS = 4
_MIN_SIZE = 10**-COORD_DIGITS
#: Extensions MegaDetector's validator treats as video, plus ours (.asf is Timelapse-only).
_READ_VIDEO_EXTENSIONS = VIDEO_EXTENSIONS | {".mpeg", ".mpg", ".flv"}
_EXIF_DATETIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})([ T]\d{2}:\d{2}:\d{2})")


@dataclass(frozen=True)
class ImportedResults:
    """Predictions read from a third-party results file.

    Attributes:
        info: the file's ``info`` block (empty dict when absent).
        predictions: one per file, sorted by ``rel_path``.
        classification_labels: classification category names, in id order.
        verified_ids: :func:`~wildlife_desktop.formats.bundle.detection_id` of every detection
            marked ``"verified": true`` in the file.
    """

    info: dict[str, Any]
    predictions: tuple[Prediction, ...]
    classification_labels: tuple[str, ...] = ()
    verified_ids: frozenset[str] = field(default_factory=frozenset)


# ----------------------------------------------------------------------------------------------
# shared helpers (also used by the COCO and CSV writers)


def species_labels(bundle: ExportBundle) -> tuple[str, ...]:
    """Every species label of the export: classifier order first, then labels only seen in data.

    Blank labels are replaced by ``"unlabelled"`` so no category name is ever blank.
    """
    seen: dict[str, None] = {}
    for label in bundle.model.classifier_labels:
        seen.setdefault(clean_label(label), None)
    for item in bundle.items:
        for det in item.prediction.detections:
            for c in det.classifications:
                seen.setdefault(clean_label(c.label), None)
    return tuple(seen)


def clean_label(label: str) -> str:
    """A non-blank, stripped label."""
    text = (label or "").strip()
    return text or "unlabelled"


def clip_box(box: BBox) -> list[float]:
    """Round to 4 decimals and clip so that ``x+w <= 1``, ``y+h <= 1`` and ``w, h > 0``."""
    out: list[float] = []
    for pos, size in ((box.x, box.w), (box.y, box.h)):
        p = round(min(max(float(pos), 0.0), 1.0 - _MIN_SIZE), COORD_DIGITS)
        s = round(min(max(float(size), _MIN_SIZE), 1.0 - p), COORD_DIGITS)
        while p + s > 1.0:
            s = round(s - _MIN_SIZE, COORD_DIGITS)
        out.extend((p, max(s, _MIN_SIZE)))
    return [out[0], out[2], out[1], out[3]]


def round_conf(value: float) -> float:
    """Confidence clamped to 0..1 and rounded to 3 decimals, always a ``float``."""
    return float(round(min(max(float(value), 0.0), 1.0), CONF_DIGITS))


def wildlife_block(bundle: ExportBundle) -> dict[str, Any]:
    """Our own metadata block, written into every output's ``info``."""
    block: dict[str, Any] = {
        "schema_version": SIDECAR_SCHEMA_VERSION,
        "app_version": bundle.app_version,
        "random_weights": bool(bundle.model.random_weights),
        "detection_threshold": float(bundle.detection_threshold),
        "classification_threshold": float(bundle.classification_threshold),
    }
    if bundle.model.random_weights:
        block["warning"] = RANDOM_WEIGHTS_WARNING
    return block


# ----------------------------------------------------------------------------------------------
# writer


def md_head(bundle: ExportBundle) -> dict[str, Any]:
    """Everything of the MD file but its ``images`` list."""
    model = bundle.model
    labels = species_labels(bundle)
    class_ids = {label: str(i) for i, label in enumerate(labels, start=1)}
    info: dict[str, Any] = {"format_version": MD_FORMAT_VERSION, "detector": model.detector}
    if model.completion_time:
        info["detection_completion_time"] = model.completion_time
    info["detector_metadata"] = {
        "megadetector_version": model.detector_version or model.detector,
        "typical_detection_threshold": float(model.typical_threshold),
        "conservative_detection_threshold": float(model.conservative_threshold),
    }
    if model.classifier:
        info["classifier"] = model.classifier
        if model.completion_time:
            info["classification_completion_time"] = model.completion_time
        info["classifier_metadata"] = {
            "typical_classification_threshold": float(model.typical_classification_threshold)
        }
    block = wildlife_block(bundle)
    verified_empty = [it.prediction.rel_path for it in bundle.items if it.verified_empty]
    if verified_empty:
        block["verified_empty_files"] = sorted(verified_empty)
    info["wildlife_desktop"] = block

    out: dict[str, Any] = {"info": info, "detection_categories": dict(DETECTION_CATEGORIES)}
    if labels and (model.classifier or any(_has_classifications(it) for it in bundle.items)):
        out["classification_categories"] = {cid: label for label, cid in class_ids.items()}
    return out


def iter_md_images(bundle: ExportBundle) -> Iterator[dict[str, Any]]:
    """The ``images`` entries of the MD file, sorted by file, one at a time."""
    class_ids = {label: str(i) for i, label in enumerate(species_labels(bundle), start=1)}
    seen: set[str] = set()
    for item in sorted(bundle.items, key=lambda it: it.prediction.rel_path):
        rel = item.prediction.rel_path
        if rel in seen:
            raise ValueError(f"Duplicate file in export bundle: {rel}")
        seen.add(rel)
        yield _image_entry(item, class_ids)


def build_md_batch(bundle: ExportBundle) -> dict[str, Any]:
    """Build the MD batch-output dict (format 1.5) for ``bundle``.

    All stored detections are kept (Timelapse applies its own thresholds).

    Args:
        bundle: the export input.

    Returns:
        A JSON-serialisable dict.
    """
    return {**md_head(bundle), "images": list(iter_md_images(bundle))}


def write_md_batch(path: Path | str, bundle: ExportBundle) -> Path:
    """Write the MD file atomically, streaming one image entry at a time; return the path."""
    path = Path(path)
    atomic_write_json_streamed(path, md_head(bundle), {"images": iter_md_images(bundle)})
    return path


def _has_classifications(item: ExportItem) -> bool:
    return any(d.classifications for d in item.prediction.detections)


def _image_entry(item: ExportItem, class_ids: Mapping[str, str]) -> dict[str, Any]:
    pred = item.prediction
    entry: dict[str, Any] = {"file": pred.rel_path}
    video = pred.kind == "video"
    if pred.meta.width and pred.meta.height:
        entry["width"], entry["height"] = int(pred.meta.width), int(pred.meta.height)
    if pred.meta.datetime:
        entry["datetime"] = pred.meta.datetime
    if video:
        rate = pred.frame_rate
        entry["frame_rate"] = float(rate) if rate and rate > 0 else -1.0
        entry["frames_processed"] = sorted({int(f) for f in pred.frames_processed})
    if pred.failed:
        entry["failure"] = pred.failure.strip() or "Failure"  # type: ignore[union-attr]
        entry["detections"] = None
        return entry
    if video and not entry["frame_rate"] > 0:
        raise ValueError(f"Video without a frame rate: {pred.rel_path}")
    order = sorted(range(len(pred.detections)), key=lambda i: -pred.detections[i].confidence)
    dets = []
    for i in order:
        det = pred.detections[i]
        d: dict[str, Any] = {
            "category": det.category,
            "conf": round_conf(det.confidence),
            "bbox": clip_box(det.bbox),
        }
        if video:
            d["frame_number"] = int(det.frame or 0)
        if det.classifications:
            pairs = sorted(det.classifications, key=lambda c: -c.confidence)
            d["classifications"] = [
                [class_ids[clean_label(c.label)], round_conf(c.confidence)] for c in pairs
            ]
        if item.is_verified(i):
            d["verified"] = True
        dets.append(d)
    entry["detections"] = dets
    return entry


# ----------------------------------------------------------------------------------------------
# readers


def read_md_batch(source: Path | str | Mapping[str, Any]) -> ImportedResults:
    """Read an MD batch-output file (format 1.0-1.6), from a path or an already-loaded dict.

    Detection categories named animal/person/vehicle are mapped onto our ids by name. A file
    entry with ``detections`` null/missing becomes a failed prediction (reason from ``failure``).

    Raises:
        DatasetError: the file is unreadable, not JSON or not an MD results file.
    """
    data = _load_json(source)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetError("Not a MegaDetector results file: no 'images' list.")
    info = data.get("info") or {}
    if not isinstance(info, dict):
        raise DatasetError("Malformed MegaDetector results file: 'info' is not an object.")
    version = info.get("format_version")
    if version is not None:
        try:
            major = int(float(str(version)))
        except ValueError:
            raise DatasetError(f"Unsupported MegaDetector format_version {version!r}.") from None
        if major != 1:
            raise DatasetError(f"Unsupported MegaDetector format_version {version!r}.")
    det_map = _category_remap(data.get("detection_categories") or DETECTION_CATEGORIES)
    cls_cats = data.get("classification_categories") or {}
    if not isinstance(cls_cats, dict):
        raise DatasetError("Malformed MegaDetector results file: bad 'classification_categories'.")
    cls_map = {str(k): clean_label(str(v)) for k, v in cls_cats.items()}

    preds: dict[str, Prediction] = {}
    verified: set[str] = set()
    for index, im in enumerate(data["images"]):
        pred, ver = _read_image(im, index, det_map, cls_map)
        if pred.rel_path in preds:
            raise DatasetError(f"Results file lists {pred.rel_path!r} twice.")
        preds[pred.rel_path] = pred
        verified.update(detection_id(pred.rel_path, pred.detections[i]) for i in ver)
    labels = tuple(cls_map[k] for k in sorted(cls_map, key=_int_or_str))
    predictions = tuple(preds[k] for k in sorted(preds))
    return ImportedResults(dict(info), predictions, labels, frozenset(verified))


def _load_json(source: Path | str | Mapping[str, Any]) -> Any:
    if isinstance(source, Mapping):
        return dict(source)
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read results file {source}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"Results file {Path(source).name} is not valid JSON: {exc}") from exc


def _norm_path(path: str) -> str:
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


def _int_or_str(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.isdigit() else (1, key)


def _our_category(name: str, fallback: str) -> str:
    by_name = {v: k for k, v in DETECTION_CATEGORIES.items()}
    return by_name.get(name.strip().lower(), fallback)


def _category_remap(cats: Any) -> dict[str, str]:
    if not isinstance(cats, dict):
        raise DatasetError("Malformed MegaDetector results file: bad 'detection_categories'.")
    return {str(k): _our_category(str(v), str(k)) for k, v in cats.items()}


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_num_list(v: Any, n: int) -> bool:
    return isinstance(v, list | tuple) and len(v) == n and all(_is_num(x) for x in v)


def _exif_to_iso(text: str) -> str:
    m = _EXIF_DATETIME.match(text.strip())
    return f"{m[1]}-{m[2]}-{m[3]}{m[4].replace('T', ' ')}" if m else text.strip()


def _read_image(
    im: Any, index: int, det_map: Mapping[str, str], cls_map: Mapping[str, str]
) -> tuple[Prediction, list[int]]:
    if not isinstance(im, dict) or not isinstance(im.get("file"), str) or not im["file"].strip():
        raise DatasetError(f"Results file: image entry {index} has no 'file'.")
    rel = _norm_path(im["file"].strip())
    where = f"{rel!r}"
    rate = im.get("frame_rate")
    rate = float(rate) if _is_num(rate) and rate > 0 else None
    frames = tuple(int(f) for f in im.get("frames_processed") or () if _is_num(f))
    is_video = PurePosixPath(rel).suffix.lower() in _READ_VIDEO_EXTENSIONS or rate is not None
    kind = "video" if is_video else "image"
    w, h, dt = im.get("width"), im.get("height"), im.get("datetime")
    meta = MediaMeta(
        width=int(w) if _is_num(w) and w > 0 else None,
        height=int(h) if _is_num(h) and h > 0 else None,
        datetime=_exif_to_iso(dt) if isinstance(dt, str) and dt.strip() else None,
    )
    raw = im.get("detections")
    failure = im.get("failure")
    if failure or raw is None:
        reason = str(failure) if failure else "No detections recorded for this file"
        return Prediction(rel, kind, meta, failure=reason, frame_rate=rate, frames_processed=frames), []
    if not isinstance(raw, list):
        raise DatasetError(f"Results file: 'detections' of {where} is not a list.")
    dets: list[Detection] = []
    verified: list[int] = []
    for d in raw:
        if not isinstance(d, dict):
            raise DatasetError(f"Results file: malformed detection in {where}.")
        cat = str(d.get("category"))
        if cat not in det_map:
            raise DatasetError(f"Results file: {where} uses unknown detection category {cat!r}.")
        conf = d.get("conf")
        if not _is_num(conf) or not 0.0 <= conf <= 1.0:
            raise DatasetError(f"Results file: bad confidence {conf!r} in {where}.")
        box = d.get("bbox")
        if not _is_num_list(box, 4) or any(v < -0.01 or v > 1.01 for v in box) or box[2] < 0 or box[3] < 0:
            raise DatasetError(f"Results file: bad bbox {box!r} in {where} (need normalised x,y,w,h).")
        classes = []
        for pair in d.get("classifications") or ():
            if not isinstance(pair, list | tuple) or len(pair) < 2 or not _is_num(pair[1]):
                raise DatasetError(f"Results file: malformed classification {pair!r} in {where}.")
            cid = str(pair[0])
            if cid not in cls_map:
                raise DatasetError(f"Results file: unknown classification category {cid!r} in {where}.")
            classes.append(Classification(cls_map[cid], float(pair[1])))
        classes.sort(key=lambda c: -c.confidence)
        frame = d.get("frame_number")
        bbox = BBox(*(min(max(float(v), 0.0), 1.0) for v in box))
        det = Detection(det_map[cat], float(conf), bbox, tuple(classes),
                        int(frame) if is_video and _is_num(frame) else None)
        if d.get("verified") is True:
            verified.append(len(dets))
        dets.append(det)
    return Prediction(rel, kind, meta, tuple(dets), frame_rate=rate, frames_processed=frames), verified

