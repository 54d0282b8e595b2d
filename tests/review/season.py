"""A synthetic season for the review tests: two cameras, events, a planted static false positive.

``planted_season()`` gives predictions in memory; ``write_season(root)`` writes the same as tiny
JPEGs plus a MegaDetector results file and imports it, so the CLI sees a real folder.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from PIL import Image

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction

ROCK = BBox(0.70, 0.62, 0.08, 0.06)  # the planted static false positive of cam1
START = dt.datetime(2024, 6, 1, 6, 0, 0)


def _jitter(i: int) -> float:
    return ((i * 7919) % 11 - 5) * 0.0004  # +-0.2 % of the image: a detector's wobble on a rock


def planted_season() -> dict[str, Prediction]:
    """cam1: 40 images in 8 events of 5 frames (10 s apart, 2 h between events); the rock in 30 of
    them (frames 0-3 of... every image whose index % 4 != 3), plus one animal per event walking
    across (0.06 to the right per frame). A deer bedded down in the 5 frames of event 0 (same box,
    one event). cam2: 20 images with walking animals only."""
    preds: dict[str, Prediction] = {}
    for cam, n in (("cam1", 40), ("cam2", 20)):
        for i in range(n):
            event, frame = divmod(i, 5)
            when = START + dt.timedelta(hours=2 * event, seconds=10 * frame)
            rel = f"{cam}/IMG_{i:04d}.JPG"
            dets = [Detection("1", 0.9, BBox(0.05 + 0.06 * frame, 0.3 + 0.02 * event, 0.2, 0.15),
                              (Classification("zebra", 0.9),))]
            if cam == "cam1" and i % 4 != 3:
                j = _jitter(i)
                dets.append(Detection("1", 0.35, BBox(ROCK.x + j, ROCK.y - j, ROCK.w, ROCK.h),
                                      (Classification("impala", 0.4),)))
            if cam == "cam1" and event == 0:
                dets.append(Detection("1", 0.8, BBox(0.3, 0.1, 0.1, 0.1), (Classification("deer", 0.8),)))
            preds[rel] = Prediction(rel, "image", MediaMeta(640, 480, when.strftime("%Y-%m-%d %H:%M:%S")),
                                    tuple(dets))
    return preds


def md_json(preds: dict[str, Prediction]) -> dict:
    """The predictions as a MegaDetector batch file (classification ids by label)."""
    labels = sorted({c.label for p in preds.values() for d in p.detections for c in d.classifications})
    ids = {lab: str(i + 1) for i, lab in enumerate(labels)}
    images = []
    for rel, p in sorted(preds.items()):
        images.append({"file": rel, "datetime": p.meta.datetime.replace("-", ":", 2), "detections": [
            {"category": d.category, "conf": d.confidence, "bbox": d.bbox.as_list(),
             "classifications": [[ids[c.label], c.confidence] for c in d.classifications]} for d in p.detections]})
    return {"info": {"format_version": "1.4", "detector": "md_test",
                     "detector_metadata": {"megadetector_version": "test", "typical_detection_threshold": 0.2,
                                           "conservative_detection_threshold": 0.05}},
            "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
            "classification_categories": {v: k for k, v in ids.items()}, "images": images}


def write_season(root: Path, preds: dict[str, Prediction] | None = None) -> Path:
    """Tiny JPEGs for ``preds`` (default :func:`planted_season`) under ``root``, results imported."""
    from wildlife_desktop.pipeline.importer import import_results

    preds = planted_season() if preds is None else preds
    for rel in preds:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (90, 110, 80)).save(path, quality=60)
    results = root.parent / f"{root.name}-md.json"
    results.write_text(json.dumps(md_json(preds)), encoding="utf-8")
    import_results(root, results)
    return root
