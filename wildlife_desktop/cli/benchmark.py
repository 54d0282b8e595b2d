"""``benchmark``: time the pipeline on a sample of a folder, for an ETA."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.paths import AppPaths
from .output import emit, fmt_eta


def cmd_benchmark(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.benchmark import estimate

    res = estimate(Path(args.folder), args.detector, args.classifier, sample=args.sample, paths=paths,
                   decode_workers=args.decode_workers, intra_threads=args.threads)
    if args.json:
        emit("benchmark", res)
        return 0
    print(f"{res.images_per_s:.2f} images/s on {res.sample} sample images of {args.folder}; "
          f"{res.n_images} images in the folder -> about {fmt_eta(res.eta_s)}")
    if res.n_videos:
        print(f"  plus {res.n_videos} videos (not included in the estimate)")
    if res.random_weights:
        print("WARNING: random-weights model: the speed is real, its detections are not.", file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    b = sub.add_parser("benchmark", help="time the pipeline on a sample of a folder: images/s and an ETA")
    b.add_argument("folder", help="folder of camera-trap images to sample")
    b.add_argument("--detector", required=True, help="installed detector id (see: models list)")
    b.add_argument("--classifier", help="installed classifier id")
    b.add_argument("--sample", type=int, default=20, help="images timed (default 20)")
    b.add_argument("--threads", type=int, help="inference threads (default: cores - 1)")
    b.add_argument("--decode-workers", type=int, default=1, help="processes decoding images (default 1)")
    b.add_argument("--json", action="store_true", help="print the result as one JSON object")
    b.set_defaults(func=cmd_benchmark)
