"""Evaluation before adoption: a candidate classifier against the production one, on the user's own crops.

Both installed packs run as *Run AI* runs them (the runtime :class:`Classifier`, full-resolution
crops) on the verified crops of the candidate's training folders that **neither model was
trained on**: each fine-tuned pack's ``training_report.json`` lists its training crops (site and
file), and those are left out, so with a split by site the comparison is on held-out sites.
Labels are the candidate's; a prediction outside them counts as ``(other)`` (always wrong).
Per-class precision/recall/F1, accuracy, macro-F1 and the confusion matrix of each model, with
seeded bootstrap intervals, and the paired interval of the difference (candidate - production).

**Too few untrained-on crops** (fewer than :data:`MIN_HELD_OUT`, e.g. a head refitted on every
crop, or one site only): the **pooled leave-one-site-out estimate** (:func:`pooled_comparison`)
instead, clearly labelled as an estimate. The base model's frozen features of every verified crop
are computed once; for each held-out site group (:func:`.search.folds_of`, at most
:data:`MAX_POOLED_FOLDS` folds) each model's *training recipe* (its saved configuration: learning
rate, weight decay, balancing, mirrored crops, head width) is refitted on the other sites, for
``max_epochs`` epochs as the search's cross-validation does, on the candidate's labels, and
predicts the held-out site; predictions are pooled and bootstrapped as above (paired). What is
compared is therefore the two recipes on the same crops, not the two shipped heads. A production
model without a recipe on the same base (not fine-tuned here, or from another base) keeps its own
fixed head: its predictions count only on the crops it was not trained on, and both models are
scored on those crops only.

The result is written to the candidate pack's ``evaluation.json`` and recorded in the registry
(:func:`runtime.stages.record_evaluation`), which ``models promote`` checks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...core.atomic import atomic_write_json
from ...core.errors import DatasetError, ModelLoadError
from ...core.paths import AppPaths
from ...pipeline.images import load_image
from ...runtime.stages import load_registry, production_of, record_evaluation, split_version
from ...runtime.store import ModelStore
from ..finetune.dataset import CropExample, collect_examples
from ..finetune.metrics import Metrics, compute_metrics
from ..finetune.registry import REPORT_NAME
from .bootstrap import N_BOOT, Interval, difference_intervals, metric_intervals, resample_indices

EVALUATION_NAME = "evaluation.json"
OTHER = "(other)"
#: Fewer untrained-on crops than this: the pooled leave-one-site-out estimate instead (when possible).
MIN_HELD_OUT = 5
#: Fewer than this: the held-out comparison says its intervals are wide and offers the pooled estimate.
FEW_HELD_OUT = 20
MAX_POOLED_FOLDS = 10
HELD_OUT = "held-out crops"
POOLED = "pooled leave-one-site-out estimate"


def crop_key(e: CropExample) -> str:
    """What a training report lists per training crop: its camera site and file."""
    return f"{e.site}|{e.rel_path}"


@dataclass(frozen=True)
class ModelScore:
    """One model on the evaluation crops."""

    model_id: str
    metrics: Metrics
    accuracy: Interval
    macro_f1: Interval
    per_class: tuple[dict[str, Interval], ...]  # per label (the metrics' order): precision, recall, f1


@dataclass(frozen=True)
class Comparison:
    """A candidate (and the production version, when there is one) on the same held-out crops."""

    candidate: ModelScore
    production: ModelScore | None
    labels: tuple[str, ...]
    n_crops: int
    sites: tuple[str, ...]  # the evaluation crops' camera sites
    excluded: int  # crops one of the models was trained on
    other_labels: int  # verified crops whose label the candidate does not have (not evaluated)
    skipped: tuple[str, ...]
    difference: dict[str, Interval] = field(default_factory=dict)  # candidate - production
    n_boot: int = N_BOOT
    seed: int = 0
    method: str = HELD_OUT  # or POOLED
    note: str = ""  # what exactly was compared (the pooled estimate says it)
    folds: int = 0  # POOLED: held-out site groups

    @property
    def is_estimate(self) -> bool:
        return self.method == POOLED

    def verdict(self) -> str:
        """One sentence: better, worse or not distinguishable on these crops (macro-F1 interval)."""
        if self.production is None:
            return "No production version to compare with."
        d = self.difference["macro_f1"]
        tail = " (an estimate: the recipes refitted per held-out site)" if self.is_estimate else ""
        if d.low > 0:
            return f"The candidate is better on these crops (macro-F1 {d.value:+.3f}, 95 % interval above 0){tail}."
        if d.high < 0:
            return f"The candidate is worse on these crops (macro-F1 {d.value:+.3f}, 95 % interval below 0){tail}."
        return (f"No clear difference on these {self.n_crops} crops (macro-F1 {d.value:+.3f}, 95 % interval "
                f"[{d.low:+.3f}, {d.high:+.3f}] includes 0){tail}.")

    def summary(self) -> dict[str, Any]:
        """The short form kept in the registry."""
        out: dict[str, Any] = {"method": self.method, "n_crops": self.n_crops,
                               "candidate_macro_f1": round(self.candidate.macro_f1.value, 4),
                               "candidate_accuracy": round(self.candidate.accuracy.value, 4)}
        if self.production is not None:
            out.update(production=self.production.model_id,
                       production_macro_f1=round(self.production.macro_f1.value, 4),
                       production_accuracy=round(self.production.accuracy.value, 4),
                       macro_f1_difference=[round(x, 4) for x in asdict(self.difference["macro_f1"]).values()])
        return out

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    def lines(self) -> list[str]:
        """The side-by-side table for the CLI."""
        p = self.production
        head = f"Evaluation on {self.n_crops} held-out crops ({len(self.sites)} site(s)); 95 % bootstrap intervals"
        if self.is_estimate:
            head = (f"ESTIMATE (pooled leave-one-site-out, {self.folds} folds) on {self.n_crops} crops "
                    f"({len(self.sites)} site(s)); 95 % bootstrap intervals")
        lines = [head, *([f"  {self.note}"] if self.note else [])]
        lines.append(f"  {'':14s}{self.candidate.model_id:>34s}" + (f"{p.model_id:>34s}" if p else ""))
        for what in ("accuracy", "macro_f1"):
            row = f"  {what:14s}{getattr(self.candidate, what).text():>34s}"
            lines.append(row + (f"{getattr(p, what).text():>34s}" if p else ""))
        width = max(12, *(len(lab) for lab in self.labels)) + 2
        lines.append(f"  {'label':{width}s}{'P':>7s}{'R':>7s}{'F1':>7s}" + ("   |" + f"{'P':>7s}{'R':>7s}{'F1':>7s}"
                                                                          if p else "") + f"{'support':>9s}")
        for i, lab in enumerate(self.labels):
            c = self.candidate.metrics.per_class[i]
            row = f"  {lab:{width}s}{c.precision:>7.2f}{c.recall:>7.2f}{c.f1:>7.2f}"
            if p:
                q = p.metrics.per_class[i]
                row += f"   |{q.precision:>7.2f}{q.recall:>7.2f}{q.f1:>7.2f}"
            lines.append(row + f"{c.support:>9d}")
        for score in (self.candidate, p):
            if score is None:
                continue
            lines.append(f"  Confusion of {score.model_id} (rows: verified, columns: predicted):")
            labs = score.metrics.labels
            col = max(6, *(len(x) + 1 for x in labs))
            lines.append("  " + " " * width + "".join(f"{x:>{col}s}" for x in labs))
            for lab, row_ in zip(labs, score.metrics.confusion, strict=True):
                if sum(row_):
                    lines.append(f"  {lab:{width}s}" + "".join(f"{v:>{col}d}" for v in row_))
        if p is not None:
            d = self.difference
            lines.append(f"  difference (candidate - production): accuracy {d['accuracy'].text('+.3f')}, "
                         f"macro-F1 {d['macro_f1'].text('+.3f')}")
        lines.append(f"  {self.verdict()}")
        if not self.is_estimate and self.n_crops < FEW_HELD_OUT:
            lines.append(f"  Only {self.n_crops} held-out crops: the intervals are wide. 'wildlife-desktop models "
                         f"evaluate {self.candidate.model_id} --pooled' gives the pooled leave-one-site-out estimate.")
        if self.excluded:
            lines.append(f"  {self.excluded} verified crops left out: a model was trained on them")
        return lines


def _report(store: ModelStore, model_id: str) -> dict[str, Any]:
    try:
        return dict(json.loads((store.root / model_id / REPORT_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _predict(store: ModelStore, model_id: str, examples: Sequence[CropExample], labels: Sequence[str],
             images: dict[Path, np.ndarray]) -> np.ndarray:
    """Class index (``len(labels)`` = other) of every crop, as Run AI's classifier labels it."""
    clf = store.open_classifier(model_id)
    index = {lab.strip().lower(): i for i, lab in enumerate(labels)}
    out = np.full(len(examples), len(labels), dtype=np.int64)
    for path in sorted({e.path for e in examples}):
        if path not in images:
            images[path] = load_image(path).array
        idx = [i for i, e in enumerate(examples) if e.path == path]
        got = clf.classify(images[path], [examples[i].bbox for i in idx], top_k=1)
        for i, top in zip(idx, got, strict=True):
            if top:
                out[i] = index.get(top[0].label.strip().lower(), len(labels))
    return out


