"""``run_finetune``: verified crops -> frozen features -> numpy head -> ONNX -> versioned model pack.

A generator of small frozen events, like :func:`pipeline.job.run_job` (the CLI prints them, the
GUI's worker thread forwards them): :class:`FinetuneStarted` once the dataset and the split are
known, :class:`FinetuneProgress` per crop (``features``), per epoch (``training``) and per step
(``export``), then :class:`FinetuneFinished` with the :class:`FinetuneReport`. Cancellation is
cooperative (:class:`~wildlife_desktop.core.progress.CancelToken`, checked between crops and
epochs) and raises :class:`~wildlife_desktop.core.progress.Cancelled`; nothing is registered
before the last step, and temporary files are removed either way.

Stages: :func:`_prepare` (examples, split), :func:`_extract_features`, :func:`_train`, then
:func:`_export_and_register` (:func:`_export`, :func:`_evaluate`, and :mod:`.report` for the
pack's manifest and ``training_report.json``).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ... import __version__
from ...core.atomic import atomic_write_json
from ...core.errors import DatasetError, ModelPackError
from ...core.paths import AppPaths
from ...core.progress import CancelToken
from ...runtime.stages import production_of, register_version
from ...runtime.store import ModelStore, sha256_file
from .dataset import CropExample, collect_examples
from .export import MAX_CALIBRATION, Parity, check_parity, export_model, quantize_head_model
from .features import BaseModel, FeatureExtractor, FeatureSet, crops_to_tensor, extract_features, open_base
from .head import BASE_LR, Head, TrainStats, nearest_centroid, run_head, train_head
from .metrics import Metrics, compute_metrics
from .registry import installed_ids, next_version, register_pack, slug
from .report import RANDOM_WEIGHTS_WARNING, DataUsed, Evaluation, NewPack, TrainingRecord, build_manifest, build_report
from .splits import Split, split_examples

__all__ = [
    "PARITY_CROPS",
    "RANDOM_WEIGHTS_WARNING",
    "FinetuneConfig",
    "FinetuneEvent",
    "FinetuneFinished",
    "FinetuneProgress",
    "FinetuneReport",
    "FinetuneStarted",
    "base_label_columns",
    "run_finetune",
]

#: Validation crops run through the exported fp32 model for the parity check.
PARITY_CROPS = 8
#: Version of the training configuration's schema (saved in every report's ``config``; training.lab.config).
#: 2: ``hidden_units`` and ``refit`` (a version-1 file reads as a linear head fitted on the training split).
CONFIG_VERSION = 2
#: Most hidden units a head may have (a wider one only memorises a few hundred crops).
MAX_HIDDEN = 4096
#: Versions tried when other runs register the same name meanwhile.
REGISTER_ATTEMPTS = 5


@dataclass(frozen=True)
class FinetuneConfig:
    """What to fine-tune on, from which base, under which name (see ``docs``/the CLI help)."""

    folders: tuple[Path, ...]
    base_model_id: str  # an installed classification pack with a features output (or one we can expose)
    name: str  # display name; model id = f"{slug(name)}-v{N}", N = next free version
    val_fraction: float = 0.2
    split: Literal["auto", "site", "sequence"] = "auto"
    min_per_class: int = 3  # classes with fewer verified crops are left out (listed in the report)
    max_epochs: int = 300
    l2: float = 1e-3
    quantize: bool = True
    flip_augment: bool = True
    seed: int = 0
    lr: float | None = None  # Adam step; None = BASE_LR / sqrt(feature dimension)
    class_balance: bool = True  # weight crops n / (K * n_c) so a common species does not drown a rare one
    search_trials: int = 0  # > 0: an Optuna search (training.lab.search) picks lr, l2, balancing, flips first
    search_time_s: float = 0.0  # the search's time budget (0: none); it stops after the running trial
    hidden_units: int = 0  # 0: a linear head; else one hidden ReLU layer of this width (e.g. 64-256)
    # the shipped head: "split" = trained on the training split (early stopping on the validation crops);
    # "all" = refitted on every crop for max_epochs with the same settings (the held-out figures are then
    # those of the split-trained head, plus the cross-validated estimate); "auto" = "all" after a search
    refit: Literal["auto", "split", "all"] = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "folders", tuple(Path(f) for f in self.folders))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"config_version": CONFIG_VERSION}
        d.update({f.name: getattr(self, f.name) for f in fields(self)})
        d["folders"] = [str(f) for f in self.folders]
        return d


@dataclass(frozen=True)
class FinetuneStarted:
    n_examples: int
    n_train: int
    n_val: int
    labels: tuple[str, ...]
    split_by: str
    dropped: tuple[str, ...]
    counts: tuple[tuple[str, int], ...] = ()  # (label, verified crops) for every label, dropped ones included
    skipped: tuple[str, ...] = ()  # decisions not used, with the reason (files that fail to decode come later)


@dataclass(frozen=True)
class FinetuneProgress:
    stage: Literal["features", "search", "training", "export"]
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class FinetuneReport:
    model_id: str
    version: int
    name: str
    labels: tuple[str, ...]
    metrics: Metrics  # the registered model on the validation crops
    base_metrics: Metrics | None  # the base classifier on the same crops, when its labels cover them
    n_train: int
    n_val: int
    split_by: str
    quantized: bool
    quantize_note: str
    random_weights: bool  # inherited from the base pack (twins): the GUI/CLI must warn
    pack_dir: Path
    report_path: Path  # training_report.json (schema_version, config, split, metrics, timings)
    dropped: tuple[str, ...] = ()  # labels left out (fewer than min_per_class verified crops)
    skipped: tuple[str, ...] = ()  # decisions or files not used, with the reason
    base_model_id: str = ""
    centroid_metrics: Metrics | None = None  # baseline: nearest class centroid of the same features, same crops
    stage: str = "none"  # registry stage given on registration (runtime.stages): production or staging
    production_id: str | None = None  # the production version of the same name before this run, if any
    epoch_losses: tuple[float, ...] = ()  # validation loss per epoch
    search: dict[str, Any] | None = None  # the hyper-parameter search's summary (training.lab.search), if one ran
    final_fit: dict[str, Any] | None = None  # refit="all": the head was refitted on every crop (cv_macro_f1, note)


@dataclass(frozen=True)
class FinetuneFinished:
    report: FinetuneReport


FinetuneEvent = FinetuneStarted | FinetuneProgress | FinetuneFinished


def _label_key(label: str) -> str:
    return label.strip().lower()


def base_label_columns(base_labels: Sequence[str], labels: Sequence[str], n_logits: int) -> list[int] | None:
    """Columns of the base logits for ``labels`` (case-insensitive), or None when some are missing."""
    if n_logits != len(base_labels):
        return None
    index = {_label_key(b): i for i, b in enumerate(base_labels)}
    cols = [index.get(_label_key(lab)) for lab in labels]
    return None if any(c is None for c in cols) else [int(c) for c in cols if c is not None]


@dataclass(frozen=True)
class _Prepared:
    examples: list[CropExample]
    labels: tuple[str, ...]
    counts: dict[str, int]  # every label's verified crops, dropped ones included
    dropped: tuple[str, ...]
    skipped: tuple[str, ...]
    split: Split


def _prepare(config: FinetuneConfig, paths: AppPaths) -> _Prepared:
    if config.min_per_class < 1:
        raise DatasetError(f"min_per_class must be at least 1, got {config.min_per_class}.")
    if config.max_epochs < 1:
        raise DatasetError(f"max_epochs must be at least 1, got {config.max_epochs}.")
    if not 0 <= config.hidden_units <= MAX_HIDDEN:
        raise DatasetError(f"hidden_units must be 0 (a linear head) to {MAX_HIDDEN}, got {config.hidden_units}.")
    ds = collect_examples(config.folders, paths)
    counts = ds.counts()
    labels = tuple(lab for lab, n in counts.items() if n >= config.min_per_class)
    dropped = tuple(lab for lab in counts if lab not in labels)
    if len(labels) < 2:
        have = ", ".join(f"{lab} {n}" for lab, n in counts.items()) or "no verified crops"
        raise DatasetError(
            f"Fine-tuning needs at least 2 species with {config.min_per_class} or more verified crops each "
            f"(found: {have}). Verify more detections (accept or relabel) first."
        )
    examples = [e for e in ds.examples if e.label in labels]
    split = split_examples(examples, val_fraction=config.val_fraction, mode=config.split, seed=config.seed)
    _check_split(examples, split.train, split.val, labels, split.by)
    return _Prepared(examples, labels, counts, dropped, ds.skipped, split)


def _check_split(
    examples: Sequence[CropExample], train: Sequence[int], val: Sequence[int], labels: Sequence[str], by: str
) -> None:
    in_train = {examples[i].label for i in train}
    missing = [lab for lab in labels if lab not in in_train]
    if missing:
        raise DatasetError(
            f"The split by {by} leaves no training crops for: {', '.join(missing)}. Verify crops of "
            "these species from more sites or sequences, or raise the minimum per class."
        )
    if not val:
        raise DatasetError(
            f"No crops could be held out for validation: all verified crops come from one {by} "
            "per species. Verify crops from more sites or sequences."
        )


@dataclass(frozen=True)
class _Run:
    """What every stage of one fine-tune shares."""

    config: FinetuneConfig
    store: ModelStore
    base: BaseModel
    cancel: CancelToken
    work: Path  # the run's temporary folder
    timings: dict[str, float]  # seconds per finished stage ("dataset_s", "features_s", ...), in order
    t_start: float  # time.monotonic() when the run started
    losses: list[float] = field(default_factory=list)  # validation loss per epoch
    paths: AppPaths | None = None
    search: dict[str, Any] = field(default_factory=dict)  # the search's summary, when one ran


@dataclass(frozen=True, eq=False)
class _Trained:
    """The trained head and the data it saw: what the export and the report work from."""

    head: Head  # trained on the training split (early stopping on the validation crops)
    stats: TrainStats
    features: FeatureSet
    train: list[int]  # training crops that decoded (lists: they index numpy arrays)
    val: list[int]  # validation crops that decoded
    y: np.ndarray  # [N] class index of every example
    x_train: np.ndarray  # the training features the head saw (mirrored copies included)
    y_train: np.ndarray
    final: Head | None = None  # refit="all": the head refitted on every crop, which the pack ships
    final_fit: dict[str, Any] | None = None  # how (the report's "final_fit" section)

    @property
    def shipped(self) -> Head:
        return self.final if self.final is not None else self.head


@dataclass(frozen=True, eq=False)
class _Exported:
    """The ONNX file the pack ships and how it was checked."""

    path: Path  # int8 when kept, else fp32
    parity: Parity
    fp32_val_logits: np.ndarray  # the numpy head on the validation crops
    val_logits: np.ndarray  # the shipped model on the validation crops
    quantized: bool
    note: str
    quantization: dict[str, Any]  # the report's "quantization" section


def run_finetune(
    config: FinetuneConfig, *, paths: AppPaths | None = None, cancel: CancelToken | None = None
) -> Iterator[FinetuneEvent]:
    """Fine-tune a new head for ``config`` and register it (see the module docstring).

    Raises:
        DatasetError: fewer than 2 classes keep ``min_per_class`` crops, or the split leaves a class
            without training data (or nothing for validation).
        ModelLoadError: the base model is missing, damaged, not a classifier, or has no features.
        Cancelled: ``cancel`` was set; nothing was registered.
    """
    paths = paths or AppPaths.default()
    cancel = cancel or CancelToken()
    if config.refit == "auto":  # saved resolved: rerunning the saved configuration reproduces the head
        config = replace(config, refit="all" if config.search_trials > 0 else "split")
    timings: dict[str, float] = {}
    t_start = t0 = time.monotonic()
    store = ModelStore(paths)
    if config.search_trials > 0:
        from ..lab import search as lab_search

        if not lab_search.available():
            raise DatasetError(lab_search.unavailable_reason())
    base = open_base(store, config.base_model_id)
    prep = _prepare(config, paths)
    split = prep.split
    timings["dataset_s"] = time.monotonic() - t0
    yield FinetuneStarted(
        len(prep.examples),
        len(split.train),
        len(split.val),
        prep.labels,
        split.by,
        prep.dropped,
        tuple(prep.counts.items()),
        prep.skipped,
    )

    with tempfile.TemporaryDirectory(prefix="wd-finetune-") as tmp:
        run = _Run(config, store, base, cancel, Path(tmp), timings, t_start, paths=paths)
        fs = yield from _extract_features(run, prep)
        if config.search_trials > 0:
            best = yield from _search(run, prep, fs)
            run = replace(run, config=best)
        trained = yield from _train(run, prep, fs)
        yield from _export_and_register(run, prep, trained)


def _extract_features(run: _Run, prep: _Prepared) -> Generator[FinetuneEvent, None, FeatureSet]:
    """Base-model features of every example (and of the flipped training crops); keeps the crops export needs."""
    config, split = run.config, prep.split
    t0 = time.monotonic()
    extractor = FeatureExtractor(run.base, run.work)
    calib = set(split.train[:: max(1, len(split.train) // MAX_CALIBRATION)][:MAX_CALIBRATION])
    gen = extract_features(
        prep.examples,
        extractor,
        flip=set(range(len(prep.examples)))
        if config.search_trials > 0 or (config.refit == "all" and config.flip_augment)
        else set(split.train) if config.flip_augment else set(),
        keep_crops=set(split.val) | (calib if config.quantize else set()),
    )
    try:
        while True:
            run.cancel.checkpoint()
            try:
                done = next(gen)
            except StopIteration as stop:
                fs: FeatureSet = stop.value
                break
            yield FinetuneProgress("features", done, len(prep.examples))
    finally:
        gen.close()
    del gen, extractor  # free the base model's session (hundreds of MB for a ResNet-50) before the export
    run.timings["features_s"] = time.monotonic() - t0
    return fs


def _train(run: _Run, prep: _Prepared, fs: FeatureSet) -> Generator[FinetuneEvent, None, _Trained]:
    """Train the head on the crops that decoded (flipped copies added), early-stopping on the validation ones."""
    config, examples, labels, split = run.config, prep.examples, prep.labels, prep.split
    assert fs.ok is not None
    ok = fs.ok
    train = [i for i in split.train if ok[i]]
    val = [i for i in split.val if ok[i]]
    _check_split(examples, train, val, labels, split.by)
    index = {lab: k for k, lab in enumerate(labels)}
    y = np.array([index[e.label] for e in examples], dtype=np.int64)
    flipped = [i for i in train if i in fs.flipped] if config.flip_augment else []
    x_train = np.concatenate(
        [fs.features[train], np.array([fs.flipped[i] for i in flipped]).reshape(len(flipped), fs.features.shape[1])]
    )
    y_train = np.concatenate([y[train], y[flipped]])
    x_val, y_val = fs.features[val], y[val]

    t0 = time.monotonic()
    trainer = train_head(x_train, y_train, x_val, y_val, len(labels), l2=config.l2, max_epochs=config.max_epochs,
                         lr=config.lr, balanced=config.class_balance, hidden=config.hidden_units, seed=config.seed)
    try:
        while True:
            run.cancel.checkpoint()
            try:
                epoch, val_loss = next(trainer)
            except StopIteration as stop:
                head, stats = stop.value
                break
            run.losses.append(float(val_loss))
            yield FinetuneProgress("training", epoch, config.max_epochs, f"validation loss {val_loss:.4f}")
    finally:
        trainer.close()
    if stats.stopped_early:
        yield FinetuneProgress(
            "training",
            config.max_epochs,
            config.max_epochs,
            f"stopped early at epoch {stats.epochs} (no better validation loss since epoch "
            f"{stats.best_epoch}, whose weights are kept)",
        )
    run.timings["training_s"] = time.monotonic() - t0
    trained = _Trained(head, stats, fs, train, val, y, x_train, y_train)
    if config.refit == "all":
        trained = yield from _refit_all(run, prep, trained)
    return trained


def _refit_all(run: _Run, prep: _Prepared, trained: _Trained) -> Generator[FinetuneEvent, None, _Trained]:
    """refit="all": the same settings on every crop that decoded (mirrored copies added), ``max_epochs`` epochs
    without validation, as the cross-validation of :mod:`..lab.search` trains each fold's head; its pooled
    held-out macro-F1 (the search's best value, else computed here) is the estimate of this head."""
    from ..lab.search import cv_score, folds_of

    config, fs, y = run.config, trained.features, trained.y
    assert fs.ok is not None
    ok = [i for i in range(len(prep.examples)) if fs.ok[i]]
    flips = [i for i in ok if i in fs.flipped] if config.flip_augment else []
    d = fs.features.shape[1]
    x_all = np.concatenate([fs.features[ok], np.array([fs.flipped[i] for i in flips]).reshape(len(flips), d)])
    y_all = np.concatenate([y[ok], y[flips]])
    t0 = time.monotonic()
    yield FinetuneProgress("training", config.max_epochs, config.max_epochs,
                           f"refitting the head on all {len(ok)} crops with the same settings")
    run.cancel.checkpoint()
    final, final_stats = run_head(train_head(x_all, y_all, x_all[:0], y_all[:0], len(prep.labels), l2=config.l2,
                                             max_epochs=config.max_epochs, lr=config.lr,
                                             balanced=config.class_balance, hidden=config.hidden_units,
                                             seed=config.seed))
    if run.search:
        cv, folds, by = run.search["best_value"], run.search["folds"], run.search["grouped_by"]
        source = f"the best of {run.search['trials']} search trials, slightly optimistic as the best was chosen on it"
    else:
        run.cancel.checkpoint()
        fold_list, by = folds_of([prep.examples[i] for i in ok], seed=config.seed)
        flipped = {j: fs.flipped[i] for j, i in enumerate(ok) if i in fs.flipped}
        params = {"lr_factor": (config.lr * np.sqrt(d) / BASE_LR) if config.lr else 1.0, "l2": config.l2,
                  "class_balance": config.class_balance, "flip_augment": config.flip_augment,
                  "hidden_units": config.hidden_units}
        cv = cv_score(fs.features[ok], flipped, y[ok], fold_list, len(prep.labels), params,
                      max_epochs=config.max_epochs, seed=config.seed)
        folds, source = len(fold_list), "computed for these settings"
    run.timings["refit_s"] = time.monotonic() - t0
    info = {
        "on": "all",
        "n_crops": len(ok),
        "n_features": len(y_all),
        "epochs": final_stats.epochs,
        "train_loss": final_stats.train_loss,
        "cv_macro_f1": float(cv),
        "cv_folds": folds,
        "cv_grouped_by": by,
        "cv_source": source,
        "note": ("The shipped head was refitted on every verified crop (the validation crops included) with the "
                 "settings below; its performance figure is the cross-validated macro-F1 (whole "
                 f"{by}s held out). The validation metrics are those of the same settings trained on the training "
                 "split only, on the held-out validation crops."),
    }
    return replace(trained, final=final, final_fit=info)


def _search(run: _Run, prep: _Prepared, fs: FeatureSet) -> Generator[FinetuneEvent, None, FinetuneConfig]:
    """Optuna over site-aware cross-validation of the features (training.lab.search); the best settings,
    as the configuration the head is then trained with (``search_trials`` 0: rerunning it reproduces the head)."""
    from ..lab import search as lab_search
    from ..lab.tracking import log_search

    config = run.config
    assert fs.ok is not None
    ok = [i for i in range(len(prep.examples)) if fs.ok[i]]
    index = {lab: k for k, lab in enumerate(prep.labels)}
    y = np.array([index[prep.examples[i].label] for i in ok], dtype=np.int64)
    flipped = {j: fs.flipped[i] for j, i in enumerate(ok) if i in fs.flipped}
    n = config.search_trials
    steps = lab_search.search(fs.features[ok], flipped, y, [prep.examples[i] for i in ok], len(prep.labels),
                              n_trials=n, timeout_s=config.search_time_s or None, max_epochs=config.max_epochs,
                              seed=config.seed)
    t0 = time.monotonic()
    try:
        while True:
            run.cancel.checkpoint()
            try:
                trial = next(steps)
            except StopIteration as stop:
                result: lab_search.SearchResult = stop.value
                break
            yield FinetuneProgress("search", trial.number + 1, n, f"trial {trial.number + 1}: cross-validated "
                                   f"macro-F1 {trial.value:.3f}" + (" (the default settings)" if trial.number == 0
                                                                    else ""))
    finally:
        steps.close()
    run.timings["search_s"] = time.monotonic() - t0
    run.search.update(result.summary())
    if run.paths is not None:
        log_search(run.paths, config.name, [dict(number=t.number, params=t.params, value=t.value)
                                            for t in result.trials], result.best_settings)
    yield FinetuneProgress("search", n, n, f"best: trial {result.best.number + 1}, cross-validated macro-F1 "
                           f"{result.best.value:.3f} (default settings {result.default_value:.3f}, "
                           f"{result.folds} folds by {result.grouped_by})")
    return replace(config, search_trials=0, search_time_s=0.0, **result.best_settings)


def _export_and_register(run: _Run, prep: _Prepared, trained: _Trained) -> Iterator[FinetuneEvent]:
    """Export (and check, and maybe quantise) the model, evaluate it, register the pack, report."""
    config, base, fs = run.config, run.base, trained.features
    skipped = prep.skipped + tuple(fs.skipped)
    steps = 4 if config.quantize else 3
    t0 = time.monotonic()
    run.cancel.checkpoint()
    base_slug = slug(config.name)
    exported = yield from _export(run, trained, prep.labels, base_slug, steps)
    run.timings["export_s"] = time.monotonic() - t0

    evaluation = _evaluate(base, prep.labels, trained, exported)

    run.cancel.checkpoint()
    data = DataUsed(
        examples=prep.examples,
        labels=prep.labels,
        counts=prep.counts,
        dropped=prep.dropped,
        skipped=skipped,
        split=prep.split,
        train=trained.train,
        val=trained.val,
        n_flipped=len([i for i in trained.train if i in fs.flipped]),
    )
    sha256 = sha256_file(exported.path)
    # The version is chosen at the last moment, and again when another run (GUI and CLI at once) took it.
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        version = next_version(base_slug, installed_ids(run.store))
        model_id = f"{base_slug}-v{version}"
        name = config.name.strip() or model_id
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        pack = NewPack(model_id, version, name, created, base.manifest)
        manifest = build_manifest(pack, data, evaluation, sha256)
        timings = {**run.timings, "total_s": time.monotonic() - run.t_start}
        record = TrainingRecord(config, base.tap.features, int(trained.head.n_features), trained.stats, timings)
        report_doc = build_report(pack, data, evaluation, record)
        if trained.final_fit is not None:
            _note_final_fit(report_doc, prep.examples, trained)
        report_doc["training"]["head"] = (f"one hidden layer of {config.hidden_units} ReLU units"
                                          if config.hidden_units else "linear")
        production_before = production_of(run.store.root, installed_ids(run.store), base_slug)
        try:
            report_path = register_pack(run.store, manifest, exported.path, report_doc, run.work)
            break
        except ModelPackError:
            if attempt == REGISTER_ATTEMPTS or model_id not in installed_ids(run.store):
                raise
    stage = register_version(run.store.root, installed_ids(run.store), model_id)
    atomic_write_json(run.store.root / model_id / "training_config.json", config.to_dict())  # training.lab.config
    if run.search:
        atomic_write_json(run.store.root / model_id / "search.json", run.search)
    yield FinetuneProgress("export", steps, steps, f"registered {model_id}")
    report = FinetuneReport(
        model_id=model_id,
        version=version,
        name=name,
        labels=prep.labels,
        metrics=evaluation.metrics,
        base_metrics=evaluation.base_metrics,
        n_train=len(trained.train),
        n_val=len(trained.val),
        split_by=prep.split.by,
        quantized=exported.quantized,
        quantize_note=exported.note,
        random_weights=base.manifest.random_weights,
        pack_dir=run.store.root / model_id,
        report_path=report_path,
        dropped=prep.dropped,
        skipped=skipped,
        base_model_id=base.manifest.id,
        centroid_metrics=evaluation.centroid_metrics,
        stage=stage,
        production_id=production_before,
        epoch_losses=tuple(run.losses),
        search=dict(run.search) or None,
        final_fit=trained.final_fit,
    )
    if run.paths is not None:
        from ..lab.tracking import log_finetune  # MLflow, when the [lab] extra is installed (else nothing)

        log_finetune(run.paths, report, config)
    yield FinetuneFinished(report)


def _note_final_fit(doc: dict[str, Any], examples: Sequence[CropExample], trained: _Trained) -> None:
    """refit="all" in the training report: the final fit, the metrics labelled, every crop as a training crop
    (evaluation before adoption must leave them all out)."""
    assert trained.final_fit is not None
    doc["final_fit"] = dict(trained.final_fit)
    doc["metrics_note"] = ("The same settings trained on the training split only, measured on the held-out "
                           "validation crops; the shipped head was then refitted on all crops (see final_fit).")
    crops = sorted({f"{examples[i].site}|{examples[i].rel_path}" for i in (*trained.train, *trained.val)})
    doc["split"]["train_crops"] = crops
    doc["split"]["shipped_head_trained_on"] = "all crops"


def _export(
    run: _Run, trained: _Trained, labels: tuple[str, ...], stem: str, steps: int
) -> Generator[FinetuneEvent, None, _Exported]:
    """ONNX export (step 1 of ``steps``), parity with the numpy head (2), int8 when requested (3)."""
    config, fs, head, train, val = run.config, trained.features, trained.shipped, trained.train, trained.val
    m = run.base.manifest
    fp32_path = run.work / f"{stem}.onnx"
    meta = {
        "finetuned_from": m.id,
        "finetuned_from_sha256": m.sha256,
        "labels": json.dumps(list(labels)),
        "producer": f"wildlife-desktop {__version__} fine-tuning",
    }
    export_model(run.base, head, fp32_path, meta)
    yield FinetuneProgress("export", 1, steps, "exported to ONNX")

    run.cancel.checkpoint()
    val_crops = np.stack([fs.crops[i] for i in val])  # uint8: normalised chunk by chunk when run

    def prepare(crops: np.ndarray) -> np.ndarray:
        return crops_to_tensor(crops, run.base.spec)

    parity = check_parity(fp32_path, prepare(val_crops[:PARITY_CROPS]), head, fs.features[val[:PARITY_CROPS]])
    yield FinetuneProgress(
        "export", 2, steps, f"parity with the numpy head: max logit difference {parity.max_abs_diff:.1e}"
    )
    fp32_val_logits = head.logits(fs.features[val])
    final_logits = fp32_val_logits
    final_path = fp32_path
    quantized, note = False, "not requested"
    quant_info: dict[str, Any] = {"requested": config.quantize}
    if config.quantize:
        run.cancel.checkpoint()
        in_train = set(train)
        cal_idx = sorted(i for i in fs.crops if i in in_train)
        calibration = (
            crops_to_tensor(np.stack([fs.crops[i] for i in cal_idx]), run.base.spec)
            if cal_idx
            else np.zeros((0,), np.float32)
        )
        int8_path = run.work / f"{stem}.int8.onnx"
        q = quantize_head_model(fp32_path, int8_path, calibration, val_crops, fp32_val_logits, prepare=prepare)
        quantized, note = q.kept, q.note
        quant_info.update(
            kept=q.kept,
            note=q.note,
            agreement=q.agreement,
            fp32_ms_per_crop=q.fp32_ms,
            int8_ms_per_crop=q.int8_ms,
            n_calibration=len(cal_idx),
        )
        if q.kept and q.int8_logits is not None:
            final_path = int8_path.replace(fp32_path)  # the pack ships the int8 model under the pack's file name
            final_logits = q.int8_logits
        yield FinetuneProgress("export", 3, steps, note)
    return _Exported(final_path, parity, fp32_val_logits, final_logits, quantized, note, quant_info)


def _evaluate(base: BaseModel, labels: tuple[str, ...], trained: _Trained, exported: _Exported) -> Evaluation:
    """Metrics on the validation crops: the shipped model, the fp32 head, the nearest-centroid baseline on
    the same features, and the base classifier when its labels cover these. With refit="all" the shipped
    head saw these crops: both figures are then the split-trained head's (same settings, held-out crops)."""
    fs, y_val = trained.features, trained.y[trained.val]
    if trained.final is not None:
        held_out = np.argmax(trained.head.logits(fs.features[trained.val]), axis=1)
        metrics = metrics_fp32 = compute_metrics(y_val, held_out, labels)
    else:
        metrics = compute_metrics(y_val, np.argmax(exported.val_logits, axis=1), labels)
        metrics_fp32 = compute_metrics(y_val, np.argmax(exported.fp32_val_logits, axis=1), labels)
    centroid = nearest_centroid(trained.x_train, trained.y_train, fs.features[trained.val], len(labels))
    centroid_metrics = compute_metrics(y_val, centroid, labels)
    base_metrics = None
    assert fs.base_logits is not None
    cols = base_label_columns(base.manifest.labels, labels, fs.base_logits.shape[1])
    if cols is not None:
        base_metrics = compute_metrics(y_val, np.argmax(fs.base_logits[trained.val][:, cols], axis=1), labels)
    return Evaluation(
        metrics=metrics,
        metrics_fp32=metrics_fp32,
        base_metrics=base_metrics,
        parity=exported.parity,
        quantized=exported.quantized,
        quantize_note=exported.note,
        quantization=exported.quantization,
        centroid_metrics=centroid_metrics,
    )
