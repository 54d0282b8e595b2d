"""What a fine-tuned pack says about itself: its :class:`ModelManifest` and its ``training_report.json``.

Plain functions of frozen records, no I/O: :func:`build_manifest` and :func:`build_report` take
what a finished run knows (:class:`NewPack`, :class:`DataUsed`, :class:`Evaluation`,
:class:`TrainingRecord`); :func:`~.registry.register_pack` writes the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import __version__
from ...runtime.manifest import ModelManifest
from .dataset import CropExample
from .export import Parity
from .graph import LOGITS
from .head import TrainStats
from .metrics import Metrics
from .registry import REPORT_NAME, REPORT_SCHEMA_VERSION
from .splits import Split

if TYPE_CHECKING:
    from .run import FinetuneConfig

RANDOM_WEIGHTS_WARNING = (
    "the base model has RANDOM WEIGHTS (an architecture twin): its features mean nothing, so the fine-tuned "
    "model classifies nothing either. Use it only to test the workflow."
)
METRICS_NOTE = "validation crops also chose the early-stopping epoch, so these figures can be slightly optimistic"
CENTROID_NOTE = (
    "baseline: nearest class centroid of the same training features (L2-normalised, cosine), "
    "on the same validation crops"
)
LOSS_DESCRIPTION = "class-balanced cross-entropy, full-batch Adam on standardised features"


@dataclass(frozen=True)
class NewPack:
    """The pack being registered, and the installed pack it derives from."""

    model_id: str  # f"{slug(name)}-v{version}"
    version: int
    name: str  # display name
    created: str  # ISO 8601, UTC, to the second
    base: ModelManifest


@dataclass(frozen=True)
class DataUsed:
    """The verified crops the head was trained and validated on."""

    examples: Sequence[CropExample]  # the kept labels' crops; indices below point into it
    labels: tuple[str, ...]
    counts: dict[str, int]  # every label's verified crops, dropped ones included
    dropped: tuple[str, ...]  # labels with fewer than min_per_class crops
    skipped: tuple[str, ...]  # decisions or files not used, with the reason
    split: Split
    train: Sequence[int]  # training crops that decoded (a subset of split.train)
    val: Sequence[int]  # validation crops that decoded (a subset of split.val)
    n_flipped: int  # mirrored copies of training crops added as training features


@dataclass(frozen=True)
class Evaluation:
    """The exported model on the validation crops, and how it was exported."""

    metrics: Metrics  # the registered model (int8 when kept)
    metrics_fp32: Metrics  # the numpy head (= the fp32 export)
    base_metrics: Metrics | None  # the base classifier restricted to these labels, when it knows them all
    parity: Parity
    quantized: bool  # the pack ships the int8 model
    quantize_note: str
    quantization: dict[str, Any]  # the report's "quantization" section
    centroid_metrics: Metrics | None = None  # nearest class centroid of the training features (the baseline)


@dataclass(frozen=True)
class TrainingRecord:
    """How the head was trained: settings, base features, training statistics, timings."""

    config: FinetuneConfig
    features: str  # the base graph's output the head reads
    feature_dim: int
    stats: TrainStats
    timings: dict[str, float]  # seconds per stage, total_s included, unrounded


def build_manifest(pack: NewPack, data: DataUsed, evaluation: Evaluation, sha256: str) -> ModelManifest:
    """The new pack's manifest: the base pack's input, thresholds and licence, the new labels and file.

    The input description (layout, channel order, normalisation, dtype, padding, resize filter,
    mean/std) is the base pack's: the new model is the base graph up to its features. Its output
    is the new head's ``logits``.
    """
    m = pack.base
    metrics, base_metrics = evaluation.metrics, evaluation.base_metrics
    summary = {"accuracy": round(metrics.accuracy, 4), "macro_f1": round(metrics.macro_f1, 4), "n_val": len(data.val)}
    if base_metrics is not None:
        summary["base_accuracy"] = round(base_metrics.accuracy, 4)
        summary["base_macro_f1"] = round(base_metrics.macro_f1, 4)
    centroid = evaluation.centroid_metrics
    if centroid is not None:
        summary["centroid_accuracy"] = round(centroid.accuracy, 4)
        summary["centroid_macro_f1"] = round(centroid.macro_f1, 4)
    return ModelManifest(
        id=pack.model_id,
        version=str(pack.version),
        name=pack.name,
        family="classifier",
        task="classification",
        file=f"{pack.model_id}.onnx",
        sha256=sha256,
        input_size=m.input_size,
        labels=data.labels,
        typical_threshold=m.typical_threshold,
        conservative_threshold=m.conservative_threshold,
        mean=m.mean,
        std=m.std,
        input_layout=m.input_layout,
        channel_order=m.channel_order,
        normalisation=m.normalisation,
        input_dtype=m.input_dtype,
        pad_value=m.pad_value,
        resize_filter=m.resize_filter,
        output=LOGITS,
        output_kind="logits",
        licence=m.licence,
        source_url=f"fine-tuned locally by Wildlife Desktop {__version__} from model pack '{m.id}' v{m.version} "
        f"(sha256 {m.sha256[:12]}...)" + (f"; base model source: {m.source_url}" if m.source_url else ""),
        citation=(
            f"Derived from '{m.name}' ({m.id} v{m.version}): new classification head trained on locally "
            f"verified crops, base weights unchanged. " + (m.citation or "")
        ).strip(),
        random_weights=m.random_weights,
        created=pack.created,
        extra={
            "base_model": m.id,
            "base_sha256": m.sha256,
            "n_train": len(data.train),
            "n_val": len(data.val),
            "split_by": data.split.by,
            "metrics": summary,
            "int8": evaluation.quantized,
            "quantize_note": evaluation.quantize_note,
            "finetune_report": REPORT_NAME,
        },
    )


def build_report(pack: NewPack, data: DataUsed, evaluation: Evaluation, training: TrainingRecord) -> dict[str, Any]:
    """The ``training_report.json`` document, JSON-ready (dataclasses, paths and numpy scalars converted)."""
    m, config, split = pack.base, training.config, data.split
    base_metrics = evaluation.base_metrics
    doc = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "model_id": pack.model_id,
        "version": pack.version,
        "name": pack.name,
        "created": pack.created,
        "app_version": __version__,
        "base_model": {
            "id": m.id,
            "version": m.version,
            "name": m.name,
            "sha256": m.sha256,
            "licence": m.licence,
            "labels": len(m.labels),
            "random_weights": m.random_weights,
            "features": training.features,
            "feature_dim": training.feature_dim,
        },
        "random_weights": m.random_weights,
        "warning": RANDOM_WEIGHTS_WARNING if m.random_weights else "",
        "config": config.to_dict(),
        "dataset": {
            "verified_crops_per_label": data.counts,
            "labels": list(data.labels),
            "dropped": list(data.dropped),
            "skipped": list(data.skipped),
            "n_examples": len(data.examples),
        },
        "split": {
            "by": split.by,
            "val_fraction": config.val_fraction,
            "seed": config.seed,
            "n_train": len(data.train),
            "n_val": len(data.val),
            "groups_train": split.groups_train,
            "groups_val": split.groups_val,
            "train_per_label": _class_split_counts(data.examples, data.train, data.labels),
            "val_per_label": _class_split_counts(data.examples, data.val, data.labels),
            "flip_augment": config.flip_augment,
            "train_sites": sorted({data.examples[i].site for i in data.train}),
            "val_sites": sorted({data.examples[i].site for i in data.val}),
            # what evaluation before adoption leaves out (training.lab.evaluate.crop_key)
            "train_crops": sorted({f"{data.examples[i].site}|{data.examples[i].rel_path}" for i in data.train}),
        },
        "training": {
            **asdict(training.stats),
            "l2": config.l2,
            "max_epochs": config.max_epochs,
            "loss": LOSS_DESCRIPTION,
            "n_train_features": len(data.train) + data.n_flipped,
        },
        "metrics": evaluation.metrics,
        "metrics_note": METRICS_NOTE,
        "metrics_fp32": evaluation.metrics_fp32,
        "centroid_metrics": evaluation.centroid_metrics,
        "centroid_metrics_note": CENTROID_NOTE,
        "base_metrics": base_metrics,
        "base_metrics_note": (
            "base classifier restricted to these labels"
            if base_metrics is not None
            else "the base classifier's labels do not cover these labels"
        ),
        "parity": evaluation.parity,
        "quantization": evaluation.quantization,
        "timings_s": {k: round(v, 3) for k, v in training.timings.items()},
    }
    return _jsonable(doc)


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
