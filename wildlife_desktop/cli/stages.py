"""``models versions|promote|rollback|evaluate``: versions of fine-tuned classifiers and their stages.

Sub-commands of ``models`` (see :mod:`.models`); the registry itself is :mod:`runtime.stages`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.paths import AppPaths

COMMANDS = ("versions", "promote", "rollback", "evaluate")


def _installed(store: Any) -> list[str]:
    return [m.id for m in store.list()]


def _mirror(paths: AppPaths, name: str) -> None:
    """Copy the new stages to MLflow's registry when the [lab] extra is installed."""
    from ..training.lab import tracking

    if tracking.available() and tracking.mirror_stages(paths, name):
        print(f"Mirrored in MLflow's registry ({tracking.tracking_uri(paths)}).")


def run(args: argparse.Namespace, store: Any, paths: AppPaths) -> int:
    from ..runtime import stages

    installed = _installed(store)
    if args.models_cmd == "versions":
        names = [args.name] if args.name else stages.names(installed)
        if not names:
            print("No versioned models yet: fine-tune one with 'wildlife-desktop train'.")
        for name in names:
            vs = stages.versions(store.root, installed, name)
            used = stages.resolve(store.root, installed, name)
            print(f"{name}: Run AI uses {used or 'nothing (no version installed)'}")
            for v in vs:
                ev = f"  evaluated against {v.evaluated_against}" if v.evaluated_against else ""
                print(f"  v{v.version:<4d} {v.stage:11s} {v.model_id}{ev}")
        return 0
    if args.models_cmd == "promote":
        v = stages.promote(store.root, installed, args.id, force=args.force)
        print(f"{v.model_id} is now the production version of {v.name}: Run AI uses it when '{v.name}' is chosen.")
        _mirror(paths, v.name)
        return 0
    if args.models_cmd == "rollback":
        archived, restored = stages.rollback(store.root, installed, args.id)
        print(f"Rolled back: {restored} is the production version again ({archived} archived).")
        _mirror(paths, restored.rsplit("-v", 1)[0])
        return 0
    if args.models_cmd == "evaluate":
        from ..training.lab.evaluate import compare_models

        folders = [Path(f) for f in args.folders] or None
        comp = compare_models(args.id, args.against, paths=paths, folders=folders, seed=args.seed,
                              pooled=True if args.pooled else None)
        print("\n".join(comp.lines()))
        if comp.production is not None:
            print(f"Adopt it with: wildlife-desktop models promote {comp.candidate.model_id}", file=sys.stderr)
        return 0
    raise AssertionError(args.models_cmd)


def add_parsers(msub: Any) -> None:
    mv = msub.add_parser("versions", help="versions of fine-tuned classifiers, their stages, and which one Run AI uses")
    mv.add_argument("name", nargs="?", help="one model name (default: all)")
    mp = msub.add_parser("promote", help="make a version the production one (the previous one is archived)")
    mp.add_argument("id", metavar="ID[@VERSION]",
                    help="NAME (its newest candidate), NAME@N or NAME-vN")
    mp.add_argument("--force", action="store_true",
                    help="promote without an evaluation against the production version")
    mr = msub.add_parser("rollback", help="archive the production version and restore the one before it")
    mr.add_argument("id", metavar="ID", help="model name (or any of its versions)")
    me = msub.add_parser("evaluate", help="compare a candidate with the production version on held-out verified crops")
    me.add_argument("id", help="the candidate (NAME@N or NAME-vN)")
    me.add_argument("--against", help="compare with this classifier instead of the production version")
    me.add_argument("folders", nargs="*", metavar="FOLDER",
                    help="folders of verified crops (default: its training folders)")
    me.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default 0)")
    me.add_argument("--pooled", action="store_true",
                    help="the pooled leave-one-site-out estimate (each model's recipe refitted per held-out site) "
                    "even with enough untrained-on crops; it is used anyway when fewer than 5 are left")
