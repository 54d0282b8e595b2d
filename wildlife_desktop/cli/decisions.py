"""``decisions export|import``: move human review decisions between people as CSV.

``decisions thresholds``: the window's *Thresholds from review* on the command line.
``decisions compact``: superseded records out of ``decisions.jsonl`` (kept in ``decisions-history.jsonl``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.paths import AppPaths
from .output import emit


def cmd_decisions(args: argparse.Namespace, paths: AppPaths) -> int:
    """``decisions export|import FOLDER FILE.csv``: exchange review decisions; import re-writes the sidecars."""
    from ..core.errors import DatasetError
    from ..formats.decisions import latest_decisions, load_decisions
    from ..formats.decisions_csv import read_decisions_csv, write_decisions_csv
    from ..pipeline.journal import Workspace
    from ..pipeline.results import capture_boxes, export_folder

    ws = Workspace.locate(Path(args.folder), paths, create=False)
    if ws is None:
        raise DatasetError(f"No results for {args.folder}: run detection or import a results file first.")
    history = load_decisions(ws.state_dir)
    if args.decisions_cmd == "compact":
        return _compact(ws.state_dir, json_out=args.json)
    if args.decisions_cmd == "thresholds":
        return _thresholds(history, args.target / 100.0, json_out=args.json)
    if args.decisions_cmd == "export":
        write_decisions_csv(Path(args.file), history)
        n = len(latest_decisions(history))
        if args.json:
            emit("decisions", {"exported": n, "file": args.file})
        else:
            print(f"Wrote {n} decision(s) to {args.file}")
        return 0
    incoming = read_decisions_csv(Path(args.file), default_reviewer=args.reviewer or "")
    incoming = capture_boxes(Path(args.folder), incoming, paths)  # six-column rows: the box they were made on
    _refuse_unknown(incoming, history, Path(args.folder), paths, Path(args.file).name)
    merged = _merge_locked(ws.state_dir, incoming)
    export_folder(Path(args.folder), paths=paths)
    conflicts = [{"file": c.kept.file, "detection_id": c.kept.detection_id,
                  "kept": [c.kept.decision, c.kept.label, c.kept.reviewer, c.kept.time],
                  "overruled": [c.overruled.decision, c.overruled.label, c.overruled.reviewer, c.overruled.time]}
                 for c in merged.conflicts]
    if args.json:
        emit("decisions", {"imported": merged.added, "conflicts": conflicts})
        return 0
    print(f"Imported {merged.added} decision(s); {len(conflicts)} conflict(s); sidecars re-written.")
    for c in conflicts:
        print(f"conflict {c['file']} {c['detection_id'] or '(image)'}: kept {'/'.join(c['kept'])}, "
              f"overruled {'/'.join(c['overruled'])}")
    return 0


def _refuse_unknown(incoming: Any, history: Any, folder: Path, paths: AppPaths, name: str) -> None:
    """Refuse decisions on files or detections the folder's results do not have.

    A decision on a detection id the active layer lacks is kept only when it carries its box, or
    the folder's own decisions know that id (both re-attach to the same animal found by another
    model); otherwise it could never apply.

    Raises:
        DatasetError: naming how many rows and the first of them.
    """
    from ..core.errors import DatasetError
    from ..formats.bundle import detection_id
    from ..pipeline.results import load_results

    res = load_results(folder, paths)
    preds = res.predictions if res is not None else {}
    known = {d.key for d in history}
    ids: dict[str, set[str]] = {}
    bad = []
    for d in incoming:
        pred = preds.get(d.file)
        if pred is None:
            bad.append(d)
        elif d.detection_id and d.bbox is None and d.key not in known:
            if d.file not in ids:
                ids[d.file] = {detection_id(d.file, det) for det in pred.detections}
            if d.detection_id not in ids[d.file]:
                bad.append(d)
    if bad:
        first = bad[0]
        raise DatasetError(
            f"{name}: {len(bad)} decision(s) name files or detections this folder's results do not have "
            f"(first: {first.file[:200]} {first.detection_id or '(image)'}); nothing was imported.")


def _merge_locked(state_dir: Path, incoming: Any) -> Any:
    """Merge ``incoming`` into the stored history and append only what it adds, under the folder lock.

    Another writer (a review window, a second import) appends too and never loses a record.
    """
    from ..formats.decisions import MergeResult, merge_decisions, update_decisions

    result: list[MergeResult] = []

    def change(history: Any) -> Any:
        result.append(merge_decisions(history, incoming))
        return result[-1].decisions[len(history):]

    update_decisions(state_dir, change)
    return result[-1]


def _compact(state_dir: Path, *, json_out: bool) -> int:
    """Move superseded decisions out of ``decisions.jsonl`` into ``decisions-history.jsonl``."""
    from ..formats.decisions import compact_decisions

    res = compact_decisions(state_dir, force=True)
    if json_out:
        emit("compact", {"records_before": res.before, "records_after": res.after,
                         "history_file": str(res.archive) if res.archive else None})
    elif res.compacted:
        print(f"Compacted the decisions: {res.before} record(s) -> {res.after} (the latest per detection); "
              f"the {res.before - res.after} superseded record(s) were appended to {res.archive}")
    else:
        print(f"Nothing to compact: all {res.before} decision record(s) are current.")
    return 0


def _thresholds(history: Any, target: float, *, json_out: bool) -> int:
    """Per class: the model's precision above each confidence, from the decisions, and the suggestion."""
    import math

    from ..review.calibration import DISPLAY_STEPS, precision_by_class, strictest_threshold, suggest_thresholds

    # A NaN or infinite confidence (an old or hand-edited decisions file) would make a class's
    # support empty at its own threshold: such decisions say nothing about precision.
    history = [d for d in history if d.confidence is None or math.isfinite(d.confidence)]

    curves = precision_by_class(history, DISPLAY_STEPS)
    suggested = suggest_thresholds(history, target)
    overall = strictest_threshold(suggested)  # every class meets the target (the window's "Adopt")
    if json_out:
        emit("thresholds", {
            "target_precision": target, "suggested_accept": overall,
            "classes": {label: {"precision": {f"{p.threshold:.2f}": p.precision for p in pts},
                                "support": {f"{p.threshold:.2f}": p.support for p in pts},
                                "suggested": suggested[label].threshold} for label, pts in curves.items()}})
        return 0
    if not curves:
        print("No decisions with the model's confidence yet: review some crops (Verify, F2) first.")
        return 0
    print("Precision of the model above each confidence, from your decisions (accept = right, reject or "
          "another label = wrong). Reviews see mostly uncertain boxes: trust the columns near the threshold.")
    print("class".ljust(16) + "".join(f"≥{t * 100:.0f}%".rjust(11) for t in DISPLAY_STEPS) + "  suggested")
    for label, pts in curves.items():
        cells = "".join(("—" if p.precision is None else f"{p.precision * 100:.0f}% ({p.support})").rjust(11)
                        for p in pts)
        s = suggested[label].threshold
        print(label[:15].ljust(16) + cells + ("  not enough data" if s is None else f"  {s * 100:.0f}%"))
    if overall is None:
        print(f"No suggestion yet for {target * 100:.0f}% precision: decide more crops (5 per class or more).")
    else:
        print(f"Suggested accept threshold for {target * 100:.0f}% precision in every class: {overall * 100:.0f}%")
    return 0


