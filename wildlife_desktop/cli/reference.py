"""``verify-reference``: compare our detections with an official results file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.paths import AppPaths
from .output import emit


def cmd_verify_reference(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..formats.md_batch import read_md_batch
    from ..pipeline.reference import compare_to_reference, layer_or_run

    ours, ran = layer_or_run(Path(args.folder), paths, args.detector)
    rep = compare_to_reference(ours.predictions, read_md_batch(Path(args.reference)), iou=args.iou,
                               conf_threshold=args.threshold)
    if args.json:
        emit("reference", {"layer_id": ours.layer_id, "ran": ran, "files": rep.files_compared,
                            "reference_boxes": rep.reference_boxes, "our_boxes": rep.our_boxes,
                            "matched": rep.matched, "precision": rep.precision, "recall": rep.recall,
                            "mean_conf_diff": rep.mean_conf_diff, "max_abs_conf_diff": rep.max_abs_conf_diff})
        return 0
    print(f"Our results: layer {ours.layer_id} ({ours.detector}){' - just run' if ran else ''}")
    if ours.random_weights:
        print("WARNING: random-weights model: this comparison says nothing about detection quality.",
              file=sys.stderr)
    print("\n".join(rep.summary_lines()))
    from ..pipeline.evaluate_detection import evaluate_detection, truth_from_reference

    truth = truth_from_reference(read_md_batch(Path(args.reference)), ours.predictions, conf_threshold=args.threshold)
    if truth:  # the same metrics as `evaluate --reference`: COCO mAP with the reference as ground truth
        scores = evaluate_detection(truth, ours.predictions, threshold=args.threshold, verified=False)
        print(f"  mAP@0.5 {scores.map50:.4f}  mAP@0.5:0.95 {scores.map50_95:.4f} ({scores.engine}; reference boxes "
              f">= {args.threshold:g} as ground truth, all our boxes ranked by confidence)")
    return 0


def add_parsers(sub: Any) -> None:
    vr = sub.add_parser("verify-reference", help="compare our detections box by box with an official results file")
    vr.add_argument("folder", help="image folder with our results")
    vr.add_argument("reference", help="MegaDetector batch-output JSON made by the official pipeline")
    vr.add_argument("--detector", help="compare that detector's layer (run it first if the folder has none)")
    vr.add_argument("--iou", type=float, default=0.5,
                    help="overlap (intersection over union) at which two boxes match (default 0.5)")
    vr.add_argument("--threshold", type=float, default=0.2, help="confidence threshold on both sides")
    vr.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    vr.set_defaults(func=cmd_verify_reference)
