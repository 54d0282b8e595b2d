"""``train``: fine-tune a classifier on the crops people verified, and register it as a new model pack."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.paths import AppPaths
from ..core.progress import CancelToken
from .output import clear_line, emit


def _table(metrics: Any) -> list[str]:
    width = max(12, *(len(c.label) for c in metrics.per_class)) + 2
    lines = [f"  {'label':{width}s}{'precision':>10s}{'recall':>8s}{'F1':>7s}{'support':>9s}"]
    for c in metrics.per_class:
        lines.append(f"  {c.label:{width}s}{c.precision:>10.3f}{c.recall:>8.3f}{c.f1:>7.3f}{c.support:>9d}")
    return lines


def _confusion(metrics: Any) -> list[str]:
    labels = metrics.labels
    width = max(8, *(len(lab) for lab in labels)) + 2
    col = max(6, *(len(lab) + 1 for lab in labels))
    lines = [
        "  Confusion matrix (rows: true label, columns: predicted):",
        "  " + " " * width + "".join(f"{lab:>{col}s}" for lab in labels),
    ]
    for lab, row in zip(labels, metrics.confusion, strict=True):
        lines.append(f"  {lab:{width}s}" + "".join(f"{v:>{col}d}" for v in row))
    return lines


def _crop_progress(done: int, total: int, elapsed: float, tty: bool) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = f"{done / elapsed:.1f} crops/s" if elapsed > 0 and done else "-- crops/s"
    text = f"  features [{'#' * filled}{'.' * (width - filled)}] {done}/{total} crops  {rate}"
    print(f"\r{text}" if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace, paths: AppPaths) -> int:
    from ..runtime.store import ModelStore
    from ..training.finetune import (
        RANDOM_WEIGHTS_WARNING,
        FinetuneFinished,
        FinetuneProgress,
        FinetuneStarted,
        run_finetune,
    )
    from ..training.finetune.registry import default_base_id

    store = ModelStore(paths)
    base_id = args.base or _file_value(args, "base_model_id") or default_base_id(store)
    if base_id is None:
        print(
            "No fine-tuning base installed: install MobileNetV2 ImageNet with 'wildlife-desktop models install "
            "recommended', or name an installed classifier with --base (see: models list).",
            file=sys.stderr,
        )
        return 2
    config = _config(args, base_id)
    if config.base_model_id != base_id:
        base_id = config.base_model_id
    base, _ = store.get(base_id)
    if not args.json and args.base is None:
        print(f"Base model: {base.name} ({base.id}), the default fine-tuning base", file=sys.stderr)
    if base.random_weights and not args.json:
        print(f"WARNING: {RANDOM_WEIGHTS_WARNING}", file=sys.stderr)
    tty = sys.stderr.isatty()
    t0 = time.monotonic()
    last_print = 0.0
    registered = ""
    shown: set[str] = set()  # "not used" reasons already printed (the report repeats them)
    try:
        for ev in run_finetune(config, paths=paths, cancel=CancelToken()):
            if args.json:
                if isinstance(ev, FinetuneFinished):
                    registered = ev.report.model_id
                emit(type(ev).__name__, ev)
                continue
            if isinstance(ev, FinetuneStarted):
                counts = ", ".join(f"{lab} {n}" for lab, n in ev.counts)
                print(f"Verified crops: {counts} ({sum(n for _, n in ev.counts)} in all)")
                if ev.dropped:
                    print(f"Left out (fewer than {config.min_per_class} verified crops): {', '.join(ev.dropped)}")
                _print_skipped(ev.skipped, shown)
                print(
                    f"Training {len(ev.labels)} labels on {ev.n_examples} crops, split by {ev.split_by}: "
                    f"{ev.n_train} for training, {ev.n_val} for validation"
                )
            elif isinstance(ev, FinetuneProgress):
                now = time.monotonic()
                if ev.stage == "features":
                    if now - last_print > (0.2 if tty else 5.0) or ev.done == ev.total:
                        last_print = now
                        _crop_progress(ev.done, ev.total, now - t0, tty)
                    if ev.done == ev.total:
                        clear_line(tty)
                        print(f"Features of {ev.total} crops computed in {now - t0:.1f} s", file=sys.stderr)
                elif ev.stage == "training":
                    if ev.done == ev.total:
                        print(f"  training: {ev.message or 'done'}", file=sys.stderr)
                    elif now - last_print > (1.0 if tty else 10.0):
                        last_print = now
                        print(f"  training: epoch {ev.done}/{ev.total}, {ev.message}", file=sys.stderr)
                elif ev.stage == "search":
                    print(f"  search {ev.done}/{ev.total}: {ev.message}", file=sys.stderr)
                else:
                    print(f"  export {ev.done}/{ev.total}: {ev.message}", file=sys.stderr)
            elif isinstance(ev, FinetuneFinished):
                registered = ev.report.model_id
                _print_search(ev.report.search)
                _print_report(ev.report, shown)
                _print_final_fit(ev.report)
                if ev.report.random_weights:
                    print(f"WARNING: {RANDOM_WEIGHTS_WARNING}", file=sys.stderr)
                _print_adoption(ev.report, config, paths)
    except KeyboardInterrupt:
        if registered:
            print(f"Interrupted: {registered} was already registered.", file=sys.stderr)
        else:
            print("Interrupted: nothing was registered.", file=sys.stderr)
        return 130
    return 0


def _print_skipped(reasons: Sequence[str], shown: set[str]) -> None:
    """Each reason once (a count when a file has several boxes), none printed before."""
    counts = Counter(reasons)
    for why, n in counts.items():
        if why not in shown:
            shown.add(why)
            print(f"  not used: {why}" + (f" ({n} boxes)" if n > 1 else ""), file=sys.stderr)


def _print_report(r: Any, shown: set[str] | None = None) -> None:
    m = r.metrics
    print(f"Validation ({m.n} crops, split by {r.split_by}): new head vs nearest centroid vs base model")
    print(f"  new head:         accuracy {m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f}")
    c = r.centroid_metrics
    if c is not None:
        print(f"  nearest centroid: accuracy {c.accuracy:.3f}, macro-F1 {c.macro_f1:.3f} (same features, same crops)")
    if r.base_metrics is not None:
        b = r.base_metrics
        print(f"  base model:       accuracy {b.accuracy:.3f}, macro-F1 {b.macro_f1:.3f} ('{r.base_model_id}')")
    else:
        print(f"  base model:       no comparison ('{r.base_model_id}': its labels do not cover these labels)")
    for line in _table(m) + _confusion(m):
        print(line)
    _print_skipped(r.skipped, set() if shown is None else shown)
    print(f"int8: {'yes' if r.quantized else 'no'} ({r.quantize_note})")
    print(f"Registered {r.model_id} (version {r.version}, {len(r.labels)} labels) in {r.pack_dir}")
    print(f"Report: {r.report_path}")
    print(f"Use it with: wildlife-desktop detect FOLDER --detector ID --classifier {r.model_id}")


_FLAG_DEFAULTS = {"val_fraction": 0.2, "split": "auto", "min_per_class": 3, "max_epochs": 300, "seed": 0}


def _file_value(args: argparse.Namespace, key: str) -> Any:
    """A setting of the ``--config`` file, or ``None``."""
    if not args.config:
        return None
    from ..training.lab.config import read_values

    return read_values(Path(args.config)).get(key)


def _config(args: argparse.Namespace, base_id: str) -> Any:
    """The run's typed configuration: the flags' defaults < ``--config`` FILE < flags given < ``key=value`` words."""
    from ..training.lab.config import build_config, is_override

    overrides = [a for a in args.folders if is_override(a)]
    folders = [a for a in args.folders if not is_override(a)]
    given = {k: getattr(args, k) for k, default in _FLAG_DEFAULTS.items() if getattr(args, k) != default}
    if args.no_quantize:
        given["quantize"] = False
    if args.no_flip:
        given["flip_augment"] = False
    if args.search:
        given["search_trials"] = args.search
    if args.search_time:
        given["search_time_s"] = args.search_time
    if folders:
        given["folders"] = folders
    if args.name:
        given["name"] = args.name
    if args.base:
        given["base_model_id"] = args.base
    values: dict[str, Any] = {**_FLAG_DEFAULTS, "base_model_id": base_id}
    if args.config:
        from ..training.lab.config import read_values

        values.update(read_values(Path(args.config)))
    values.update(given)
    config = build_config(None, values, overrides)
    if not config.folders:
        from ..training.lab.config import ConfigError

        raise ConfigError("Name at least one FOLDER with review decisions (or give them in --config).")
    return config


def _print_search(search: dict[str, Any] | None) -> None:
    """The hyper-parameter search: every trial's settings and cross-validated macro-F1, the best one."""
    if not search:
        return
    print(f"Hyper-parameter search: {search['trials']} trials, objective {search['objective']} "
          f"({search['folds']} folds by {search['grouped_by']})")
    for t in search["all"]:
        p = t["params"]
        print(f"  trial {t['number'] + 1:>3d}: macro-F1 {t['value']:.3f}  lr x{p['lr_factor']:.2f}  l2 {p['l2']:.1e}  "
              f"balanced {'yes' if p['class_balance'] else 'no'}  mirrored crops {'yes' if p['flip_augment'] else 'no'}"
              f"  head {_head_text(p.get('hidden_units', 0))}" + ("  (default settings)" if t["number"] == 0 else ""))
    print(f"  best: trial {search['best_trial'] + 1} ({search['best_value']:.3f}; default settings "
          f"{search['default_value']:.3f}), trained and registered below")


