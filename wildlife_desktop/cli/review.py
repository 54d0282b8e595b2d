"""``review``: reviewing a season at scale, headless.

* ``review rde FOLDER``: repeat-detection clusters; ``--suppress ID`` / ``--restore ID``;
* ``review smooth FOLDER``: smoothing suggestions; ``--accept-all`` accepts them (logged as smoothing);
* ``review counts FOLDER``: individuals per event and label; ``--set FILE LABEL N`` edits a count;
* ``review time-offset FOLDER LOCATION +2h``, ``review deployment FOLDER LOCATION NAME``,
  ``review cameras FOLDER`` (serials per folder, swapped cards flagged);
* ``review audit FOLDER --per-camera N``: the empty-image audit (``--answer FILE=empty|animal``).

Every decision is appended through ``formats.decisions`` (reviewer, time) and the sidecars are
re-written after it, as ``decisions import`` does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.paths import AppPaths
from .output import emit

if TYPE_CHECKING:
    from ..formats.corrections import Corrections

AUDIT_FILE = "audit.json"


@dataclass(frozen=True)
class _Folder:
    res: Any  # pipeline.results.FolderResults
    state_dir: Path
    decisions: tuple[Any, ...]
    predictions: dict[str, Any]  # corrected capture times
    sequences: dict[str, Any]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _reviewer(args: argparse.Namespace) -> str:
    if getattr(args, "reviewer", None):
        return str(args.reviewer)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _load(folder: str, paths: AppPaths) -> _Folder:
    from ..core.errors import DatasetError
    from ..formats.corrections import load_corrections
    from ..formats.decisions import load_decisions
    from ..pipeline.journal import STATE_DIRNAME
    from ..pipeline.results import load_results
    from ..pipeline.sequences import assign_sequences, camera_location

    res = load_results(Path(folder), paths)
    if res is None:
        raise DatasetError(f"No results for {folder}: run detection or import a results file first.")
    state_dir = res.output_dir / STATE_DIRNAME
    preds = load_corrections(state_dir).apply(res.predictions, camera_location)
    seqs = assign_sequences((r, p.meta.datetime) for r, p in preds.items())
    return _Folder(res, state_dir, load_decisions(state_dir), preds, seqs)


def _append(f: _Folder, folder: str, records: Any, paths: AppPaths) -> None:
    from ..formats.decisions import DecisionLog
    from ..pipeline.results import export_folder

    if records:
        DecisionLog(f.state_dir).append(records)
        export_folder(Path(folder), paths=paths)


def cmd_rde(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..core.errors import DatasetError
    from ..review.rde import RdeOptions, find_repeat_clusters, restore_records, suppress_records

    if not 0 < args.iou <= 1 or args.min_count < 2:
        raise DatasetError("--iou must be in (0, 1] and --min-count at least 2.")
    f = _load(args.folder, paths)
    opts = RdeOptions(iou=args.iou, min_count=args.min_count, min_events=args.min_events,
                      min_confidence=args.min_confidence, max_box_area=args.max_box_area)
    clusters = find_repeat_clusters(f.predictions, f.sequences, f.decisions, opts)
    by_id = {c.cluster_id: c for c in clusters}
    wanted = [*(("suppress", c) for c in args.suppress or ()), *(("restore", c) for c in args.restore or ())]
    for _, cid in wanted:
        if cid not in by_id:
            raise DatasetError(f"No repeat-detection cluster {cid!r} in {args.folder} (list them without --suppress).")
    if wanted:
        records: list[Any] = []
        for what, cid in wanted:
            fn = suppress_records if what == "suppress" else restore_records
            records += fn(by_id[cid], f.decisions, reviewer=_reviewer(args), time=_now())
        _append(f, args.folder, records, paths)
        msg = {"changed_boxes": len(records), "clusters": [cid for _, cid in wanted]}
        if args.json:
            emit("rde", msg)
        else:
            print(f"{len(records)} box(es) changed in {len(wanted)} cluster(s); sidecars re-written.")
        return 0
    rows = [{"cluster_id": c.cluster_id, "location": c.location, "images": c.images, "events": c.events,
             "location_images": c.location_images, "boxes": len(c.boxes), "bbox": c.bbox.as_list(),
             "suppressed": c.suppressed, "labels": sorted({b.model_label for b in c.boxes}),
             "examples": [{"file": b.file, "bbox": b.bbox.as_list()} for b in c.examples]} for c in clusters]
    if args.json:
        emit("rde", {"clusters": rows})
        return 0
    print(f"{len(clusters)} repeat-detection cluster(s) (IoU >= {args.iou}, >= {args.min_count} images, "
          f">= {args.min_events} events)")
    for r in rows:
        state = "suppressed" if r["suppressed"] else "shown"
        box = ", ".join(f"{v:.3f}" for v in r["bbox"])
        print(f"{r['cluster_id']}  {r['location']}  {r['images']}/{r['location_images']} images, {r['events']} events, "
              f"box [{box}], {'/'.join(r['labels'])}, {state}; e.g. {r['examples'][0]['file']}")
    return 0


def cmd_smooth(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..review.smoothing import SmoothingOptions, accept_records, smoothing_suggestions

    f = _load(args.folder, paths)
    layer = f.res.layer
    opts = SmoothingOptions(detection_threshold=layer.typical_threshold,
                            classification_threshold=layer.typical_classification_threshold)
    sugg = smoothing_suggestions(f.predictions, f.sequences, f.decisions, opts)
    if args.accept_all:
        records = accept_records(sugg, reviewer=_reviewer(args), time=_now())
        _append(f, args.folder, records, paths)
    rows = [{"file": s.file, "detection_id": s.detection_id, "current": s.current, "confidence": s.confidence,
             "suggested": s.suggested, "support": s.support, "level": s.level, "group": s.group} for s in sugg]
    if args.json:
        emit("smoothing", {"suggestions": rows, "accepted": len(rows) if args.accept_all else 0})
        return 0
    for r in rows:
        print(f"{r['file']} {r['detection_id']}: {r['current']} ({r['confidence']:.2f}) -> {r['suggested']} "
              f"({r['support']} in the {r['level']})")
    print(f"{len(rows)} suggestion(s)" + ("; accepted, sidecars re-written." if args.accept_all and rows else "."))
    return 0


def cmd_counts(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..core.errors import DatasetError
    from ..review.counts import count_record, event_counts

    f = _load(args.folder, paths)
    if args.set:
        file, label, n = args.set
        if file not in f.predictions:
            raise DatasetError(f"{file!r} is not a file of {args.folder} with results.")
        if not n.isdigit():
            raise DatasetError(f"A count is a whole number, not {n!r}.")
        _append(f, args.folder, [count_record(file, label, int(n), reviewer=_reviewer(args), time=_now())], paths)
        f = _load(args.folder, paths)
    layer = f.res.layer
    rows = event_counts(f.predictions, f.sequences, f.decisions, detection_threshold=layer.typical_threshold,
                        classification_threshold=layer.typical_classification_threshold,
                        verified_only=args.verified_only)
    if args.json:
        emit("counts", {"events": rows})
        return 0
    for r in rows:
        flags = ("verified" if r.verified else "model") + (", edited" if r.edited else "")
        print(f"{r.seq_id}  {r.start or '-'}  {r.label}: {r.count} ({flags})")
    print(f"{len(rows)} event/label row(s).")
    return 0


def _state_dir(folder: str, paths: AppPaths) -> Path:
    from ..core.errors import DatasetError
    from ..pipeline.journal import Workspace

    ws = Workspace.locate(Path(folder), paths, create=False)
    if ws is None:
        raise DatasetError(f"No results for {folder}: run detection or import a results file first.")
    return ws.state_dir


def _known_location(folder: str, location: str, paths: AppPaths) -> None:
    from ..core.errors import DatasetError
    from ..pipeline.results import load_results
    from ..pipeline.sequences import camera_location

    res = load_results(Path(folder), paths)
    known = sorted({camera_location(r) for r in (res.predictions if res else {})})
    if location not in known:
        raise DatasetError(f"No camera location {location!r} in {folder}; it has: {', '.join(known) or 'none'}.")


def cmd_time_offset(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..formats.corrections import format_offset, parse_offset, set_time_offset
    from ..pipeline.results import export_folder

    seconds = parse_offset(args.offset)
    _known_location(args.folder, args.location, paths)
    c = set_time_offset(_state_dir(args.folder, paths), args.location, seconds, who=_reviewer(args))
    export_folder(Path(args.folder), paths=paths)
    _report_corrections(args, c, f"{args.location}: capture times shifted by {format_offset(seconds)}; "
                        "sidecars re-written.")
    return 0


def cmd_deployment(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..formats.corrections import set_deployment

    _known_location(args.folder, args.location, paths)
    c = set_deployment(_state_dir(args.folder, paths), args.location, args.name, who=_reviewer(args))
    _report_corrections(args, c, f"{args.location}: deployment {args.name.strip() or '(none)'}.")
    return 0


def _report_corrections(args: argparse.Namespace, c: Corrections, text: str) -> None:
    """The folder's corrections as one JSON object with ``--json``, else ``text``."""
    if args.json:
        emit("corrections", {"time_offsets": dict(c.time_offsets), "deployments": dict(c.deployments)})
    else:
        print(text)


