"""What a methods section needs from the folder's review, read from ``.wildlife/`` for every output.

Today: the empty-image audit (``review audit``, ``review.audit``) kept in ``.wildlife/audit.json``:
its settings (detection threshold, target recall, seed, sample size per camera) and per camera
the sample, the answers, the miss rate with its 95 % Wilson interval, the estimated recall and the
suggested threshold. The outputs carry it as ``info.wildlife_desktop.methods`` (MegaDetector
JSON, COCO) and in the Camtrap DP descriptor (a sentence in ``project.description`` and the
figures under ``wildlifeDesktop.methods``). A missing or damaged file gives ``{}``: the outputs
are written without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

AUDIT_FILE: Final = "audit.json"  # cli.review.AUDIT_FILE
_COUNT_KEYS: Final = ("empty_images", "detected_images", "sampled", "answered", "missed")
_RATE_KEYS: Final = ("miss_rate", "miss_rate_low", "miss_rate_high", "estimated_recall", "suggested_threshold")


def _num(value: Any) -> float | None:
    return round(float(value), 4) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def load_methods(state_dir: Path) -> dict[str, Any]:
    """``{"empty_image_audit": {...}}`` from ``state_dir/audit.json``, or ``{}`` (none, unreadable)."""
    try:
        raw = json.loads((Path(state_dir) / AUDIT_FILE).read_text(encoding="utf-8"))
        report = raw["report"]
        cams = report["cameras"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(cams, list):
        return {}
    cameras = []
    for cam in cams:
        if not isinstance(cam, dict):
            continue
        row: dict[str, Any] = {"location": str(cam.get("location", ""))}
        for k in _COUNT_KEYS:
            v = cam.get(k)
            row[k] = v if isinstance(v, int) and not isinstance(v, bool) else None
        for k in _RATE_KEYS:
            row[k] = _num(cam.get(k))
        cameras.append(row)
    return {"empty_image_audit": {
        "method": "per camera, a seeded random sample of the images without a detection at the threshold was "
                  "checked by a person; miss rate = sampled images holding an animal / answered, 95 % Wilson "
                  "score interval",
        "detection_threshold": _num(report.get("threshold")),
        "target_recall": _num(report.get("target_recall")),
        "seed": report.get("seed") if isinstance(report.get("seed"), int) else None,
        "per_camera": report.get("per_camera") if isinstance(report.get("per_camera"), int) else None,
        "cameras": cameras,
    }}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def methods_text(methods: Mapping[str, Any]) -> str:
    """One paragraph for a methods section ("" without an audit)."""
    audit = methods.get("empty_image_audit") if methods else None
    if not audit:
        return ""
    parts = []
    for cam in audit.get("cameras", ()):
        if not cam.get("answered"):
            continue
        text = (f"camera {cam['location']}: {cam['missed']} of {cam['answered']} checked images held an animal "
                f"(miss rate {_pct(cam['miss_rate'])}, 95 % CI {_pct(cam['miss_rate_low'])}–"
                f"{_pct(cam['miss_rate_high'])}; estimated recall {_pct(cam['estimated_recall'])}")
        if cam.get("suggested_threshold") is not None:
            text += f"; threshold {cam['suggested_threshold']:g} suggested for the target recall"
        parts.append(text + ")")
    head = (f"Empty-image audit at detection threshold {audit.get('detection_threshold')}, up to "
            f"{audit.get('per_camera')} images per camera (seed {audit.get('seed')}), target recall "
            f"{_pct(audit.get('target_recall'))}")
    return head + (": " + "; ".join(parts) + "." if parts else ": no answers yet.")
