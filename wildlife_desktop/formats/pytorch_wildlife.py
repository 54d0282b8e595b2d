"""Reader for Pytorch-Wildlife's own detection JSON (``save_detection_json``: xyxy pixel boxes).

Not the MegaDetector format (see formats.md §3.5): boxes are absolute ``[x1, y1, x2, y2]``
integers, categories 0-based, so image sizes are needed to normalise them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.errors import DatasetError
from ..core.records import BBox, Classification, Detection, MediaKind, MediaMeta, Prediction
from .md_batch import (
    _READ_VIDEO_EXTENSIONS,
    ImportedResults,
    _in_range,
    _is_num,
    _is_num_list,
    _load_json,
    _norm_path,
    category_map,
    clip_box,
    round_conf,
)


def read_pytorch_wildlife_json(
    path: Path | str | Mapping[str, Any],
    size_of: Callable[[str], tuple[int, int]],
    *,
    strip_prefix: str | None = None,
    basename: bool = False,
) -> ImportedResults:
    """Read Pytorch-Wildlife's ``save_detection_json`` output (xyxy absolute pixel boxes).

    Args:
        path: the JSON file, or its already-parsed object.
        size_of: returns ``(width, height)`` of a file given its relative path; an ``OSError``,
            ``KeyError`` or ``ValueError`` from it makes that file a failed prediction.
        strip_prefix: prefix removed from every ``img_id`` (compared with ``/`` separators).
        basename: keep only the file name of every ``img_id``.

    Raises:
        DatasetError: malformed file, or an ``img_id`` outside ``strip_prefix``.
    """
    if strip_prefix is not None and basename:
        raise ValueError("Use either strip_prefix or basename, not both.")
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise DatasetError("Not a Pytorch-Wildlife detection file: no 'annotations' list.")
    names = data.get("categories") or {"0": "animal", "1": "person", "2": "vehicle"}
    cats = category_map(names)  # a custom detector's names: animal + that name as the label
    prefix = _norm_path(strip_prefix).rstrip("/") + "/" if strip_prefix else None
    preds: dict[str, Prediction] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or not isinstance(ann.get("img_id"), str):
            raise DatasetError("Pytorch-Wildlife file: annotation without 'img_id'.")
        rel = _norm_path(ann["img_id"])
        if basename:
            rel = PurePosixPath(rel).name
        elif prefix is not None:
            if not rel.startswith(prefix):
                raise DatasetError(f"{ann['img_id']!r} is not under {strip_prefix!r}.")
            rel = rel[len(prefix) :]
        kind: MediaKind = "video" if PurePosixPath(rel).suffix.lower() in _READ_VIDEO_EXTENSIONS else "image"
        try:
            width, height = size_of(rel)
        except (OSError, KeyError, ValueError) as exc:
            preds[rel] = Prediction(rel, kind, failure=f"Image size unknown: {exc}")
            continue
        dets = []
        boxes, ids, confs = (_as_boxes(ann.get("bbox")), _as_scalars(ann.get("category")),
                             _as_scalars(ann.get("confidence")))
        if not len(boxes) == len(ids) == len(confs):
            raise DatasetError(f"Pytorch-Wildlife file: bbox/category/confidence lengths differ for {rel!r}.")
        for box, cat, conf in zip(boxes, ids, confs, strict=True):
            if not _is_num_list(box, 4) or not _in_range(conf, 0.0, 1.0):
                raise DatasetError(f"Pytorch-Wildlife file: bad box for {rel!r}: {str(box)[:80]!r}")
            key = str(int(cat)) if _is_num(cat) and float(cat).is_integer() else str(cat)[:40]
            if key not in cats.ours:
                raise DatasetError(f"Pytorch-Wildlife file: unknown category {key!r} for {rel!r}.")
            x1, y1, x2, y2 = (float(v) for v in box)
            bbox = BBox(*clip_box(BBox(x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)))
            label = cats.labels.get(key)
            classes = (Classification(label, round_conf(conf)),) if label else ()
            dets.append(Detection(cats.ours[key], round_conf(conf), bbox, classes))
        dets.sort(key=lambda d: -d.confidence)
        preds[rel] = Prediction(rel, kind, MediaMeta(width=int(width), height=int(height)), tuple(dets))
    info = {"source": "pytorch-wildlife", "categories": dict(names)}
    warning = cats.warning()
    return ImportedResults(info, tuple(preds[k] for k in sorted(preds)), tuple(dict.fromkeys(cats.labels.values())),
                           warnings=(warning,) if warning else ())


def _as_boxes(v: Any) -> list[Any]:
    if v is None or v == "":
        return []
    if isinstance(v, list) and v and _is_num(v[0]):
        return [v]  # a single xyxy box
    return list(v) if isinstance(v, list) else [v]


def _as_scalars(v: Any) -> list[Any]:
    if v is None or v == "":
        return []
    return list(v) if isinstance(v, list) else [v]