def _head_text(hidden: int) -> str:
    return f"hidden {hidden}" if hidden else "linear"


def _print_final_fit(r: Any) -> None:
    """refit=all: what the shipped head saw and which figure to trust."""
    f = r.final_fit
    if not f:
        return
    print(f"Final head: refitted on all {f['n_crops']} verified crops ({f['epochs']} epochs); it saw every crop, "
          "so the validation figures above are those of the same settings trained on the training split.")
    print(f"  estimate of the final head: cross-validated macro-F1 {f['cv_macro_f1']:.3f} ({f['cv_folds']} folds by "
          f"{f['cv_grouped_by']}, {f['cv_source']})")


def _print_adoption(report: Any, config: Any, paths: AppPaths) -> None:
    """The stage the new version got and, for a candidate, its comparison with the production version."""
    if report.stage == "production":
        name = report.model_id.rsplit("-v", 1)[0]
        print(f"Stage: production (the first version of this name): Run AI uses it when '{name}' is chosen.")
        return
    print(f"Stage: {report.stage}; the production version stays {report.production_id} until you promote this one.")
    if report.production_id is None:
        return
    from ..core.errors import WildlifeError
    from ..training.lab.evaluate import compare_models

    try:
        comp = compare_models(report.model_id, report.production_id, paths=paths, folders=config.folders)
    except WildlifeError as exc:
        print(f"No comparison with {report.production_id}: {exc}")
        return
    for line in comp.lines():
        print(line)
    print(f"Adopt it with: wildlife-desktop models promote {report.model_id}")


