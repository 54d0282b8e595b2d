"""``evaluate``: score a detector against the boxes people verified (or a reference results file)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.errors import WildlifeError
from ..core.paths import AppPaths
from .output import emit


def cmd_evaluate(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.evaluate_detection import evaluate_detection, truth_from_decisions, truth_from_reference
    from ..pipeline.reference import layer_or_run

    folder = Path(args.folder)
    if not folder.is_dir():
        raise WildlifeError(f"Not a folder: {folder}")
    if args.reference:
        from ..formats.md_batch import read_md_batch

        reference = read_md_batch(Path(args.reference))
    ours, ran = layer_or_run(folder, paths, args.detector)
    if args.reference:
        truth = truth_from_reference(reference, ours.predictions, conf_threshold=args.reference_threshold)
        source = f"reference {Path(args.reference).name} (boxes >= {args.reference_threshold:g})"
    else:
        truth = truth_from_decisions(folder, paths)
        source = "person-verified boxes (accepted and relabelled: true; rejected: known false positives)"
    if not truth:
        raise WildlifeError(
            f"Nothing to evaluate in {folder}: " + ("no file of the reference is in our results." if args.reference
                                                    else "no verified detections. Accept, reject or relabel boxes "
                                                    "(or mark images empty) first."))
    threshold = args.threshold if args.threshold is not None else ours.layer.typical_threshold
    scores = evaluate_detection(truth, ours.predictions, threshold=threshold, engine=args.engine,
                                verified=not args.reference)
    if args.json:
        emit("evaluation", {"layer_id": ours.layer_id, "detector": ours.layer.detector_id, "ran": ran,
                             "ground_truth": source, **asdict(scores), "precision": scores.precision,
                             "recall": scores.recall})
        return 0
    print(f"Detector: {ours.layer.detector_id or ours.detector} (layer {ours.layer_id}{', just run' if ran else ''})")
    print(f"Ground truth: {source}")
    if ours.layer.random_weights:
        print("WARNING: random-weights model: these figures say nothing about detection quality.", file=sys.stderr)
    print("\n".join(scores.lines()))
    return 0


def add_parsers(sub: Any) -> None:
    e = sub.add_parser("evaluate", help="score a detector: mAP, precision/recall against verified boxes or a reference")
    e.add_argument("folder", help="image folder with review decisions (or with a reference results file)")
    e.add_argument("--detector", help="the detector to score (its results layer; run first when the folder has none)")
    e.add_argument("--reference", metavar="RESULTS.json",
                   help="score against this MegaDetector results file instead of the verified boxes")
    e.add_argument("--reference-threshold", type=float, default=0.2,
                   help="reference boxes at or above this confidence are the ground truth (default 0.2)")
    e.add_argument("--threshold", type=float, default=None,
                   help="confidence for precision/recall (default: the detector's typical threshold)")
    e.add_argument("--engine", choices=("auto", "pycocotools", "numpy"), default="auto",
                   help="mAP by pycocotools (the [eval] extra) or its numpy transcription (default: auto)")
    e.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    e.set_defaults(func=cmd_evaluate)
