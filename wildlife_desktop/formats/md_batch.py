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
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final, TypeGuard

from ..core.atomic import atomic_write_json_streamed
from ..core.errors import DatasetError
from ..core.records import (
    DETECTION_CATEGORIES,
    VIDEO_EXTENSIONS,
    BBox,
    Classification,
    Detection,
    MediaKind,
    MediaMeta,
    Prediction,
)
from .bundle import SIDECAR_SCHEMA_VERSION, ExportBundle, ExportItem, detection_id
from .taxonomy import load_taxonomy

MD_FORMAT_VERSION = "1.5"
RANDOM_WEIGHTS_WARNING = "RANDOM WEIGHTS - benchmark twin, not a detector; these boxes are meaningless"
CONF_DIGITS = 3
COORD_DIGITS = 4
_MIN_SIZE = 10**-COORD_DIGITS
#: Extensions MegaDetector's validator treats as video, plus ours (.asf is Timelapse-only).
_READ_VIDEO_EXTENSIONS = VIDEO_EXTENSIONS | {".mpeg", ".mpg", ".flv"}
#: EXIF ("2024:05:01 06:00:00") or ISO ("2024-05-01T06:00:00") date-time at the start of a text.
_DATETIME = re.compile(r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}:\d{2})(:\d{2})?")


@dataclass(frozen=True)
class ImportedResults:
    """Predictions read from a third-party results file.

    Attributes:
        info: the file's ``info`` block (empty dict when absent).
        predictions: one per file, sorted by ``rel_path``.
        classification_labels: classification category names, in id order.
        verified_ids: :func:`~wildlife_desktop.formats.bundle.detection_id` of every detection
            marked ``"verified": true`` in the file.
        warnings: one line each for the user (e.g. custom detector categories mapped to animal).
    """

    info: dict[str, Any]
    predictions: tuple[Prediction, ...]
    classification_labels: tuple[str, ...] = ()
    verified_ids: frozenset[str] = field(default_factory=frozenset)
    warnings: tuple[str, ...] = ()


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
    if bundle.methods:  # the empty-image audit's figures (formats/methods.py)
        block["methods"] = dict(bundle.methods)
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
        "megadetector_version": megadetector_version(model.detector, model.detector_version),
        "typical_detection_threshold": float(model.typical_threshold),
        "conservative_detection_threshold": float(model.conservative_threshold),
    }
    if model.detector_members:  # a composite: name every model that made the boxes
        info["detector_metadata"]["members"] = [dict(m) for m in model.detector_members]
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
        descriptions = load_taxonomy().descriptions(out["classification_categories"])
        if descriptions:
            out["classification_category_descriptions"] = descriptions
    return out


#: MegaDetector model names and the version strings MegaDetector writes for them
#: (``run_detector.model_string_to_model_version``); the first match wins.
_MD_VERSIONS: Final = (("mdv1000-", None), ("md_v1000.0.0-", None), ("mdv5a", "v5a.0.0"), ("md_v5a", "v5a.0.0"),
                       ("mdv5b", "v5b.0.0"), ("md_v5b", "v5b.0.0"), ("mdv4", "v4.1.0"), ("md_v4", "v4.1.0"))


def megadetector_version(detector: str, version: str) -> str:
    """``detector_metadata.megadetector_version``: the detector's own name and version.

    Timelapse keeps one detector name per database and, when recognitions are merged, keeps
    the one whose ``megadetector_version`` is ordinally higher (an empty or ``unknown`` one
    always loses), so a bare pack version such as ``"1"`` lost to every ``"v5a.0.0"`` before
    it. MegaDetector models get MegaDetector's own version string (``v5a.0.0``,
    ``v1000.0.0-redwood``); a version that already is one (an imported file's) is kept; any
    other model writes ``"<id>-v<version>"`` (e.g. ``mdlite-nanodet-v1``), never a bare number.
    """
    text = (version or "").strip()
    if re.match(r"^v\d", text):
        return text
    name = (detector or "").strip().lower()
    for prefix, md in _MD_VERSIONS:
        if name.startswith(prefix):
            return md or "v1000.0.0-" + re.split(r"[^a-z]", name[len(prefix):] + " ", maxsplit=1)[0]
    stem = (detector or "detector").strip()
    return f"{stem}-v{text}" if text else stem


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
        if item.is_smoothed(i):
            d["label_source"] = "smoothing"  # a smoothing suggestion a person accepted
        dets.append(d)
    entry["detections"] = dets
    return entry


