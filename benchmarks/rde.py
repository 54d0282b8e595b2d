"""Repeat-detection elimination on a synthetic season: 100,000 images of 20 cameras.

Each camera has 5,000 images in events of 1-8 frames, 0-3 walking animals per image (random
places and sizes) and two planted static boxes (a rock in 30 % of its images, a branch in 8 %)
with a detector's wobble. Prints the time to build the predictions (not part of RDE), the time
of ``review.rde.find_repeat_clusters`` and whether every planted box was found and nothing else.

    python benchmarks/rde.py [--images 100000] [--cameras 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

import numpy as np

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.rde import find_repeat_clusters


def season(n_images: int, n_cameras: int, seed: int = 0) -> tuple[dict[str, Prediction], list[tuple[str, BBox]]]:
    """Synthetic predictions, and the planted static boxes (location, box)."""
    rng = np.random.default_rng(seed)
    preds: dict[str, Prediction] = {}
    planted: list[tuple[str, BBox]] = []
    per_cam = n_images // n_cameras
    start = dt.datetime(2024, 1, 1)
    label = (Classification("zebra", 0.8),)
    for cam in range(n_cameras):
        statics = [(rng.uniform(0.05, 0.8, 2), rng.uniform(0.03, 0.15, 2), 0.30),
                   (rng.uniform(0.05, 0.8, 2), rng.uniform(0.03, 0.15, 2), 0.08)]
        planted += [(f"site{cam:02d}", BBox(*xy, *wh)) for xy, wh, _ in statics]
        t = start
        frames_left = 0
        for i in range(per_cam):
            if frames_left == 0:
                frames_left = int(rng.integers(1, 9))
                t += dt.timedelta(minutes=float(rng.uniform(5, 600)))
            else:
                t += dt.timedelta(seconds=2)
            frames_left -= 1
            dets = []
            for _ in range(int(rng.integers(0, 4))):
                w, h = rng.uniform(0.05, 0.4, 2)
                x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
                dets.append(Detection("1", float(rng.uniform(0.1, 1.0)), BBox(x, y, w, h), label))
            for (x, y), (w, h), p in statics:
                if rng.random() < p:
                    j = rng.normal(0, 0.0015, 2)
                    dets.append(Detection("1", float(rng.uniform(0.15, 0.6)),
                                          BBox(float(x + j[0]), float(y + j[1]), float(w), float(h)), label))
            rel = f"site{cam:02d}/IMG_{i:06d}.JPG"
            preds[rel] = Prediction(rel, "image", MediaMeta(datetime=t.strftime("%Y-%m-%d %H:%M:%S")), tuple(dets))
    return preds, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--cameras", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    preds, planted = season(args.images, args.cameras)
    seqs = assign_sequences((r, p.meta.datetime) for r, p in preds.items())
    t1 = time.perf_counter()
    clusters = find_repeat_clusters(preds, seqs)
    t2 = time.perf_counter()
    boxes = sum(len(p.detections) for p in preds.values())
    found = sum(any(c.location == loc and c.bbox.iou(b) >= 0.5 for c in clusters) for loc, b in planted)
    other = sum(not any(c.location == loc and c.bbox.iou(b) >= 0.5 for loc, b in planted) for c in clusters)
    print(f"{args.images} images, {args.cameras} cameras, {boxes} boxes; synthetic season built in {t1 - t0:.1f} s")
    print(f"RDE: {t2 - t1:.2f} s; {len(clusters)} clusters: {found} of {len(planted)} planted static boxes "
          f"found, {other} other clusters; cores: {os.cpu_count()}")
    print(json.dumps({"images": args.images, "cameras": args.cameras, "boxes": boxes, "rde_s": round(t2 - t1, 2),
                      "clusters": len(clusters), "planted": len(planted), "planted_found": found, "other": other,
                      "cluster_images": sorted(c.images for c in clusters)}))


if __name__ == "__main__":
    main()