def add_parsers(sub: Any) -> None:
    r = sub.add_parser("decisions", help="export or import review decisions as CSV (reviews by several people "
                       "merge); thresholds suggested from them")
    rsub = r.add_subparsers(dest="decisions_cmd", required=True)
    cp = rsub.add_parser("compact", help="move superseded decisions (earlier ones on the same detection, undone "
                         "ones) to decisions-history.jsonl; done by itself at export when they are most of the file")
    cp.add_argument("folder", help="folder with results and review decisions")
    cp.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    th = rsub.add_parser("thresholds", help="how precise the model was on your decisions; suggested accept threshold")
    th.add_argument("folder", help="folder with results and review decisions")
    th.add_argument("--target", type=float, default=95.0, help="target precision in %% (default 95)")
    th.add_argument("--json", action="store_true", help="print the table as one JSON object")
    for name in ("export", "import"):
        rc = rsub.add_parser(name, help=("write the folder's decisions to a CSV" if name == "export" else
                                         "add decisions from a CSV (another reviewer's export)"))
        rc.add_argument("folder", help="folder with results and review decisions")
        rc.add_argument("file", help="CSV: file, detection_id, decision, label, reviewer, time")
        rc.add_argument("--json", action="store_true", help="JSON-lines events on stdout")
        if name == "import":
            rc.add_argument("--reviewer", help="reviewer name for rows that have none")
    r.set_defaults(func=cmd_decisions)