# ----------------------------------------------------------------------------------------------
# readers

#: Limits on what a results file may contain; anything beyond is refused as malformed (a hostile
#: file must not make us write a 301-digit integer or copy a 100 MB string into every output).
MAX_IMAGE_SIDE: Final = 1_000_000
MAX_FRAME: Final = 100_000_000
MAX_LABEL_CHARS: Final = 200
MAX_TEXT_CHARS: Final = 500
#: Detection category names that mean MegaDetector's categories (compared lower-case).
_MD_CATEGORY_NAMES: Final[dict[str, str]] = {
    "animal": "1", "animals": "1", "person": "2", "people": "2", "human": "2", "vehicle": "3", "vehicles": "3",
}  # fmt: skip


@dataclass(frozen=True)
class CategoryMap:
    """How a file's detection categories map onto ours.

    ``ours[id]`` is our category ("1"/"2"/"3"); ``labels[id]`` is the species label a
    non-MegaDetector category becomes (its detections are animals classified as that label).
    """

    ours: Mapping[str, str]
    labels: Mapping[str, str]

    def warning(self) -> str | None:
        """One line for the user when some categories were not MegaDetector's, else ``None``."""
        names = list(dict.fromkeys(self.labels.values()))
        if not names:
            return None
        shown = ", ".join(repr(n) for n in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        return (f"detection categories {shown} are not MegaDetector's animal/person/vehicle: imported as "
                f"'animal' with the category name as the species label")


def category_map(cats: Any) -> CategoryMap:
    """Map a results file's ``{id: name}`` detection categories onto ours, by name.

    animal/person/vehicle (and their plurals, human, people) keep their meaning; any other name
    (a custom detector's "roe deer") becomes animal + a classification with that name. The ids
    of the file are never reused as our ids, nor as classification ids.

    Raises:
        DatasetError: not an object, or a name that is not a short non-blank string.
    """
    if not isinstance(cats, dict):
        raise DatasetError("Malformed results file: bad 'detection_categories'.")
    ours: dict[str, str] = {}
    labels: dict[str, str] = {}
    for key, name in cats.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_LABEL_CHARS:
            raise DatasetError(f"Malformed results file: detection category {str(key)[:20]!r} has no usable "
                               f"name (a non-blank text of at most {MAX_LABEL_CHARS} characters).")
        cid = _MD_CATEGORY_NAMES.get(name.strip().lower())
        if cid is None:
            cid, labels[str(key)] = "1", clean_label(name)
        ours[str(key)] = cid
    return CategoryMap(ours, labels)


def read_md_batch(source: Path | str | Mapping[str, Any]) -> ImportedResults:
    """Read an MD batch-output file (format 1.0-1.6), from a path or an already-loaded dict.

    Detection categories named animal/person/vehicle are mapped onto our ids by name; any other
    name (a custom detector) becomes animal + a classification with that name, and
    :attr:`ImportedResults.warnings` says so. A file entry with ``detections`` null/missing
    becomes a failed prediction (reason from ``failure``).

    Raises:
        DatasetError: the file is unreadable, not JSON or not a well-formed MD results file
            (the message names the entry and the field).
    """
    data = _load_json(source)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetError("Not a MegaDetector results file: no 'images' list.")
    info = data.get("info") or {}
    if not isinstance(info, dict):
        raise DatasetError("Malformed MegaDetector results file: 'info' is not an object.")
    _check_info(info)
    det_map = category_map(data.get("detection_categories") or DETECTION_CATEGORIES)
    cls_cats = data.get("classification_categories") or {}
    if not isinstance(cls_cats, dict):
        raise DatasetError("Malformed MegaDetector results file: bad 'classification_categories'.")
    for k, v in cls_cats.items():
        if not isinstance(v, str | int | float) or len(str(v)) > MAX_LABEL_CHARS:
            raise DatasetError(f"Malformed MegaDetector results file: classification category {str(k)[:20]!r} "
                               f"needs a name of at most {MAX_LABEL_CHARS} characters.")
    cls_map = {str(k): clean_label(str(v)) for k, v in cls_cats.items()}

    preds: dict[str, Prediction] = {}
    verified: set[str] = set()
    for index, im in enumerate(data["images"]):
        pred, ver = _read_image(im, index, det_map, cls_map)
        if pred.rel_path in preds:
            raise DatasetError(f"Results file lists {pred.rel_path!r} twice.")
        preds[pred.rel_path] = pred
        verified.update(detection_id(pred.rel_path, pred.detections[i]) for i in ver)
    labels = tuple(dict.fromkeys([*(cls_map[k] for k in sorted(cls_map, key=_int_or_str)),
                                  *det_map.labels.values()]))
    predictions = tuple(preds[k] for k in sorted(preds))
    warning = det_map.warning()
    return ImportedResults(dict(info), predictions, labels, frozenset(verified),
                           (warning,) if warning else ())


def _check_info(info: Mapping[str, Any]) -> None:
    """The parts of ``info`` we use must have the documented types (else a clear error)."""
    version = info.get("format_version")
    if version is not None:
        try:
            number = float(str(version))
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or int(number) != 1:
            raise DatasetError(f"Unsupported MegaDetector format_version {str(version)[:40]!r}.")
    for block, keys in (("detector_metadata", ("typical_detection_threshold", "conservative_detection_threshold")),
                        ("classifier_metadata", ("typical_classification_threshold",)),
                        ("wildlife_desktop", ())):
        meta = info.get(block)
        if meta is None:
            continue
        if not isinstance(meta, dict):
            raise DatasetError(f"Malformed MegaDetector results file: info.{block} is not an object.")
        for key in keys:
            value = meta.get(key)
            if value is not None and not (_is_num(value) and 0.0 <= value <= 1.0):
                raise DatasetError(f"Malformed MegaDetector results file: info.{block}.{key} must be a number "
                                   f"from 0 to 1, not {str(value)[:40]!r}.")


def info_text(info: Mapping[str, Any], key: str, default: str = "") -> str:
    """A text field of a results file's ``info`` (or a block of it), shortened to a sane length."""
    value = info.get(key)
    if value is None or isinstance(value, dict | list):
        return default
    return short_text(str(value), MAX_TEXT_CHARS) or default


def short_text(text: str, limit: int) -> str:
    """``text`` stripped and cut to ``limit`` characters (with an ellipsis)."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _load_json(source: Path | str | Mapping[str, Any]) -> Any:
    if isinstance(source, Mapping):
        return dict(source)
    if not isinstance(source, str | os.PathLike):
        raise DatasetError(f"Not a results file: the JSON holds a {type(source).__name__}, not an object.")
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read results file {source}: {exc}") from exc
    return parse_json(text, Path(source).name)


def parse_json(text: str | bytes, name: str) -> Any:
    """``json.loads`` with every failure (syntax, absurd nesting) as a :class:`DatasetError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"Results file {name} is not valid JSON: {exc}") from exc
    except (RecursionError, UnicodeDecodeError, ValueError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else f"not valid JSON ({exc})"
        raise DatasetError(f"Results file {name} is {what}.") from None


def _norm_path(path: str) -> str:
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


def _int_or_str(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.isdigit() else (1, key)


def _is_num(v: Any) -> TypeGuard[int | float]:
    """A finite JSON number of sane size (a 400-digit integer is not one: it overflows a float)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return abs(v) < 1e15 if isinstance(v, int) else math.isfinite(v)


def _is_num_list(v: Any, n: int) -> TypeGuard[list[int | float] | tuple[int | float, ...]]:
    return isinstance(v, list | tuple) and len(v) == n and all(_is_num(x) for x in v)


def _in_range(v: Any, low: float, high: float) -> TypeGuard[int | float]:
    return _is_num(v) and low <= v <= high


def _exif_to_iso(text: str) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` from an EXIF (``2024:05:01 06:00:00``) or ISO date-time, else ``None``."""
    m = _DATETIME.match(text.strip())
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}{m[5] or ':00'}" if m else None


def _read_image(
    im: Any, index: int, det_map: CategoryMap, cls_map: Mapping[str, str]
) -> tuple[Prediction, list[int]]:
    if not isinstance(im, dict) or not isinstance(im.get("file"), str) or not im["file"].strip():
        raise DatasetError(f"Results file: image entry {index} has no 'file'.")
    rel = _norm_path(im["file"].strip())
    where = f"{short_text(rel, 120)!r}"
    rate = im.get("frame_rate")
    rate = float(rate) if _in_range(rate, 1e-6, 10_000) else None
    frames_raw = im.get("frames_processed") or ()
    if not isinstance(frames_raw, list | tuple):
        raise DatasetError(f"Results file: 'frames_processed' of {where} is not a list.")
    frames = tuple(int(f) for f in frames_raw if _in_range(f, 0, MAX_FRAME))
    is_video = PurePosixPath(rel).suffix.lower() in _READ_VIDEO_EXTENSIONS or rate is not None
    kind: MediaKind = "video" if is_video else "image"
    w, h, dt = im.get("width"), im.get("height"), im.get("datetime")
    meta = MediaMeta(
        width=int(w) if _in_range(w, 1, MAX_IMAGE_SIDE) else None,
        height=int(h) if _in_range(h, 1, MAX_IMAGE_SIDE) else None,
        datetime=_exif_to_iso(dt) if isinstance(dt, str) else None,
    )
    raw = im.get("detections")
    failure = im.get("failure")
    if failure or raw is None:
        reason = short_text(str(failure), MAX_TEXT_CHARS) if failure else "No detections recorded for this file"
        return Prediction(rel, kind, meta, failure=reason or "Failure", frame_rate=rate,
                          frames_processed=frames), []
    if not isinstance(raw, list):
        raise DatasetError(f"Results file: 'detections' of {where} is not a list.")
    dets: list[Detection] = []
    verified: list[int] = []
    for d in raw:
        if not isinstance(d, dict):
            raise DatasetError(f"Results file: malformed detection in {where}.")
        cat = str(d.get("category"))[:40]
        if cat not in det_map.ours:
            raise DatasetError(f"Results file: {where} uses unknown detection category {cat!r}.")
        conf = d.get("conf")
        if not _in_range(conf, 0.0, 1.0):
            raise DatasetError(f"Results file: bad confidence {str(conf)[:40]!r} in {where}.")
        box = d.get("bbox")
        if not _is_num_list(box, 4) or any(v < -0.01 or v > 1.01 for v in box) or box[2] < 0 or box[3] < 0:
            raise DatasetError(f"Results file: bad bbox {str(box)[:80]!r} in {where} (need normalised x,y,w,h).")
        pairs = d.get("classifications") or ()
        if not isinstance(pairs, list | tuple):
            raise DatasetError(f"Results file: 'classifications' of a detection in {where} is not a list.")
        classes: dict[str, float] = {}
        for pair in pairs:
            if not isinstance(pair, list | tuple) or len(pair) < 2 or not _in_range(pair[1], 0.0, 1.0):
                raise DatasetError(f"Results file: malformed classification {str(pair)[:80]!r} in {where}.")
            cid = str(pair[0])[:40]
            if cid not in cls_map:
                raise DatasetError(f"Results file: unknown classification category {cid!r} in {where}.")
            classes[cls_map[cid]] = max(float(pair[1]), classes.get(cls_map[cid], 0.0))
        if cat in det_map.labels:  # a custom detector's species: the detector's own confidence
            label = det_map.labels[cat]
            classes[label] = max(float(conf), classes.get(label, 0.0))
        frame = d.get("frame_number")
        bbox = BBox(*(min(max(float(v), 0.0), 1.0) for v in box))
        det = Detection(det_map.ours[cat], float(conf), bbox,
                        tuple(Classification(lab, c) for lab, c in sorted(classes.items(), key=lambda x: -x[1])),
                        int(frame) if is_video and _in_range(frame, 0, MAX_FRAME) else None)
        if d.get("verified") is True:
            verified.append(len(dets))
        dets.append(det)
    return Prediction(rel, kind, meta, tuple(dets), frame_rate=rate, frames_processed=frames), verified