def _score(model_id: str, y: np.ndarray, pred: np.ndarray, labels: tuple[str, ...], idx: np.ndarray) -> ModelScore:
    ci = metric_intervals(y, pred, len(labels), idx)
    per_class = ci["per_class"]
    assert isinstance(per_class, list) and isinstance(ci["accuracy"], Interval) and isinstance(ci["macro_f1"], Interval)
    return ModelScore(model_id, compute_metrics(y, pred, labels), ci["accuracy"], ci["macro_f1"], tuple(per_class))


def compare_models(
    candidate_id: str,
    production_id: str | None = None,
    *,
    paths: AppPaths | None = None,
    folders: Sequence[Path] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    record: bool = True,
    pooled: bool | None = None,
) -> Comparison:
    """Compare ``candidate_id`` with ``production_id`` (default: the production version of its name).

    Args:
        folders: where the verified crops are (default: the candidate's training folders).
        record: write ``evaluation.json`` into the candidate's pack and record it in the registry.
        pooled: True: the pooled leave-one-site-out estimate; False: only the held-out crops; None:
            the held-out crops, or the estimate when fewer than :data:`MIN_HELD_OUT` are left.

    Raises:
        DatasetError: no verified crops left that neither model was trained on (and no estimate possible).
        ModelLoadError: a model is missing or damaged.
    """
    paths = paths or AppPaths.default()
    store = ModelStore(paths)
    cand, _ = store.get(candidate_id)
    candidate_id = cand.id
    installed = [m.id for m in store.list()]
    sv = split_version(candidate_id)
    if production_id is None and sv is not None:
        production_id = production_of(store.root, installed, sv[0])
    if production_id == candidate_id:
        production_id = None
    if production_id is not None:
        prod, _ = store.get(production_id)
        if prod.task != "classification":
            raise ModelLoadError(f"Model '{production_id}' is a {prod.task} model, not a classifier.")
        production_id = prod.id
    report = _report(store, candidate_id)
    if folders is None:
        folders = [Path(f) for f in report.get("config", {}).get("folders", [])]
        if not folders:
            raise DatasetError(f"{candidate_id} has no training report naming its folders: give the folders.")
    trained = set(report.get("split", {}).get("train_crops", []))
    if production_id is not None:
        trained |= set(_report(store, production_id).get("split", {}).get("train_crops", []))
    labels = tuple(cand.labels)
    ds = collect_examples(folders, paths)
    known = {lab.lower() for lab in labels}
    ours = [e for e in ds.examples if e.label.lower() in known and not e.is_video]
    other_labels = sum(1 for e in ds.examples if e.label.lower() not in known)
    held = [e for e in ours if crop_key(e) not in trained]
    if pooled or (pooled is None and len(held) < MIN_HELD_OUT):
        why = ""
        try:
            comp = pooled_comparison(store, candidate_id, production_id, ours, labels, report, paths=paths,
                                     n_boot=n_boot, seed=seed)
        except DatasetError as exc:
            if pooled:
                raise
            why = f" (no pooled estimate either: {exc})"
        else:
            comp = replace(comp, other_labels=other_labels, skipped=ds.skipped)
            if record:
                _record(store, comp, production_id)
            return comp
        if not held:
            raise DatasetError(
                f"No verified crops left that {candidate_id}" + (f" and {production_id}" if production_id else "")
                + " were not trained on: verify crops from other camera sites (or folders) and evaluate again"
                + why + ".")
    if not held:
        raise DatasetError(
            f"No verified crops left that {candidate_id}" + (f" and {production_id}" if production_id else "")
            + " were not trained on: verify crops from other camera sites (or folders) and evaluate again.")
    lab_index = {lab.lower(): i for i, lab in enumerate(labels)}
    y = np.array([lab_index[e.label.lower()] for e in held], dtype=np.int64)
    images: dict[Path, np.ndarray] = {}
    pred_c = _predict(store, candidate_id, held, labels, images)
    pred_p = _predict(store, production_id, held, labels, images) if production_id else None
    used = labels + ((OTHER,) if (pred_c == len(labels)).any() or (pred_p is not None and (pred_p == len(labels)).any())
                     else ())
    idx = resample_indices(len(held), n_boot=n_boot, seed=seed)
    comp = Comparison(
        candidate=_score(candidate_id, y, pred_c, used, idx),
        production=_score(production_id, y, pred_p, used, idx) if production_id and pred_p is not None else None,
        labels=used,
        n_crops=len(held),
        sites=tuple(sorted({e.site for e in held})),
        excluded=len(ours) - len(held),
        other_labels=other_labels,
        skipped=ds.skipped,
        difference=difference_intervals(y, pred_c, pred_p, len(used), idx) if pred_p is not None else {},
        n_boot=n_boot,
        seed=seed,
    )
    if record:
        _record(store, comp, production_id)
    return comp


