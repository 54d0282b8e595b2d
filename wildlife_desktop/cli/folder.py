"""Folder commands: ``scan``, ``detect`` (resumable), ``import-results``, ``export``, ``project``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..core.errors import WildlifeError
from ..core.paths import AppPaths
from ..core.progress import CancelToken
from .output import clear_line, emit, progress_line


def cmd_scan(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.scan import scan_folder

    t0 = time.perf_counter()
    res = scan_folder(Path(args.folder))
    n_img = sum(f.kind == "image" for f in res.files)
    out = {"folder": str(args.folder), "images": n_img, "videos": len(res.files) - n_img,
           "skipped": [list(s) for s in res.skipped], "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        emit("scan", out)
    else:
        print(f"{n_img} images, {out['videos']} videos in {args.folder} ({out['seconds']} s)")
        for rel, why in res.skipped:
            print(f"  skipped {rel}: {why}")
    return 0


def _default_detector(paths: AppPaths) -> str:
    from ..runtime.store import ModelStore

    model_id = ModelStore(paths).default_id("detection")
    if model_id is None:
        raise WildlifeError("No detector is installed. Install the real models with: "
                            "wildlife-desktop models install recommended")
    print(f"Detector: {model_id} (the default; choose another with --detector)", file=sys.stderr)
    return model_id


def cmd_detect(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.job import (
        RANDOM_WEIGHTS_WARNING,
        FileProcessed,
        JobConfig,
        JobFinished,
        JobStarted,
        run_job,
    )
    from ..pipeline.results import export_folder

    detector_id = args.detector or _default_detector(paths)
    config = JobConfig(
        folder=Path(args.folder), detector_id=detector_id, classifier_id=args.classifier,
        conf_floor=args.conf_floor, detection_threshold=args.threshold,
        classification_threshold=args.classification_threshold,
        video_every_s=1.0 / args.video_fps if args.video_fps else args.video_every,
        video_max_frames=args.video_max_frames, intra_threads=args.threads, checkpoint_s=args.checkpoint,
        decode_workers=args.decode_workers,
    )
    predictor = None
    if args.ray:
        from ..pipeline.cluster import ClusterOptions, RayPredictor

        predictor = RayPredictor(paths, ClusterOptions(
            address=args.ray, workers=args.ray_workers, send_bytes=args.ray_send_bytes,
            notify=lambda line: print(line, file=sys.stderr)))
    elif args.ray_send_bytes or args.ray_workers:
        raise WildlifeError("--ray-send-bytes and --ray-workers need --ray ADDRESS (or --ray auto)")
    cancel = CancelToken()
    last_print = 0.0
    tty = sys.stderr.isatty()
    counts = {"images": 0, "videos": 0}
    by_class: dict[str, int] = {}
    threshold = 0.2
    try:
        for ev in run_job(config, paths=paths, cancel=cancel, predictor=predictor):
            if isinstance(ev, JobStarted):
                threshold = ev.detection_threshold
            if args.json:
                if isinstance(ev, FileProcessed):
                    emit("file", {"file": ev.prediction.rel_path, "failure": ev.prediction.failure,
                                   "detections": len(ev.prediction.detections), "done": ev.progress.done,
                                   "total": ev.progress.total})
                else:
                    emit(type(ev).__name__, ev)
                continue
            if isinstance(ev, JobStarted):
                for w in ev.warnings:
                    print(f"WARNING: {w}", file=sys.stderr)
                print(f"{ev.total} files, {ev.already_done} already done, {ev.todo} to process "
                      f"(layer {ev.layer_id})", file=sys.stderr)
            elif isinstance(ev, FileProcessed):
                p = ev.prediction
                counts["videos" if p.kind == "video" else "images"] += 1
                for d in p.detections:
                    if d.confidence >= threshold:
                        by_class[d.category_name] = by_class.get(d.category_name, 0) + 1
                if p.failure:
                    clear_line(tty)
                    print(f"  failed: {p.rel_path}: {p.failure}", file=sys.stderr)
                now = time.monotonic()
                if now - last_print > (0.2 if tty else 5.0) or ev.progress.done == ev.progress.total:
                    last_print = now
                    progress_line(ev.progress, tty)
            elif isinstance(ev, JobFinished):
                clear_line(tty)
                s = ev.summary
                rate = s.processed / s.elapsed_s if s.elapsed_s > 0 else 0.0
                dets = ", ".join(f"{n} {k}" for k, n in sorted(by_class.items())) or "none"
                print(f"{'Cancelled' if s.cancelled else 'Done'}: {counts['images']} images and {counts['videos']} "
                      f"videos processed in {s.elapsed_s:.1f} s ({rate:.2f} files/s), {s.failed} failed.")
                print(f"Files with animals {s.animals}, people {s.persons}, vehicles {s.vehicles}, empty {s.empty}; "
                      f"detections at >= {threshold:g}: {dets}.")
                for path in s.sidecars:
                    print(f"  wrote {path}")
                if s.random_weights:
                    print(f"WARNING: {RANDOM_WEIGHTS_WARNING}", file=sys.stderr)
    except KeyboardInterrupt:
        # The journal has every finished file; make the sidecars match it, then stop.
        export_folder(Path(args.folder), paths=paths, detection_threshold=args.threshold)
        print("Interrupted: progress saved; run the same command again to resume.", file=sys.stderr)
        return 130
    return 0


def cmd_import_results(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.importer import import_results

    rep = import_results(Path(args.folder), Path(args.results), paths)
    out = {"imported": rep.imported, "missing": len(rep.missing), "unmatched": rep.unmatched,
           "layer_id": rep.results.layer_id, "output_dir": str(rep.results.output_dir),
           "warnings": list(rep.warnings)}
    if args.json:
        emit("import", out)
    else:
        for w in rep.warnings:
            print(f"WARNING: {w}", file=sys.stderr)
        print(f"Imported results for {rep.imported} files (layer {rep.results.layer_id}); "
              f"{len(rep.missing)} listed files not found here; {rep.unmatched} files here without results.")
        print(f"Sidecars in {rep.results.output_dir}")
    return 0


def cmd_export(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.results import export_folder

    for flag, given in (("--xlsx", args.xlsx and not args.tables),
                        ("--annotated", args.annotated and not args.species_folders),
                        ("--link", args.link and not args.species_folders),
                        ("--no-blur", args.no_blur and not args.species_folders),
                        ("--blur-vehicles", args.blur_vehicles and not args.species_folders)):
        if given:
            raise WildlifeError(f"{flag} goes with {'--tables' if flag == '--xlsx' else '--species-folders'}")
    if args.camtrap_dp or args.tables or args.species_folders:
        if args.tables:
            _export_tables(args, paths)
        if args.species_folders:
            _export_species_folders(args, paths)
        return _export_camtrap_dp(args, paths) if args.camtrap_dp else 0
    written = export_folder(Path(args.folder), detection_threshold=args.threshold,
                            classification_threshold=args.classification_threshold, paths=paths,
                            out_dir=Path(args.out) if args.out else None, coco_boxed_only=args.coco_boxed_only)
    for p in written:
        print(p)
    return 0


def _export_tables(args: argparse.Namespace, paths: AppPaths) -> None:
    from ..pipeline.analysis import export_tables

    rep = export_tables(Path(args.folder), Path(args.tables), xlsx=args.xlsx, paths=paths,
                        detection_threshold=args.threshold, classification_threshold=args.classification_threshold)
    for p in rep.paths:
        print(p)
    print(f"Analysis tables: {rep.events} species-event rows, {rep.deployments} deployments.")


def _export_species_folders(args: argparse.Namespace, paths: AppPaths) -> None:
    from ..pipeline.species_folders import CopyOptions, export_species_folders

    tty = sys.stderr.isatty()
    last = [0.0]

    def progress(done: int, total: int, rel: str) -> None:
        now = time.monotonic()
        if tty and (now - last[0] > 0.2 or done == total):
            last[0] = now
            print(f"\r{done}/{total} {rel[-60:]:<60}", end="", file=sys.stderr, flush=True)

    options = CopyOptions(link=args.link, annotated=args.annotated, blur=not args.no_blur,
                          blur_vehicles=args.blur_vehicles)
    try:
        rep = export_species_folders(Path(args.folder), Path(args.species_folders), options, paths=paths,
                                     detection_threshold=args.threshold,
                                     classification_threshold=args.classification_threshold, progress=progress)
    finally:
        clear_line(tty)
    for rel, why in rep.skipped:
        print(f"  left out {rel}: {why}", file=sys.stderr)
    folders = ", ".join(f"{k} {n}" for k, n in rep.per_folder.items()) or "none"
    how = f"{rep.copied} copied, {rep.linked} linked" + (
        f" ({rep.link_fallbacks} copied: no hard links to another drive)" if rep.link_fallbacks else "")
    extra = "".join([f", {rep.blurred} with people blurred" if rep.blurred else "",
                     f", {rep.annotated} annotated" if rep.annotated else ""])
    print(f"Species folders in {rep.out_dir}: {folders} ({how}{extra}).")
    if not options.blur:
        print("WARNING: --no-blur: people in these copies are not blurred.", file=sys.stderr)


def _export_camtrap_dp(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..formats.camtrap_dp import CamtrapOptions
    from ..pipeline.camtrap import export_camtrap_dp

    rep = export_camtrap_dp(
        Path(args.folder), Path(args.camtrap_dp), paths=paths, detection_threshold=args.threshold,
        classification_threshold=args.classification_threshold,
        options=CamtrapOptions(exclude_people=args.exclude_people, coordinate_decimals=args.coordinate_decimals))
    for w in rep.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    for p in rep.paths:
        print(p)
    left = f", {len(rep.excluded_media)} files with people left out" if args.exclude_people else ""
    print(f"Camtrap DP 1.0.2: {rep.media} media, {rep.observations} observations{left}.")
    if rep.validation is not None:
        if not rep.validation.valid:
            for e in rep.validation.errors:
                print(f"  invalid: {e}", file=sys.stderr)
            raise WildlifeError(f"the package in {args.camtrap_dp} does not validate against Camtrap DP 1.0.2")
        print("Valid against the Camtrap DP 1.0.2 profile and table schemas (frictionless, offline).")
    return 0


def cmd_project(args: argparse.Namespace, paths: AppPaths) -> int:
    import json

    from ..formats.project import apply_settings, load_project, parse_pairs, save_project, to_dict
    from ..pipeline.camtrap import project_state_dir

    state_dir = project_state_dir(Path(args.folder), paths)
    project = load_project(state_dir)
    if args.action == "set":
        project = apply_settings(project, parse_pairs(args.settings))
        print(f"saved {save_project(state_dir, project)}")
    elif args.settings:
        raise WildlifeError("project show takes no settings; use: project set FOLDER key=value ...")
    print(json.dumps(to_dict(project), indent=1, ensure_ascii=False))
    return 0


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("scan", help="count the images and videos in a folder")
    s.add_argument("folder", help="folder of camera-trap images (searched with its subfolders)")
    s.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    s.set_defaults(func=cmd_scan)

    d = sub.add_parser("detect", help="run a detector (and classifier) on a folder; resumes where it stopped")
    d.add_argument("folder", help="folder of camera-trap images")
    d.add_argument("--detector", help="installed detector id (see: models list); default: the default detector "
                                      "(models install recommended sets it; models default changes it)")
    d.add_argument("--classifier", help="installed classifier id")
    d.add_argument("--threshold", type=float, help="detection threshold for COCO/CSV (default: the model's)")
    d.add_argument("--classification-threshold", type=float,
                   help="species labels below this confidence are left out of the sidecars (default: the model's)")
    d.add_argument("--conf-floor", type=float, default=0.005, help="lowest confidence stored (default 0.005)")
    d.add_argument("--video-every", type=float, default=1.0, help="seconds between sampled video frames")
    d.add_argument("--video-fps", type=float, help="sampled video frames per second (overrides --video-every)")
    d.add_argument("--video-max-frames", type=int, default=120, help="most frames sampled per video (default 120)")
    d.add_argument("--threads", type=int, help="inference threads (default: cores - 1)")
    d.add_argument("--decode-workers", type=int, default=1,
                   help="processes decoding images beside inference (default 1)")
    d.add_argument("--checkpoint", type=float, default=60.0, help="seconds between sidecar rewrites")
    d.add_argument("--ray", metavar="ADDRESS",
                   help="predict on a Ray cluster (pip install 'wildlife-desktop[cluster]'): its address, or "
                        "'auto' for a private one on this machine (127.0.0.1); see docs/scaling.md")
    d.add_argument("--ray-send-bytes", action="store_true",
                   help="with --ray: send the files' bytes to the workers (when they cannot read this folder)")
    d.add_argument("--ray-workers", type=int, help="with --ray: worker processes (default: one per cluster CPU)")
    d.add_argument("--json", action="store_true", help="JSON-lines events on stdout")
    d.set_defaults(func=cmd_detect)

    i = sub.add_parser("import-results", help="import a MegaDetector (or Pytorch-Wildlife) results file")
    i.add_argument("folder", help="the image folder the results file describes")
    i.add_argument("results", help="results JSON (MegaDetector batch output format)")
    i.add_argument("--json", action="store_true", help="JSON-lines events on stdout")
    i.set_defaults(func=cmd_import_results)

    e = sub.add_parser("export", help="re-write the sidecars (recognitions.json, COCO, CSV)")
    e.add_argument("folder", help="folder with results (from detect or import-results)")
    e.add_argument("--threshold", type=float,
                   help="detections below this confidence are left out of COCO/CSV (default: the model's)")
    e.add_argument("--classification-threshold", type=float,
                   help="species labels below this confidence are left out (default: the model's)")
    e.add_argument("--out", help="write into this folder instead")
    e.add_argument("--coco-boxed-only", action="store_true",
                   help="also write coco_cameratraps_boxed.json: boxes only, no image-level labels (for COCOeval)")
    e.add_argument("--camtrap-dp", metavar="OUT",
                   help="write a Camtrap DP 1.0.2 package into OUT instead (needs the project's contributors, "
                        "time zone and coordinates: see 'project set'); validated offline when frictionless is "
                        "installed")
    e.add_argument("--exclude-people", action="store_true",
                   help="with --camtrap-dp: leave files with a person out of the package")
    e.add_argument("--coordinate-decimals", type=int, choices=range(-1, 7), metavar="N",
                   help="with --camtrap-dp: round coordinates to N decimals (default: the project's, 2 = ~1 km; "
                        "-1 keeps full precision)")
    e.add_argument("--tables", metavar="OUT",
                   help="write analysis tables into OUT: events.csv (one row per species per event, the most "
                        "individuals in any one frame) and deployments.csv (effort per camera location)")
    e.add_argument("--xlsx", action="store_true",
                   help="with --tables: also analysis_tables.xlsx, one table per sheet (needs the [xlsx] extra)")
    e.add_argument("--species-folders", metavar="OUT",
                   help="copy the images into OUT/species/<label>/, people/, vehicles/, empty/, failed/ by their "
                        "verified or top label (originals are never moved or changed); people are blurred")
    e.add_argument("--annotated", action="store_true",
                   help="with --species-folders: draw the boxes and labels into the copies")
    e.add_argument("--link", action="store_true",
                   help="with --species-folders: hard-link instead of copying (copies across drives); refused "
                        "when a file shows people, as a link cannot be blurred, unless --no-blur")
    e.add_argument("--no-blur", action="store_true",
                   help="with --species-folders: do not blur people in the copies (they are blurred by default)")
    e.add_argument("--blur-vehicles", action="store_true",
                   help="with --species-folders: blur vehicles too (number plates)")
    e.set_defaults(func=cmd_export)

    pr = sub.add_parser("project", help="show or set what a folder's exports need and the images cannot tell "
                                        "(title, contributors, licences, time zone, coordinates)")
    pr.add_argument("action", choices=("show", "set"), help="show the settings, or set some")
    pr.add_argument("folder", help="folder with results")
    pr.add_argument("settings", nargs="*", metavar="KEY=VALUE",
                    help="e.g. title='Kafue 2026' contributors='Ana Silva <ana@x.org> (contact)' timezone=+02:00 "
                         "data_licence=CC-BY-4.0 media_licence=CC-BY-NC-4.0 coordinate_decimals=2 "
                         "location.cam07.lat=-15.41 location.cam07.lon=28.28 (an empty value clears a key)")
    pr.set_defaults(func=cmd_project)
