"""``run_finetune``: verified crops -> frozen features -> numpy head -> ONNX -> versioned model pack.

A generator of small frozen events, like :func:`pipeline.job.run_job` (the CLI prints them, the
GUI's worker thread forwards them): :class:`FinetuneStarted` once the dataset and the split are
known, :class:`FinetuneProgress` per crop (``features``), per epoch (``training``) and per step
(``export``), then :class:`FinetuneFinished` with the :class:`FinetuneReport`. Cancellation is
cooperative (:class:`~wildlife_desktop.core.progress.CancelToken`, checked between crops and
epochs) and raises :class:`~wildlife_desktop.core.progress.Cancelled`; nothing is registered
before the last step, and temporary files are removed either way.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ... import __version__
from ...core.errors import DatasetError
from ...core.paths import AppPaths
from ...core.progress import CancelToken
from ...runtime.manifest import ModelManifest
from ...runtime.store import ModelStore, sha256_file
from .dataset import CropExample, collect_examples
from .export import MAX_CALIBRATION, check_parity, export_model, quantize_head_model
from .features import BaseModel, FeatureExtractor, FeatureSet, crops_to_tensor, extract_features, open_base
from .head import LinearHead, TrainStats, train_head
from .metrics import Metrics, compute_metrics
from .registry import REPORT_SCHEMA_VERSION, installed_ids, next_version, register_pack, slug
from .splits import Split, split_examples

RANDOM_WEIGHTS_WARNING = (
    "the base model has RANDOM WEIGHTS (an architecture twin): its features mean nothing, so the fine-tuned "
    "model classifies nothing either. Use it only to test the workflow."
)
#: Validation crops run through the exported fp32 model for the parity check.
PARITY_CROPS = 8


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "folders", tuple(Path(f) for f in self.folders))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
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
    stage: Literal["features", "training", "export"]
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


def _class_split_counts(examples: Sequence[CropExample], idx: Sequence[int], labels: Sequence[str]) -> dict[str, int]:
    out = dict.fromkeys(labels, 0)
    for i in idx:
        out[examples[i].label] += 1
    return out


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


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
    timings: dict[str, float] = {}
    t_start = t0 = time.monotonic()
    store = ModelStore(paths)
    base = open_base(store, config.base_model_id)
    prep = _prepare(config, paths)
    examples, labels, split = prep.examples, prep.labels, prep.split
    timings["dataset_s"] = time.monotonic() - t0
    yield FinetuneStarted(
        len(examples),
        len(split.train),
        len(split.val),
        labels,
        split.by,
        prep.dropped,
        tuple(prep.counts.items()),
        prep.skipped,
    )

    with tempfile.TemporaryDirectory(prefix="wd-finetune-") as tmp:
        work = Path(tmp)
        t0 = time.monotonic()
        extractor = FeatureExtractor(base, work)
        m = base.manifest
        calib = set(split.train[:: max(1, len(split.train) // MAX_CALIBRATION)][:MAX_CALIBRATION])
        gen = extract_features(
            examples,
            extractor,
            m.mean,
            m.std,
            flip=set(split.train) if config.flip_augment else set(),
            keep_crops=set(split.val) | (calib if config.quantize else set()),
        )
        try:
            while True:
                cancel.checkpoint()
                try:
                    done = next(gen)
                except StopIteration as stop:
                    fs = stop.value
                    break
                yield FinetuneProgress("features", done, len(examples))
        finally:
            gen.close()
        del gen, extractor  # free the base model's session (hundreds of MB for a ResNet-50) before the export
        timings["features_s"] = time.monotonic() - t0
        assert fs.ok is not None
        ok = fs.ok
        train = [i for i in split.train if ok[i]]
        val = [i for i in split.val if ok[i]]
        _check_split(examples, train, val, labels, split.by)
        index = {lab: k for k, lab in enumerate(labels)}
        y = np.array([index[e.label] for e in examples], dtype=np.int64)
        flipped = [i for i in train if i in fs.flipped]
        x_train = np.concatenate(
            [fs.features[train], np.array([fs.flipped[i] for i in flipped]).reshape(len(flipped), fs.features.shape[1])]
        )
        y_train = np.concatenate([y[train], y[flipped]])
        x_val, y_val = fs.features[val], y[val]

        t0 = time.monotonic()
        trainer = train_head(x_train, y_train, x_val, y_val, len(labels), l2=config.l2, max_epochs=config.max_epochs)
        try:
            while True:
                cancel.checkpoint()
                try:
                    epoch, val_loss = next(trainer)
                except StopIteration as stop:
                    head, stats = stop.value
                    break
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
        timings["training_s"] = time.monotonic() - t0

        yield from _export_and_register(
            config, store, base, prep, y, train, val, fs, head, stats, timings, t_start, cancel, work
        )


def _export_and_register(
    config: FinetuneConfig,
    store: ModelStore,
    base: BaseModel,
    prep: _Prepared,
    y: np.ndarray,
    train: list[int],
    val: list[int],
    fs: FeatureSet,
    head: LinearHead,
    stats: TrainStats,
    timings: dict[str, float],
    t_start: float,
    cancel: CancelToken,
    work: Path,
) -> Iterator[FinetuneEvent]:
    m = base.manifest
    examples, labels, split = prep.examples, prep.labels, prep.split
    skipped = prep.skipped + tuple(fs.skipped)
    steps = 4 if config.quantize else 3
    t0 = time.monotonic()
    cancel.checkpoint()
    base_slug = slug(config.name)
    version = next_version(base_slug, installed_ids(store))
    model_id = f"{base_slug}-v{version}"
    name = config.name.strip() or model_id
    fp32_path = work / f"{model_id}.onnx"
    meta = {
        "finetuned_from": m.id,
        "finetuned_from_sha256": m.sha256,
        "labels": json.dumps(list(labels)),
        "producer": f"wildlife-desktop {__version__} fine-tuning",
    }
    export_model(base, head, fp32_path, meta)
    yield FinetuneProgress("export", 1, steps, f"exported {model_id}")

    cancel.checkpoint()
    val_crops = np.stack([fs.crops[i] for i in val])  # uint8: normalised chunk by chunk when run

    def prepare(crops: np.ndarray) -> np.ndarray:
        return crops_to_tensor(crops, m.mean, m.std)

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
        cancel.checkpoint()
        cal_idx = sorted(i for i in fs.crops if i in set(train))
        calibration = (
            crops_to_tensor(np.stack([fs.crops[i] for i in cal_idx]), m.mean, m.std)
            if cal_idx
            else np.zeros((0,), np.float32)
        )
        int8_path = work / f"{model_id}.int8.onnx"
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
    timings["export_s"] = time.monotonic() - t0

    y_val = y[val]
    metrics = compute_metrics(y_val, np.argmax(final_logits, axis=1), labels)
    metrics_fp32 = compute_metrics(y_val, np.argmax(fp32_val_logits, axis=1), labels)
    base_metrics = None
    assert fs.base_logits is not None
    cols = base_label_columns(m.labels, labels, fs.base_logits.shape[1])
    if cols is not None:
        base_metrics = compute_metrics(y_val, np.argmax(fs.base_logits[val][:, cols], axis=1), labels)

    cancel.checkpoint()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    summary = {"accuracy": round(metrics.accuracy, 4), "macro_f1": round(metrics.macro_f1, 4), "n_val": len(val)}
    if base_metrics is not None:
        summary["base_accuracy"] = round(base_metrics.accuracy, 4)
        summary["base_macro_f1"] = round(base_metrics.macro_f1, 4)
    manifest = ModelManifest(
        id=model_id,
        version=str(version),
        name=name,
        family="classifier",
        task="classification",
        file=f"{model_id}.onnx",
        sha256=sha256_file(final_path),
        input_size=m.input_size,
        labels=labels,
        typical_threshold=m.typical_threshold,
        conservative_threshold=m.conservative_threshold,
        mean=m.mean,
        std=m.std,
        licence=m.licence,
        source_url=f"fine-tuned locally by Wildlife Desktop {__version__} from model pack '{m.id}' v{m.version} "
        f"(sha256 {m.sha256[:12]}...)" + (f"; base model source: {m.source_url}" if m.source_url else ""),
        citation=(
            f"Derived from '{m.name}' ({m.id} v{m.version}): new classification head trained on locally "
            f"verified crops, base weights unchanged. " + (m.citation or "")
        ).strip(),
        random_weights=m.random_weights,
        created=created,
        extra={
            "base_model": m.id,
            "base_sha256": m.sha256,
            "n_train": len(train),
            "n_val": len(val),
            "split_by": split.by,
            "metrics": summary,
            "int8": quantized,
            "quantize_note": note,
            "finetune_report": "training_report.json",
        },
    )
    report_doc = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "model_id": model_id,
        "version": version,
        "name": name,
        "created": created,
        "app_version": __version__,
        "base_model": {
            "id": m.id,
            "version": m.version,
            "name": m.name,
            "sha256": m.sha256,
            "licence": m.licence,
            "labels": len(m.labels),
            "random_weights": m.random_weights,
            "features": base.tap.features,
            "feature_dim": int(head.n_features),
        },
        "random_weights": m.random_weights,
        "warning": RANDOM_WEIGHTS_WARNING if m.random_weights else "",
        "config": config.to_dict(),
        "dataset": {
            "verified_crops_per_label": prep.counts,
            "labels": list(labels),
            "dropped": list(prep.dropped),
            "skipped": list(skipped),
            "n_examples": len(examples),
        },
        "split": {
            "by": split.by,
            "val_fraction": config.val_fraction,
            "seed": config.seed,
            "n_train": len(train),
            "n_val": len(val),
            "groups_train": split.groups_train,
            "groups_val": split.groups_val,
            "train_per_label": _class_split_counts(examples, train, labels),
            "val_per_label": _class_split_counts(examples, val, labels),
            "flip_augment": config.flip_augment,
        },
        "training": {
            **asdict(stats),
            "l2": config.l2,
            "max_epochs": config.max_epochs,
            "loss": "class-balanced cross-entropy, full-batch Adam on standardised features",
            "n_train_features": int(len(train) + len([i for i in train if i in fs.flipped])),
        },
        "metrics": metrics,
        "metrics_fp32": metrics_fp32,
        "base_metrics": base_metrics,
        "base_metrics_note": (
            "base classifier restricted to these labels"
            if base_metrics is not None
            else "the base classifier's labels do not cover these labels"
        ),
        "parity": parity,
        "quantization": quant_info,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    report_doc["timings_s"]["total_s"] = round(time.monotonic() - t_start, 3)
    report_path = register_pack(store, manifest, final_path, _jsonable(report_doc), work)
    yield FinetuneProgress("export", steps, steps, f"registered {model_id}")
    yield FinetuneFinished(
        FinetuneReport(
            model_id=model_id,
            version=version,
            name=name,
            labels=labels,
            metrics=metrics,
            base_metrics=base_metrics,
            n_train=len(train),
            n_val=len(val),
            split_by=split.by,
            quantized=quantized,
            quantize_note=note,
            random_weights=m.random_weights,
            pack_dir=store.root / model_id,
            report_path=report_path,
            dropped=prep.dropped,
            skipped=skipped,
            base_model_id=m.id,
        )
    )