def _record(store: ModelStore, comp: Comparison, production_id: str | None) -> None:
    path = store.root / comp.candidate.model_id / EVALUATION_NAME
    atomic_write_json(path, comp.to_dict())
    record_evaluation(store.root, comp.candidate.model_id, production_id, comp.summary(), path)


def _recipe(report: dict[str, Any]) -> Any:
    """A fine-tuned pack's training configuration (FinetuneConfig), or None."""
    from .config import ConfigError, from_mapping

    values = report.get("config")
    if not isinstance(values, dict):
        return None
    try:
        return from_mapping(values)
    except ConfigError:
        return None


def _params(config: Any, d: int) -> dict[str, Any]:
    """A configuration as the search's trial parameters (:func:`.search.cv_predictions`)."""
    from ..finetune.head import BASE_LR

    return {"lr_factor": config.lr * np.sqrt(d) / BASE_LR if config.lr else 1.0, "l2": config.l2,
            "class_balance": config.class_balance, "flip_augment": config.flip_augment,
            "hidden_units": config.hidden_units}


def pooled_comparison(
    store: ModelStore,
    candidate_id: str,
    production_id: str | None,
    examples: Sequence[CropExample],
    labels: tuple[str, ...],
    report: dict[str, Any] | None = None,
    *,
    paths: AppPaths,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Comparison:
    """The pooled leave-one-site-out estimate (see the module docstring) on ``examples`` (the verified crops
    with the candidate's labels).

    Raises:
        DatasetError: the candidate has no saved recipe or its base is not installed; fewer than 2 site groups.
    """
    import tempfile

    from ..finetune.features import FeatureExtractor, extract_features, open_base
    from .search import cv_predictions, folds_of

    report = report if report is not None else _report(store, candidate_id)
    cand_cfg = _recipe(report)
    if cand_cfg is None:
        raise DatasetError(f"{candidate_id} has no saved training configuration to refit per site")
    base_id = report.get("base_model", {}).get("id") or cand_cfg.base_model_id
    if base_id not in {m.id for m in store.list()}:
        raise DatasetError(f"its base model {base_id} is not installed")
    prod_report = _report(store, production_id) if production_id else {}
    prod_cfg = _recipe(prod_report) if production_id else None
    if prod_cfg is not None and (prod_report.get("base_model", {}).get("id") or prod_cfg.base_model_id) != base_id:
        prod_cfg = None  # other features: its own fixed head instead
    examples = [e for e in examples if not e.is_video]
    flips = cand_cfg.flip_augment or (prod_cfg is not None and prod_cfg.flip_augment)
    base = open_base(store, base_id)
    with tempfile.TemporaryDirectory(prefix="wd-pooled-") as tmp:
        gen = extract_features(examples, FeatureExtractor(base, Path(tmp)),
                               flip=set(range(len(examples))) if flips else set())
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                fs = stop.value
                break
    ok = [i for i in range(len(examples)) if fs.ok[i]]
    ex = [examples[i] for i in ok]
    folds, by = folds_of(ex, seed=seed, max_folds=MAX_POOLED_FOLDS)
    if len(folds) < 2:
        raise DatasetError(f"the verified crops come from one {by} only: nothing to hold out")
    lab_index = {lab.lower(): i for i, lab in enumerate(labels)}
    y_all = np.array([lab_index[e.label.lower()] for e in ex], dtype=np.int64)
    features = fs.features[ok]
    flipped = {j: fs.flipped[i] for j, i in enumerate(ok) if i in fs.flipped}
    d = features.shape[1]
    scored, pred_c = cv_predictions(features, flipped, y_all, folds, len(labels), _params(cand_cfg, d),
                                    max_epochs=cand_cfg.max_epochs, seed=cand_cfg.seed)
    pred_p: np.ndarray | None = None
    if production_id is None:
        note = (f"What is compared: {candidate_id}'s training recipe refitted per held-out {by} on the frozen "
                f"features of {base_id}, not the shipped head.")
    elif prod_cfg is not None:
        scored_p, pred_p = cv_predictions(features, flipped, y_all, folds, len(labels), _params(prod_cfg, d),
                                          max_epochs=prod_cfg.max_epochs, seed=prod_cfg.seed)
        assert np.array_equal(scored, scored_p)
        note = (f"What is compared: the training recipes of {candidate_id} and {production_id} (their saved "
                f"settings), each refitted per held-out {by} on the frozen features of {base_id} with the "
                "candidate's labels; not the shipped heads.")
    else:
        trained_p = set(prod_report.get("split", {}).get("train_crops", []))
        keep = np.array([crop_key(ex[i]) not in trained_p for i in scored], dtype=bool)
        scored, pred_c = scored[keep], pred_c[keep]
        pred_p = _predict(store, production_id, [ex[i] for i in scored], labels, {})
        note = (f"What is compared: {candidate_id}'s training recipe refitted per held-out {by} on the frozen "
                f"features of {base_id}, against {production_id}'s own fixed head on the crops it was not "
                "trained on.")
    if not len(scored):
        raise DatasetError("no crop could be scored (each label occurs at one site only)")
    y = y_all[scored]
    used = labels + ((OTHER,) if pred_p is not None and (pred_p == len(labels)).any() else ())
    idx = resample_indices(len(y), n_boot=n_boot, seed=seed)
    return Comparison(
        candidate=_score(candidate_id, y, pred_c, used, idx),
        production=_score(production_id, y, pred_p, used, idx) if production_id and pred_p is not None else None,
        labels=used,
        n_crops=len(y),
        sites=tuple(sorted({ex[i].site for i in scored})),
        excluded=0,
        other_labels=0,
        skipped=(),
        difference=difference_intervals(y, pred_c, pred_p, len(used), idx) if pred_p is not None else {},
        n_boot=n_boot,
        seed=seed,
        method=POOLED,
        note=note,
        folds=len(folds),
    )


def evaluated_against(paths: AppPaths, candidate_id: str) -> str | None:
    """The production id the candidate's recorded evaluation compared it with (``None``: none recorded)."""
    ev = load_registry(ModelStore(paths).root).evaluations.get(candidate_id)
    return ev.get("against") if ev else None
