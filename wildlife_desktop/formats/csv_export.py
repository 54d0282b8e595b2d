"""Flat CSV export: one row per kept detection, for spreadsheets.

Every file appears at least once: a file without kept boxes gets one row with category
``empty``; a failed file gets one row with category ``failed`` and the reason in ``failure``.
The file is UTF-8 *with* a BOM (``utf-8-sig``) so that Excel on Windows decodes non-ASCII paths,
and has no comment line (it would break spreadsheets): the schema version of our outputs is
recorded in the companion JSON sidecars (``info.wildlife_desktop.schema_version``).

The box is ``x_min``, ``y_min``, ``bbox_width``, ``bbox_height`` (normalised 0..1). Until 0.x the
last two were named ``width``/``height``, which read as the image's size; renamed (see CHANGELOG).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..core.atomic import atomic_open
from .bundle import ExportBundle, ExportItem
from .coco import det_id, kept_indices, species_of
from .csv_safe import csv_row
from .md_batch import clip_box, round_conf

CSV_COLUMNS: tuple[str, ...] = (
    "file", "detection_id", "frame", "category", "confidence",
    "x_min", "y_min", "bbox_width", "bbox_height", "label", "label_confidence", "verified",
    "datetime", "location", "seq_id", "video_label", "failure", "label_source",
)  # fmt: skip
#: Columns holding numbers we formatted ourselves (never quoted against formula injection).
NUMERIC_COLUMNS: frozenset[str] = frozenset(
    {"frame", "confidence", "x_min", "y_min", "bbox_width", "bbox_height", "label_confidence"})


def build_csv_rows(bundle: ExportBundle) -> list[dict[str, str]]:
    """The rows :func:`write_csv` writes, as dicts keyed by :data:`CSV_COLUMNS`.

    Text cells a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) start with a
    single quote (see :mod:`.csv_safe`).
    """
    rows: list[dict[str, str]] = []
    for item in sorted(bundle.items, key=lambda it: it.prediction.rel_path):
        rows.extend(_rows(item, bundle))
    return rows


def write_csv(path: Path | str, bundle: ExportBundle) -> Path:
    """Write the detections of ``bundle`` as CSV (UTF-8 with BOM, CRLF), atomically.

    A row is written for each detection at or above ``bundle.detection_threshold`` (or verified
    by a person); ``label`` is the top classification when it reaches
    ``bundle.classification_threshold`` (or the box is verified), else empty.

    Args:
        path: destination file.
        bundle: the export input.

    Returns:
        ``path``.
    """
    path = Path(path)
    with atomic_open(path, newline="") as fh:
        fh.write("\ufeff")
        writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
        writer.writeheader()
        for item in sorted(bundle.items, key=lambda it: it.prediction.rel_path):
            writer.writerows(_rows(item, bundle))
    return path


def _fmt(value: float) -> str:
    return repr(float(value))


def _rows(item: ExportItem, bundle: ExportBundle) -> list[dict[str, str]]:
    pred, seq = item.prediction, item.sequence
    base = {c: "" for c in CSV_COLUMNS}
    base.update(
        file=pred.rel_path,
        datetime=pred.meta.datetime or "",
        location=seq.location,
        seq_id=seq.seq_id,
        video_label=pred.video_label or "",
    )
    if pred.failed:
        return [csv_row({**base, "category": "failed", "verified": "false", "failure": pred.failure or "Failure"})]
    keep = kept_indices(item, bundle.detection_threshold)
    if not keep:
        return [csv_row({**base, "category": "empty", "verified": "true" if item.verified_empty else "false"})]
    rows = []
    for i in keep:
        det = pred.detections[i]
        verified = item.is_verified(i)
        label = species_of(det, verified, bundle.classification_threshold)
        x, y, w, h = clip_box(det.bbox)
        row = {
            **base,
            "detection_id": det_id(item, i),
            "frame": "" if det.frame is None else str(int(det.frame)),
            "category": det.category_name,
            "confidence": _fmt(round_conf(det.confidence)),
            "x_min": _fmt(x),
            "y_min": _fmt(y),
            "bbox_width": _fmt(w),
            "bbox_height": _fmt(h),
            "verified": "true" if verified else "false",
            "label_source": "smoothing" if item.is_smoothed(i) else "",  # an accepted smoothing suggestion
        }
        if label is not None:
            row["label"] = label
            row["label_confidence"] = _fmt(round_conf(max(c.confidence for c in det.classifications)))
        rows.append(row)
    return [csv_row(r, NUMERIC_COLUMNS) for r in rows]
