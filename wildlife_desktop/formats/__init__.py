"""formats layer (Qt-free): writers and readers of the files other tools exchange with us.

* MegaDetector batch-output JSON (Timelapse "recognition data"): :func:`write_md_batch`,
  :func:`read_md_batch`, :func:`read_pytorch_wildlife_json`;
* COCO Camera Traps: :func:`write_coco`;
* flat CSV: :func:`write_csv`.

Every writer takes an :class:`~wildlife_desktop.formats.bundle.ExportBundle`.
"""

from __future__ import annotations

from .bundle import (
    SIDECAR_SCHEMA_VERSION,
    ExportBundle,
    ExportItem,
    ModelInfo,
    SequenceInfo,
    detection_id,
)
from .coco import boxed_only, build_coco, write_coco
from .csv_export import CSV_COLUMNS, build_csv_rows, write_csv
from .md_batch import (
    MD_FORMAT_VERSION,
    RANDOM_WEIGHTS_WARNING,
    ImportedResults,
    build_md_batch,
    read_md_batch,
    write_md_batch,
)
from .pytorch_wildlife import read_pytorch_wildlife_json

__all__ = [
    "CSV_COLUMNS",
    "MD_FORMAT_VERSION",
    "RANDOM_WEIGHTS_WARNING",
    "SIDECAR_SCHEMA_VERSION",
    "ExportBundle",
    "ExportItem",
    "ImportedResults",
    "ModelInfo",
    "SequenceInfo",
    "boxed_only",
    "build_coco",
    "build_csv_rows",
    "build_md_batch",
    "detection_id",
    "read_md_batch",
    "read_pytorch_wildlife_json",
    "write_coco",
    "write_csv",
    "write_md_batch",
]
