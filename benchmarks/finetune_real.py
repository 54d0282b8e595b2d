"""Fine-tuning on real MobileNetV2 ImageNet features of real labelled crops: the figures for the docs.

Run from the repository root (offline, about a minute on 2 cores)::

    python benchmarks/finetune_real.py            # every sample folder and the pooled set
    python benchmarks/finetune_real.py --json     # the last line is one JSON object

Everything runs in a temporary app folder (the user's models are never touched): MobileNetV2 is
installed from ``../shared/models/real``, each sample folder is copied and verified with the
labels in its file names (``tests/training/finetune/real_samples.py`` says where every label,
box and site comes from), and the app's own code computes the features and trains the head.

Per data set:

* **zero-shot**: the base model's top-1 ImageNet class is one of the classes our label maps to
  (only labels that map; ``IMAGENET`` in ``real_samples``), over all 1001 classes.
* **held-out groups**: every group (camera site, or file when the folder says no site) is held
  out once; the head (the app's ``train_head``, mirrored crops added), the nearest-centroid
  baseline and the majority label are trained on the other groups; predictions are pooled.
* **app run**: ``run_finetune`` as ``wildlife-desktop train`` runs it (one split, int8 gate,
  registered pack) for the sets with >= 2 labels of >= 3 crops.

These are tiny-sample figures (n is printed with each): they show that the pipeline works on
real features and how it compares with the baselines, not how well a model would do at scale.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MIN_PER_CLASS = 3


def _zero_shot(examples: list[Any], base_out: Any, base_labels: tuple[str, ...], imagenet: dict) -> dict[str, Any]:
    hits = n = 0
    for i, e in enumerate(examples):
        wanted = imagenet.get(e.label)
        if not wanted:
            continue
        n += 1
        top = base_labels[int(base_out[i].argmax())]
        hits += top.split(",")[0] in wanted or top in wanted
    mapped = sorted({e.label for e in examples if imagenet.get(e.label)})
    return {"n": n, "correct": hits, "accuracy": round(hits / n, 3) if n else None, "labels": mapped}


def _metrics(m: Any) -> dict[str, Any]:
    return {"accuracy": round(m.accuracy, 3), "macro_f1": round(m.macro_f1, 3), "n": m.n}


def evaluate(name: str, folders: list[Path], paths: Any, store: Any, work: Path, *, app_run: bool,
             label_note: str, min_per_class: int = MIN_PER_CLASS) -> dict[str, Any]:
    """Figures of one data set (see the module docstring)."""
    import numpy as np

    from tests.training.finetune.real_samples import IMAGENET, features_of, leave_one_site_out
    from wildlife_desktop.training.finetune import FinetuneConfig, FinetuneFinished, collect_examples, run_finetune
    from wildlife_desktop.training.finetune.features import open_base
    from wildlife_desktop.training.packs.mobilenet import MODEL_ID

    ds = collect_examples(folders, paths)
    examples = list(ds.examples)
    counts = Counter(e.label for e in examples)
    sites = {e.site for e in examples}
    by = "site" if len(sites) >= 2 else "file"
    out: dict[str, Any] = {"data": name, "labels_from": label_note, "n_crops": len(examples),
                           "per_label": dict(sorted(counts.items())), "sites": len(sites), "group": by}
    base = open_base(store, MODEL_ID)
    fs = features_of(examples, base, work)
    assert fs.base_logits is not None
    out["zero_shot"] = _zero_shot(examples, fs.base_logits, base.manifest.labels, IMAGENET)
    kept = [i for i, e in enumerate(examples) if counts[e.label] >= min_per_class]
    labels = sorted({examples[i].label for i in kept})
    out["trained_labels"] = labels
    out["min_per_class"] = min_per_class
    out["left_out"] = sorted(lab for lab in counts if counts[lab] < min_per_class)
    if len(labels) < 2:
        out["note"] = f"fewer than 2 labels with >= {min_per_class} crops: no head trained"
        return out
    sub = [examples[i] for i in kept]
    groups = [e.site if by == "site" else f"{e.folder}|{e.rel_path}" for e in sub]
    y = np.array([labels.index(e.label) for e in sub])
    flipped = {j: fs.flipped[i] for j, i in enumerate(kept) if i in fs.flipped}
    cv = leave_one_site_out(fs.features[kept], flipped, y, groups, labels)
    out["held_out_groups"] = {
        "by": by, "folds": cv.folds, "not_predicted_unseen_label": cv.unseen,
        "head": _metrics(cv.head), "nearest_centroid": _metrics(cv.centroid), "majority": _metrics(cv.majority),
        "chance_1_over_k": round(1 / len(labels), 3), "chance_stratified": round(cv.stratified_chance, 3),
    }
    if app_run:
        config = FinetuneConfig(folders=tuple(folders), base_model_id=MODEL_ID, name=f"bench {name}",
                                min_per_class=min_per_class)
        report = next(ev.report for ev in run_finetune(config, paths=paths) if isinstance(ev, FinetuneFinished))
        out["app_run"] = {
            "split_by": report.split_by, "n_train": report.n_train, "n_val": report.n_val,
            "head": _metrics(report.metrics),
            "nearest_centroid": _metrics(report.centroid_metrics) if report.centroid_metrics else None,
            "base": _metrics(report.base_metrics) if report.base_metrics else "labels not in ImageNet",
            "int8": report.quantized, "int8_note": report.quantize_note,
        }
    return out


def _print(r: dict[str, Any]) -> None:
    print(f"\n== {r['data']}: {r['n_crops']} crops, {len(r['per_label'])} labels, {r['sites']} site(s)")
    print(f"   labels: {r['labels_from']}")
    print("   per label: " + ", ".join(f"{k} {v}" for k, v in r["per_label"].items()))
    z = r["zero_shot"]
    if z["n"]:
        print(f"   base zero-shot (ImageNet top-1 in the label's classes): {z['correct']}/{z['n']} "
              f"({', '.join(z['labels'])})")
    else:
        print("   base zero-shot: no label maps to ImageNet classes")
    if "note" in r:
        print(f"   {r['note']}")
        return
    if r["left_out"]:
        print(f"   left out (< {r['min_per_class']} crops): {', '.join(r['left_out'])}")
    h = r["held_out_groups"]
    print(f"   held out by {h['by']} ({h['folds']} folds, n={h['head']['n']}"
          + (f", {h['not_predicted_unseen_label']} crops of a label seen only there not predicted" if
             h["not_predicted_unseen_label"] else "") + "):")
    for key, title in (("head", "new head"), ("nearest_centroid", "nearest centroid"), ("majority", "majority")):
        print(f"     {title:17s} accuracy {h[key]['accuracy']:.3f}  macro-F1 {h[key]['macro_f1']:.3f}")
    print(f"     chance: 1/k {h['chance_1_over_k']:.3f}, label frequencies {h['chance_stratified']:.3f}")
    a = r.get("app_run")
    if a:
        c = a["nearest_centroid"]
        print(f"   app run (split by {a['split_by']}, {a['n_train']} train / {a['n_val']} val): "
              f"head {a['head']['accuracy']:.3f} / F1 {a['head']['macro_f1']:.3f}; nearest centroid "
              f"{c['accuracy']:.3f} / {c['macro_f1']:.3f}; base: {a['base']}; int8: {a['int8_note']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="end with one JSON line of all figures")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wd-finetune-real-") as tmp:
        os.environ["WILDLIFE_DESKTOP_HOME"] = str(Path(tmp) / "home")
        from tests.training.finetune.real_samples import COARSE, DATASETS, verified_folder
        from wildlife_desktop.core.paths import AppPaths
        from wildlife_desktop.runtime.store import ModelStore
        from wildlife_desktop.training.packs.mobilenet import install_mobilenet

        paths = AppPaths.default().ensure()
        store = ModelStore(paths)
        install_mobilenet(store, REPO.parent / "shared" / "models" / "real", notify=lambda _s: None)
        results = []
        for name, ds in DATASETS.items():
            folder, _ = verified_folder(Path(tmp) / "species", paths, name)
            results.append(evaluate(name, [folder], paths, store, Path(tmp), app_run=True,
                                    label_note=f"species from file names; {ds.site_note}"))
            _print(results[-1])
            if name == "caltech_cct":  # more labels, fewer crops each: held out by file only
                results.append(evaluate(f"{name} (labels with >= 2 crops)", [folder], paths, store, Path(tmp),
                                        app_run=False, min_per_class=2,
                                        label_note=f"species from file names; {ds.site_note}"))
                _print(results[-1])
        pooled = [verified_folder(Path(tmp) / "pooled", paths, name, label_map=COARSE)[0] for name in DATASETS]
        results.append(evaluate("all four folders, coarse groups", pooled, paths, store, Path(tmp), app_run=True,
                                label_note="species from file names mapped to bird/carnivore/small mammal/ungulate/"
                                           "vehicle; every folder without site names is one site"))
        _print(results[-1])
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