def cmd_cameras(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..pipeline.cameras import camera_serials
    from ..pipeline.scan import scan_folder

    files = [f.rel_path for f in scan_folder(Path(args.folder)).files if f.kind == "image"]
    rep = camera_serials(Path(args.folder), files, per_location=args.per_location)
    if args.json:
        emit("cameras", {"locations": [{"location": loc.location, "files": loc.files, "read": loc.read,
                                        "serials": {s: len(v) for s, v in loc.serials.items()},
                                        "mixed": loc.mixed} for loc in rep.locations], "shared": rep.shared})
        return 0
    for loc in rep.locations:
        named = {s: len(v) for s, v in loc.serials.items() if s}
        text = ", ".join(f"{s} ({n})" for s, n in named.items()) or "no serial in EXIF"
        flag = "  SEVERAL CAMERAS: a swapped card?" if loc.mixed else ""
        print(f"{loc.location}: {text} [{loc.read} of {loc.files} files read]{flag}")
    for serial, locs in rep.shared.items():
        print(f"serial {serial} is in {len(locs)} folders: {', '.join(locs)} (one camera, moved or a swapped card?)")
    return 0


def cmd_audit(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..core.atomic import atomic_write_json
    from ..core.errors import DatasetError
    from ..formats.decisions import ReviewDecision
    from ..review.audit import audit_report, audit_sample

    f = _load(args.folder, paths)
    threshold = f.res.layer.typical_threshold if args.threshold is None else args.threshold
    locs = {r: s.location for r, s in f.sequences.items()}
    path = f.state_dir / AUDIT_FILE
    saved: dict[str, Any] = {}
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
    same = (saved.get("seed") == args.seed and saved.get("per_camera") == args.per_camera
            and saved.get("threshold") == threshold)
    sample = ({k: tuple(v) for k, v in saved["sample"].items()} if same and isinstance(saved.get("sample"), dict)
              else audit_sample(f.predictions, locs, threshold=threshold, per_camera=args.per_camera, seed=args.seed))
    if args.answer:
        in_sample = {r for files in sample.values() for r in files}
        records = []
        for item in args.answer:
            rel, _, what = item.rpartition("=")
            if what not in ("empty", "animal") or rel not in in_sample:
                raise DatasetError(f"--answer {item!r}: use FILE=empty or FILE=animal for a file of the audit sample.")
            records.append(ReviewDecision(rel, "", "empty" if what == "empty" else "missed", "", _reviewer(args),
                                          _now(), source="audit"))
        _append(f, args.folder, records, paths)
        f = _load(args.folder, paths)
    rep = audit_report(f.predictions, locs, sample, f.decisions, threshold=threshold, target_recall=args.recall,
                       seed=args.seed, per_camera=args.per_camera)
    atomic_write_json(path, {"format": "wildlife-desktop-audit", "version": 1, "seed": args.seed,
                             "per_camera": args.per_camera, "threshold": threshold,
                             "sample": {k: list(v) for k, v in sample.items()}, "report": rep.to_dict()})
    if args.json:
        emit("audit", {"sample": sample, "report": rep.to_dict()})
        return 0
    print(f"Empty-image audit at detection threshold {threshold:g}, seed {args.seed}, target recall {args.recall:g}")
    for cam in rep.cameras:
        if cam.miss_rate is None:
            est = "no answers yet"
        else:
            est = (f"missed {cam.missed}/{cam.answered} = {cam.miss_rate:.1%} (95% CI {cam.miss_rate_low:.1%}-"
                   f"{cam.miss_rate_high:.1%}), ~{cam.estimated_missed:.0f} images missed, recall ~"
                   f"{(cam.estimated_recall or 0):.1%}")
            if cam.suggested_threshold is not None:
                est += (f"; threshold {cam.suggested_threshold:g} meets the target "
                        f"(~{cam.extra_images_to_review:.0f} more images to review)")
        print(f"{cam.location}: {cam.empty_images} empty, {cam.detected_images} with detections; {est}")
        pending = [r for r in sample.get(cam.location, ())
                   if not any(d.file == r and not d.detection_id for d in f.decisions)]
        for rel in pending:
            print(f"  to confirm: {rel}")
    print(f"Answer with --answer FILE=empty|animal; report kept in {path}")
    return 0


def add_parsers(sub: Any) -> None:
    r = sub.add_parser("review", help="review a season: repeat detections, smoothing, counts, camera/time "
                       "corrections, empty-image audit")
    rsub = r.add_subparsers(dest="review_cmd", required=True)

    def cmd(name: str, help_: str, func: Any, *, reviewer: bool = True) -> argparse.ArgumentParser:
        p = rsub.add_parser(name, help=help_)
        p.add_argument("folder", help="folder with results")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        if reviewer:
            p.add_argument("--reviewer", help="name stored with the decisions (default: the login name)")
        p.set_defaults(func=func)
        return p

    p = cmd("rde", "list repeat-detection clusters (a rock, a branch); suppress or restore them", cmd_rde)
    p.add_argument("--min-count", type=int, default=5, help="images a box must recur in (default 5)")
    p.add_argument("--iou", type=float, default=0.85, help="IoU of the same place (default 0.85)")
    p.add_argument("--min-events", type=int, default=2, help="events it must recur in (default 2)")
    p.add_argument("--min-confidence", type=float, default=0.1, help="ignore boxes below (default 0.1)")
    p.add_argument("--max-box-area", type=float, default=0.2, help="ignore boxes larger than this (default 0.2)")
    p.add_argument("--suppress", action="append", metavar="CLUSTER_ID", help="reject all boxes of a cluster")
    p.add_argument("--restore", action="append", metavar="CLUSTER_ID", help="undo a suppression")
    p = cmd("smooth", "smoothing suggestions where the frames of an event disagree", cmd_smooth)
    p.add_argument("--accept-all", action="store_true", help="accept every suggestion (logged as smoothing)")
    p = cmd("counts", "individuals per event and label (most in one frame)", cmd_counts)
    p.add_argument("--verified-only", action="store_true", help="count only what a person verified")
    p.add_argument("--set", nargs=3, metavar=("FILE", "LABEL", "N"), help="a person's count of LABEL in FILE")
    p = cmd("time-offset", "shift the capture times of a camera location (wrong clock, time zone)", cmd_time_offset)
    p.add_argument("location", help="camera location, as listed by the app (e.g. site1/camA)")
    p.add_argument("offset", help="+2h, -30m, +1h30m, -1d, +01:00 or seconds; 0 removes it")
    p = cmd("deployment", "assign a camera location to a named deployment", cmd_deployment)
    p.add_argument("location", help="camera location")
    p.add_argument("name", help="deployment name ('' removes it)")
    p = cmd("cameras", "camera serial numbers per folder; swapped cards flagged", cmd_cameras, reviewer=False)
    p.add_argument("--per-location", type=int, default=40, help="files read per location (default 40)")
    p = cmd("audit", "empty-image audit: confirm a sample, miss rate, suggested threshold", cmd_audit)
    p.add_argument("--per-camera", type=int, default=20, help="images sampled per camera (default 20)")
    p.add_argument("--seed", type=int, default=0, help="sample seed (default 0)")
    p.add_argument("--recall", type=float, default=0.95, help="target recall (default 0.95)")
    p.add_argument("--threshold", type=float, help="detection threshold (default: the model's typical)")
    p.add_argument("--answer", action="append", metavar="FILE=empty|animal", help="record an answer")
