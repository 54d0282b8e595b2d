"""``decisions export|import``: move human review decisions between people as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.paths import AppPaths
from .output import emit


def cmd_decisions(args: argparse.Namespace, paths: AppPaths) -> int:
    """``decisions export|import FOLDER FILE.csv``: exchange review decisions; import re-writes the sidecars."""
    from ..core.errors import DatasetError
    from ..formats.decisions import latest_decisions, load_decisions, merge_decisions, save_decisions
    from ..formats.decisions_csv import read_decisions_csv, write_decisions_csv
    from ..pipeline.journal import Workspace
    from ..pipeline.results import export_folder

    ws = Workspace.locate(Path(args.folder), paths, create=False)
    if ws is None:
        raise DatasetError(f"No results for {args.folder}: run detection or import a results file first.")
    history = load_decisions(ws.state_dir)
    if args.decisions_cmd == "export":
        write_decisions_csv(Path(args.file), history)
        n = len(latest_decisions(history))
        if args.json:
            emit("decisions", {"exported": n, "file": args.file})
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
        emit("decisions", {"imported": merged.added, "conflicts": conflicts})
        return 0
    print(f"Imported {merged.added} decision(s); {len(conflicts)} conflict(s); sidecars re-written.")
    for c in conflicts:
        print(f"conflict {c['file']} {c['detection_id'] or '(image)'}: kept {'/'.join(c['kept'])}, "
              f"overruled {'/'.join(c['overruled'])}")
    return 0


def add_parsers(sub: Any) -> None:
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
