"""Headless command line over the same core the GUI uses.

Everything the window does can be done here: scan, detect (resumable), import results made
elsewhere, export sidecars, manage model packs. ``--json`` prints one JSON object per event.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .core.errors import WildlifeError
from .core.paths import AppPaths
from .core.progress import CancelToken, Progress

FAMILIES = ("yolov5", "yolov8", "yolov10", "rtdetr", "classifier")


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _emit(kind: str, payload: Any) -> None:
    print(json.dumps({"event": kind, **_jsonable(payload)}, ensure_ascii=False), flush=True)


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _progress_line(p: Progress, tty: bool) -> None:
    """A one-line progress bar (redrawn in place on a terminal, plain lines in a log)."""
    width = 30
    filled = int(width * p.fraction)
    rate = f"{p.rate:.2f} files/s" if p.rate else "-- files/s"
    text = f"  [{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total}  {rate}  ETA {_fmt_eta(p.eta_s)}"
    print(f"\r{text}" if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)


def _clear_line(tty: bool) -> None:
    if tty:
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def cmd_self_test(args: argparse.Namespace, paths: AppPaths) -> int:
    """Run the bundled tiny detector on the bundled image through the real pipeline, in a throw-away home.

    Checks that onnxruntime loads, that decoding and EXIF reading work, and that the sidecars
    are written and parse. Touches neither the user's model store nor their settings.
    """
    import csv
    import os
    import shutil
    import tempfile
    from importlib import resources

    from .core.paths import HOME_ENV
    from .pipeline.job import FileProcessed, JobConfig, JobFinished, run_job
    from .runtime.store import ModelStore

    t0 = time.perf_counter()
    checks: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str) -> bool:
        checks.append((name, bool(ok), detail))
        if not args.json:
            print(f"{'OK  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return bool(ok)

    old_home = os.environ.get(HOME_ENV)
    tmp = Path(tempfile.mkdtemp(prefix="wildlife-selftest-"))
    try:
        import onnxruntime as ort

        check("onnxruntime", "CPUExecutionProvider" in ort.get_available_providers(),
              f"{ort.__version__}, providers {', '.join(ort.get_available_providers())}")
        import cv2
        import PIL

        check("decoders", True, f"Pillow {PIL.__version__}, OpenCV {cv2.__version__}")
        with resources.as_file(resources.files("wildlife_desktop").joinpath("assets", "selftest")) as assets:
            images = tmp / "images"
            images.mkdir()
            for jpg in Path(assets).glob("*.jpg"):
                shutil.copy2(jpg, images / jpg.name)
            os.environ[HOME_ENV] = str(tmp / "home")
            st_paths = AppPaths.under(tmp / "home").ensure()
            store = ModelStore(st_paths)
            m = store.import_pack(Path(assets))
        store.open_detector(m.id, intra_threads=1)
        check("model", True, f"{m.id} loaded (sha256 {m.sha256[:12]}...)")
        preds, summary = [], None
        for ev in run_job(JobConfig(folder=images, detector_id=m.id, intra_threads=1), paths=st_paths):
            if isinstance(ev, FileProcessed):
                preds.append(ev.prediction)
            elif isinstance(ev, JobFinished):
                summary = ev.summary
        failures = [f"{p.rel_path}: {p.failure}" for p in preds if p.failure]
        if check("pipeline", len(preds) == 1 and not failures and summary is not None,
                 f"{len(preds)} image(s) processed" + (f"; failed {failures}" if failures else "")):
            p = preds[0]
            check("decode", bool(p.meta.width and p.meta.height), f"{p.meta.width}x{p.meta.height}")
            check("exif", p.meta.datetime == "2011-07-06 15:40:11",
                  f"DateTimeOriginal {p.meta.datetime}, camera {p.meta.make or ''} {p.meta.model or ''}".strip())
            animal = [d for d in p.detections if d.category == "1"]
            check("detections", len(animal) == 1 and 0.0 < animal[0].confidence < 1.0,
                  ", ".join(f"{d.category_name} {d.confidence:.3f}" for d in p.detections) or "none")
        if summary is not None:
            parsed = []
            for sc in summary.sidecars:
                with open(sc, encoding="utf-8", newline="") as fh:
                    rows = list(csv.reader(fh)) if sc.suffix == ".csv" else json.load(fh)
                if rows:
                    parsed.append(sc.name)
            check("sidecars", len(parsed) == len(summary.sidecars) >= 3, ", ".join(parsed) or "none written")
    except Exception as exc:  # a self-test reports every failure instead of crashing
        check("error", False, f"{type(exc).__name__}: {exc}")
    finally:
        if old_home is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = old_home
        shutil.rmtree(tmp, ignore_errors=True)
    ok = all(c[1] for c in checks)
    elapsed = round(time.perf_counter() - t0, 2)
    if args.json:
        _emit("self_test", {"ok": ok, "version": __version__, "seconds": elapsed,
                            "frozen": bool(getattr(sys, "frozen", False)),
                            "checks": [{"name": n, "ok": k, "detail": d} for n, k, d in checks]})
    else:
        print(f"self-test {'passed' if ok else 'FAILED'}: wildlife-desktop {__version__}, {elapsed} s")
    return 0 if ok else 1


def cmd_scan(args: argparse.Namespace, paths: AppPaths) -> int:
    from .pipeline.scan import scan_folder

    t0 = time.perf_counter()
    res = scan_folder(Path(args.folder))
    n_img = sum(f.kind == "image" for f in res.files)
    out = {"folder": str(args.folder), "images": n_img, "videos": len(res.files) - n_img,
           "skipped": [list(s) for s in res.skipped], "seconds": round(time.perf_counter() - t0, 3)}
    if args.json:
        _emit("scan", out)
    else:
        print(f"{n_img} images, {out['videos']} videos in {args.folder} ({out['seconds']} s)")
        for rel, why in res.skipped:
            print(f"  skipped {rel}: {why}")
    return 0


def cmd_detect(args: argparse.Namespace, paths: AppPaths) -> int:
    from .pipeline.job import (
        RANDOM_WEIGHTS_WARNING,
        FileProcessed,
        JobConfig,
        JobFinished,
        JobStarted,
        run_job,
    )
    from .pipeline.results import export_folder

    config = JobConfig(
        folder=Path(args.folder), detector_id=args.detector, classifier_id=args.classifier,
        conf_floor=args.conf_floor, detection_threshold=args.threshold,
        classification_threshold=args.classification_threshold,
        video_every_s=1.0 / args.video_fps if args.video_fps else args.video_every,
        video_max_frames=args.video_max_frames, intra_threads=args.threads, checkpoint_s=args.checkpoint,
        decode_workers=args.decode_workers,
    )
    cancel = CancelToken()
    last_print = 0.0
    tty = sys.stderr.isatty()
    counts = {"images": 0, "videos": 0}
    by_class: dict[str, int] = {}
    threshold = 0.2
    try:
        for ev in run_job(config, paths=paths, cancel=cancel):
            if isinstance(ev, JobStarted):
                threshold = ev.detection_threshold
            if args.json:
                if isinstance(ev, FileProcessed):
                    _emit("file", {"file": ev.prediction.rel_path, "failure": ev.prediction.failure,
                                   "detections": len(ev.prediction.detections), "done": ev.progress.done,
                                   "total": ev.progress.total})
                else:
                    _emit(type(ev).__name__, ev)
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
                    _clear_line(tty)
                    print(f"  failed: {p.rel_path}: {p.failure}", file=sys.stderr)
                now = time.monotonic()
                if now - last_print > (0.2 if tty else 5.0) or ev.progress.done == ev.progress.total:
                    last_print = now
                    _progress_line(ev.progress, tty)
            elif isinstance(ev, JobFinished):
                _clear_line(tty)
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
    from .pipeline.importer import import_results

    rep = import_results(Path(args.folder), Path(args.results), paths)
    out = {"imported": rep.imported, "missing": len(rep.missing), "unmatched": rep.unmatched,
           "layer_id": rep.results.layer_id, "output_dir": str(rep.results.output_dir)}
    if args.json:
        _emit("import", out)
    else:
        print(f"Imported results for {rep.imported} files (layer {rep.results.layer_id}); "
              f"{len(rep.missing)} listed files not found here; {rep.unmatched} files here without results.")
        print(f"Sidecars in {rep.results.output_dir}")
    return 0


def cmd_export(args: argparse.Namespace, paths: AppPaths) -> int:
    from .pipeline.results import export_folder

    written = export_folder(Path(args.folder), detection_threshold=args.threshold,
                            classification_threshold=args.classification_threshold, paths=paths,
                            out_dir=Path(args.out) if args.out else None)
    for p in written:
        print(p)
    return 0


def cmd_decisions(args: argparse.Namespace, paths: AppPaths) -> int:
    """``decisions export|import FOLDER FILE.csv``: exchange review decisions; import re-writes the sidecars."""
    from .core.errors import DatasetError
    from .formats.decisions import latest_decisions, load_decisions, merge_decisions, save_decisions
    from .formats.decisions_csv import read_decisions_csv, write_decisions_csv
    from .pipeline.journal import Workspace
    from .pipeline.results import export_folder

    ws = Workspace.locate(Path(args.folder), paths, create=False)
    if ws is None:
        raise DatasetError(f"No results for {args.folder}: run detection or import a results file first.")
    history = load_decisions(ws.state_dir)
    if args.decisions_cmd == "export":
        write_decisions_csv(Path(args.file), history)
        n = len(latest_decisions(history))
        if args.json:
            _emit("decisions", {"exported": n, "file": args.file})
        else:
            print(f"Wrote {n} decision(s) to {args.file}")
        return 0
    merged = merge_decisions(history, read_decisions_csv(Path(args.file), default_reviewer=args.reviewer or ""))
    save_decisions(ws.state_dir, merged.decisions)
    export_folder(Path(args.folder), paths=paths)
    conflicts = [{"file": c.kept.file, "detection_id": c.kept.detection_id,
                  "kept": [c.kept.decision, c.kept.label, c.kept.reviewer, c.kept.time],
                  "overruled": [c.overruled.decision, c.overruled.label, c.overruled.reviewer, c.overruled.time]}
                 for c in merged.conflicts]
    if args.json:
        _emit("decisions", {"imported": merged.added, "conflicts": conflicts})
        return 0
    print(f"Imported {merged.added} decision(s); {len(conflicts)} conflict(s); sidecars re-written.")
    for c in conflicts:
        print(f"conflict {c['file']} {c['detection_id'] or '(image)'}: kept {'/'.join(c['kept'])}, "
              f"overruled {'/'.join(c['overruled'])}")
    return 0


def cmd_models(args: argparse.Namespace, paths: AppPaths) -> int:
    from .runtime.store import ModelStore

    store = ModelStore(paths)
    if args.models_cmd == "list":
        from .runtime.bundled import install_bundled

        install_bundled(store)  # packs shipped with the app, registered read-only in place
        models = store.list()
        if args.json:
            _emit("models", {"models": models})
            return 0
        if not models:
            print("No models installed. Import a model pack with: wildlife-desktop models import PATH")
        for m in models:
            flag = "  [RANDOM WEIGHTS - benchmark only, not a detector]" if m.random_weights else ""
            print(f"{m.id:32s} {m.task:15s} {m.family:10s} v{m.version}  {m.licence}{flag}")
        return 0
    if args.models_cmd == "import":
        src = Path(args.path)
        if src.suffix.lower() == ".onnx":
            if not args.family:
                raise WildlifeError("Importing a bare .onnx needs --family and --labels.")
            labels = tuple(x.strip() for x in (args.labels or "").split(",") if x.strip())
            m = store.import_onnx(src, family=args.family, labels=labels, input_size=args.input_size,
                                  random_weights=args.random_weights, model_id=args.id)
        else:
            from .runtime.catalogue import pack_licence_gate

            licence, must_accept = pack_licence_gate(src)
            if licence:
                print(f"Licence: {licence}")
            if must_accept and not args.accept_licence:
                raise WildlifeError("This model's licence is not permissive (see LICENCE.txt in the pack); "
                                    "import it with --accept-licence once you accept its terms.")
            m = store.import_pack(src)
        print(f"Installed {m.id} ({m.task}, {m.family}, sha256 {m.sha256[:12]}…)")
        if m.random_weights:
            print("WARNING: this model has RANDOM WEIGHTS: benchmark only, not a detector.", file=sys.stderr)
        return 0
    if args.models_cmd == "verify":
        bad = 0
        for mid, ok, msg in store.verify():
            print(f"{'OK  ' if ok else 'FAIL'} {mid}: {msg}")
            bad += not ok
        return 1 if bad else 0
    if args.models_cmd == "build":
        import importlib  # dynamic on purpose: torch-using builder, never imported by the CLI itself

        return int(importlib.import_module("wildlife_desktop.training.packs.cli_build").run_build(args, paths))
    if args.models_cmd == "remove":
        store.remove(args.id)
        print(f"Removed {args.id}")
        return 0
    raise AssertionError(args.models_cmd)


def cmd_verify_reference(args: argparse.Namespace, paths: AppPaths) -> int:
    from .formats.md_batch import read_md_batch
    from .pipeline.reference import compare_to_reference, layer_or_run

    ours, ran = layer_or_run(Path(args.folder), paths, args.detector)
    rep = compare_to_reference(ours.predictions, read_md_batch(Path(args.reference)), iou=args.iou,
                               conf_threshold=args.threshold)
    if args.json:
        _emit("reference", {"layer_id": ours.layer_id, "ran": ran, "files": rep.files_compared,
                            "reference_boxes": rep.reference_boxes, "our_boxes": rep.our_boxes,
                            "matched": rep.matched, "precision": rep.precision, "recall": rep.recall,
                            "mean_conf_diff": rep.mean_conf_diff, "max_abs_conf_diff": rep.max_abs_conf_diff})
        return 0
    print(f"Our results: layer {ours.layer_id} ({ours.detector}){' - just run' if ran else ''}")
    if ours.random_weights:
        print("WARNING: random-weights model: this comparison says nothing about detection quality.",
              file=sys.stderr)
    print("\n".join(rep.summary_lines()))
    return 0


def cmd_benchmark(args: argparse.Namespace, paths: AppPaths) -> int:
    from .pipeline.benchmark import estimate

    res = estimate(Path(args.folder), args.detector, args.classifier, sample=args.sample, paths=paths,
                   decode_workers=args.decode_workers, intra_threads=args.threads)
    if args.json:
        _emit("benchmark", res)
        return 0
    print(f"{res.images_per_s:.2f} images/s on {res.sample} sample images of {args.folder}; "
          f"{res.n_images} images in the folder -> about {_fmt_eta(res.eta_s)}")
    if res.n_videos:
        print(f"  plus {res.n_videos} videos (not included in the estimate)")
    if res.random_weights:
        print("WARNING: random-weights model: the speed is real, its detections are not.", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wildlife-desktop", description=__doc__.splitlines()[0],
        epilog="Open the window with: wildlife-desktop [gui] [FOLDER] [--screenshot OUT.png] [--size WxH]")
    p.add_argument("--version", action="version", version=f"wildlife-desktop {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("scan", help="count the images and videos in a folder")
    s.add_argument("folder")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_scan)

    d = sub.add_parser("detect", help="run a detector (and classifier) on a folder; resumes where it stopped")
    d.add_argument("folder")
    d.add_argument("--detector", required=True, help="installed detector id (see: models list)")
    d.add_argument("--classifier", help="installed classifier id")
    d.add_argument("--threshold", type=float, help="detection threshold for COCO/CSV (default: the model's)")
    d.add_argument("--classification-threshold", type=float)
    d.add_argument("--conf-floor", type=float, default=0.005, help="lowest confidence stored (default 0.005)")
    d.add_argument("--video-every", type=float, default=1.0, help="seconds between sampled video frames")
    d.add_argument("--video-fps", type=float, help="sampled video frames per second (overrides --video-every)")
    d.add_argument("--video-max-frames", type=int, default=120)
    d.add_argument("--threads", type=int, help="inference threads (default: cores - 1)")
    d.add_argument("--decode-workers", type=int, default=1)
    d.add_argument("--checkpoint", type=float, default=60.0, help="seconds between sidecar rewrites")
    d.add_argument("--json", action="store_true", help="JSON-lines events on stdout")
    d.set_defaults(func=cmd_detect)

    i = sub.add_parser("import-results", help="import a MegaDetector (or Pytorch-Wildlife) results file")
    i.add_argument("folder")
    i.add_argument("results")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_import_results)

    e = sub.add_parser("export", help="re-write the sidecars (recognitions.json, COCO, CSV)")
    e.add_argument("folder")
    e.add_argument("--threshold", type=float)
    e.add_argument("--classification-threshold", type=float)
    e.add_argument("--out", help="write into this folder instead")
    e.set_defaults(func=cmd_export)

    r = sub.add_parser("decisions", help="export or import review decisions as CSV (reviews by several people merge)")
    rsub = r.add_subparsers(dest="decisions_cmd", required=True)
    for name in ("export", "import"):
        rc = rsub.add_parser(name)
        rc.add_argument("folder")
        rc.add_argument("file", help="CSV: file, detection_id, decision, label, reviewer, time")
        rc.add_argument("--json", action="store_true")
        if name == "import":
            rc.add_argument("--reviewer", help="reviewer name for rows that have none")
    r.set_defaults(func=cmd_decisions)

    st = sub.add_parser("self-test", help="check this installation: run a tiny bundled model on a bundled image")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_self_test)

    b = sub.add_parser("benchmark", help="time the pipeline on a sample of a folder: images/s and an ETA")
    b.add_argument("folder")
    b.add_argument("--detector", required=True, help="installed detector id (see: models list)")
    b.add_argument("--classifier", help="installed classifier id")
    b.add_argument("--sample", type=int, default=20, help="images timed (default 20)")
    b.add_argument("--threads", type=int, help="inference threads (default: cores - 1)")
    b.add_argument("--decode-workers", type=int, default=1)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_benchmark)

    m = sub.add_parser("models", help="list, import, verify or remove model packs")
    msub = m.add_subparsers(dest="models_cmd", required=True)
    ml = msub.add_parser("list")
    ml.add_argument("--json", action="store_true")
    mi = msub.add_parser("import", help="a model pack (folder or .zip) or a bare .onnx")
    mi.add_argument("path")
    mi.add_argument("--family", choices=FAMILIES)
    mi.add_argument("--labels", help="comma-separated labels in model output order")
    mi.add_argument("--input-size", type=int)
    mi.add_argument("--random-weights", action="store_true")
    mi.add_argument("--id")
    msub.add_parser("verify")
    mr = msub.add_parser("remove")
    mr.add_argument("id")
    mi.add_argument("--accept-licence", action="store_true", help="accept a non-permissive model licence")
    mb = msub.add_parser("build", help="convert official weights (file or catalogue id) into a pack; needs torch")
    mb.add_argument("source", help="downloaded official weights file, or a catalogue id (e.g. mdv5a)")
    mb.add_argument("--id", help="catalogue id, when the file name is not the official one")
    mb.add_argument("--images", help="folder of real images for the torch-vs-ONNX parity check")
    mb.add_argument("--max-images", type=int, default=6)
    mb.add_argument("--out", help="parent folder of the pack (default ./packs)")
    mb.add_argument("--cache", help="where downloaded weights are kept")
    mb.add_argument("--download", action="store_true", help="download from the official URL (needs internet)")
    mb.add_argument("--quantize", action="store_true", help="also write an int8 copy if the quantiser exists")
    mb.add_argument("--install", action="store_true", help="install the pack after building it")
    mb.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    vr = sub.add_parser("verify-reference", help="compare our detections box by box with an official results file")
    vr.add_argument("folder")
    vr.add_argument("reference", help="MegaDetector batch-output JSON made by the official pipeline")
    vr.add_argument("--detector", help="compare that detector's layer (run it first if the folder has none)")
    vr.add_argument("--iou", type=float, default=0.5)
    vr.add_argument("--threshold", type=float, default=0.2, help="confidence threshold on both sides")
    vr.add_argument("--json", action="store_true")
    vr.set_defaults(func=cmd_verify_reference)

    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("exifread").setLevel(logging.ERROR)  # "PNG file does not have exif data" is not news
    paths = AppPaths.default()
    from .runtime.bundled import ensure_bundled

    ensure_bundled(paths)  # model packs shipped inside the installer (no-op from source)
    try:
        return int(args.func(args, paths) or 0)
    except WildlifeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
