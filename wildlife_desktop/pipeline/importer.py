"""Import results made elsewhere (MegaDetector batch JSON, Pytorch-Wildlife JSON) as a result layer."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from ..core.errors import DatasetError
from ..core.locks import run_lock
from ..core.paths import AppPaths
from ..core.records import MediaFile, MediaMeta, Prediction
from ..formats.md_batch import ImportedResults, info_text, parse_json, read_md_batch
from ..formats.pytorch_wildlife import read_pytorch_wildlife_json
from .exif import read_meta
from .housekeeping import remove_leftovers
from .journal import LayerInfo, Workspace, current_entries
from .results import FolderResults, load_results, write_layer_sidecars
from .scan import scan_folder

logger = logging.getLogger(__name__)

# MegaDetector's own defaults for its models (run_detector.py); anything else: 0.2 / 0.1.
_MD_THRESHOLDS = {"v5": (0.2, 0.05), "v4": (0.8, 0.3), "v6": (0.2, 0.05), "1000": (0.2, 0.05)}


@dataclass(frozen=True)
class ImportReport:
    results: FolderResults
    imported: int
    missing: tuple[str, ...]  # files named in the results file but not in the folder
    unmatched: int  # files in the folder the results file does not mention
    warnings: tuple[str, ...] = ()  # one line each, for the user (e.g. custom detector categories)


def _block(info: dict, name: str) -> dict:
    """``info[name]`` when it is an object (the MD reader has checked its types), else ``{}``."""
    block = info.get(name)
    return block if isinstance(block, dict) else {}


def _thresholds(info: dict, detector: str) -> tuple[float, float]:
    meta = _block(info, "detector_metadata")
    if meta.get("typical_detection_threshold") is not None:
        conservative = meta.get("conservative_detection_threshold")
        return (float(meta["typical_detection_threshold"]), 0.05 if conservative is None else float(conservative))
    name = detector.lower()
    for tag, thr in _MD_THRESHOLDS.items():
        if tag in name:
            return thr
    return (0.2, 0.1)


def _image_meta(path: Path) -> MediaMeta:
    meta = read_meta(path)
    try:
        with Image.open(path) as im:  # header only: no pixel decode
            w, h = im.size
    except (OSError, Image.DecompressionBombError, ValueError):
        return meta
    if meta.orientation in (5, 6, 7, 8):
        w, h = h, w
    return replace(meta, width=w, height=h)


def import_results(
    folder: Path, results_file: Path, paths: AppPaths | None = None, *, pytorch_wildlife: bool | None = None
) -> ImportReport:
    """Read ``results_file`` into a new, active result layer of ``folder`` and write the sidecars.

    Paths in the file are matched against files under ``folder`` (relative, or by their suffix
    when the file holds absolute or differently rooted paths). The import holds the folder's run
    lock from start to end, as ``detect`` does, and writes the sidecars under its sidecar lock
    (``core.locks``), so an import during a run, or two imports at once, never interleave.

    Raises:
        FolderBusyError: a run or another import is under way on the folder; nothing was changed.
    """
    paths = paths or AppPaths.default()
    results_file = Path(results_file)
    try:
        raw_bytes = results_file.read_bytes()
    except OSError as exc:
        raise DatasetError(f"Cannot read results file {results_file}: {exc.strerror or exc}") from exc
    raw = parse_json(raw_bytes, results_file.name)
    if not isinstance(raw, dict):
        raise DatasetError(f"{results_file.name} is not a results file: it holds a JSON "
                           f"{type(raw).__name__ if raw is not None else 'null'}, not an object.")
    scan = scan_folder(Path(folder))
    by_rel = {f.rel_path: f for f in scan.files}
    by_name: dict[str, list[str]] = {}
    for rel in by_rel:
        by_name.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)

    def resolve(name: str) -> MediaFile | None:
        """Exact relative path, else the one file whose path is a tail of ``name``."""
        rel = name.replace("\\", "/")
        while rel.startswith("./"):
            rel = rel[2:]
        if rel in by_rel:
            return by_rel[rel]
        cands = [r for r in by_name.get(rel.rsplit("/", 1)[-1], []) if rel.endswith("/" + r) or rel == r]
        return by_rel[cands[0]] if len(cands) == 1 else None

    if pytorch_wildlife is None:
        pytorch_wildlife = isinstance(raw, dict) and "annotations" in raw and "images" not in raw
    if pytorch_wildlife:
        def size_of(name: str) -> tuple[int, int]:
            f = resolve(name)
            m = _image_meta(Path(folder) / f.rel_path) if f else MediaMeta()
            if m.width is None or m.height is None:
                raise KeyError(name)
            return (m.width, m.height)
        imported = read_pytorch_wildlife_json(raw, size_of)
    else:
        imported = read_md_batch(raw)
    info = dict(imported.info)
    detector = info_text(info, "detector", results_file.name)
    typical, conservative = _thresholds(info, detector)
    cls_threshold = _block(info, "classifier_metadata").get("typical_classification_threshold")
    layer = LayerInfo(
        source="import",
        detector=detector,
        detector_version=info_text(_block(info, "detector_metadata"), "megadetector_version"),
        classifier=info_text(info, "classifier", "imported" if imported.classification_labels else ""),
        classifier_labels=tuple(imported.classification_labels),
        typical_threshold=typical,
        conservative_threshold=conservative,
        typical_classification_threshold=0.5 if cls_threshold is None else float(cls_threshold),
        random_weights=_block(info, "wildlife_desktop").get("random_weights") is True,
        created=info_text(info, "detection_completion_time"),
        extra={"import_sha256": hashlib.sha256(raw_bytes).hexdigest(), "import_file": results_file.name},
    )
    ws = Workspace.locate(Path(folder), paths, create=True)
    assert ws is not None
    with run_lock(ws.state_dir, ws.folder):
        return _import_locked(ws, Path(folder), results_file, layer, imported, scan.files, resolve, paths)


def _import_locked(ws: Workspace, folder: Path, results_file: Path, layer: LayerInfo, imported: ImportedResults,
                   files: tuple[MediaFile, ...], resolve: Callable[[str], MediaFile | None],
                   paths: AppPaths) -> ImportReport:
    """The writing half of :func:`import_results`, run while the folder's run lock is held."""
    remove_leftovers(ws)  # temp files of an import or run that was killed mid-write
    layer_id = ws.ensure_layer(layer)
    journal = ws.journal(layer_id)
    have = current_entries(journal.load(), files)
    missing: list[str] = []
    try:
        for pred in imported.predictions:
            f = resolve(pred.rel_path)
            if f is None:
                missing.append(pred.rel_path)
                continue
            if f.rel_path in have:
                continue
            meta = pred.meta
            if f.kind == "image" and (meta.width is None or meta.datetime is None):
                found = _image_meta(Path(folder) / f.rel_path)
                meta = replace(found, width=meta.width or found.width, height=meta.height or found.height,
                               datetime=meta.datetime or found.datetime)
            fixed: Prediction = replace(pred, rel_path=f.rel_path, kind=f.kind, meta=meta)
            journal.append(f.key, fixed)
            have[f.rel_path] = fixed
    finally:
        journal.close()
    ws.set_active(layer_id)
    write_layer_sidecars(ws.out_dir, layer, have)  # the decisions read under the sidecar lock
    res = load_results(folder, paths)
    assert res is not None
    if missing:
        logger.warning("%d file(s) in %s are not in %s", len(missing), results_file, folder)
    for warning in imported.warnings:
        logger.warning("%s: %s", results_file.name, warning)
    return ImportReport(res, len(have), tuple(missing), len(files) - len(have), imported.warnings)