def add_parsers(sub: Any) -> None:
    t = sub.add_parser("train", help="fine-tune a classifier on verified crops and register it as a new model")
    t.add_argument("folders", nargs="*", metavar="FOLDER",
                   help="folders with review decisions (accept/relabel); key=value words after them override "
                   "settings (e.g. l2=0.01 split=site lr=0.005 class_balance=false hidden_units=128 refit=all)")
    t.add_argument("--config", metavar="FILE", help="settings from a TOML/JSON file or a pack's training_report.json "
                   "(reproduces that run); flags and key=value words override it")
    t.add_argument(
        "--base",
        default=None,
        help="installed classifier to start from (see: models list); default: the stored fine-tuning base, "
        "else MobileNetV2 ImageNet when installed",
    )
    t.add_argument("--name", help="name of the new model; its id is <name>-v<N> (required unless in --config)")
    t.add_argument("--val-fraction", type=float, default=0.2, help="share of crops held out (default 0.2)")
    t.add_argument(
        "--split",
        choices=("auto", "site", "sequence"),
        default="auto",
        help="what stays together in train or validation (default auto: sites, else sequences)",
    )
    t.add_argument("--min-per-class", type=int, default=3, help="labels with fewer verified crops are left out")
    t.add_argument("--max-epochs", type=int, default=300, help="most training passes (default 300; stops early)")
    t.add_argument("--no-quantize", action="store_true", help="do not try an int8 copy")
    t.add_argument("--no-flip", action="store_true", help="no mirrored training crops")
    t.add_argument("--seed", type=int, default=0, help="random seed of the split and training (default 0)")
    t.add_argument("--search", type=int, default=0, metavar="N",
                   help="first search N settings with Optuna (learning rate, weight decay, class balancing, mirrored "
                   "crops, linear head or one hidden layer) by site-aware cross-validation, then refit the best on "
                   "all crops (refit=split keeps the validation crops out); needs the [lab] extra")
    t.add_argument("--search-time", type=float, default=0.0, metavar="SECONDS",
                   help="time budget of the search (it stops after the running trial)")
    t.add_argument("--json", action="store_true", help="JSON-lines events on stdout")
    t.set_defaults(func=cmd_train)
