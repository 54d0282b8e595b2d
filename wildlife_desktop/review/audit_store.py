"""``.wildlife/audit.json``: the empty-image audit's sample and report, as ``review audit`` keeps it.

The window's Review > Empty-image audit… and the CLI write the same document (``formats.methods``
reads its ``report`` into the outputs' metadata). The sample is kept so that answering later
continues the same sample: it is reused while the seed, the number per camera and the threshold
are the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..core.atomic import atomic_write_json
from .audit import AuditReport

AUDIT_FILE: Final = "audit.json"  # cli.review.AUDIT_FILE, formats.methods.AUDIT_FILE
AUDIT_FORMAT: Final = "wildlife-desktop-audit"


def saved_sample(state_dir: Path, *, seed: int, per_camera: int,
                 threshold: float) -> dict[str, tuple[str, ...]] | None:
    """The kept sample when it was drawn with the same settings, else None."""
    try:
        saved = json.loads((Path(state_dir) / AUDIT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or not isinstance(saved.get("sample"), dict):
        return None
    if (saved.get("seed"), saved.get("per_camera"), saved.get("threshold")) != (seed, per_camera, threshold):
        return None
    return {str(k): tuple(str(r) for r in v) for k, v in saved["sample"].items() if isinstance(v, list)}


def save_audit(state_dir: Path, sample: Mapping[str, Sequence[str]], report: AuditReport) -> Path:
    """Write the sample and the report atomically (the format ``review audit`` writes)."""
    path = Path(state_dir) / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"format": AUDIT_FORMAT, "version": 1, "seed": report.seed,
                           "per_camera": report.per_camera, "threshold": report.threshold,
                           "sample": {k: list(v) for k, v in sample.items()}, "report": report.to_dict()}
    atomic_write_json(path, doc)
    return path
