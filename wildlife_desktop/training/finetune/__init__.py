"""Fine-tuning a classifier on human-verified crops, without torch and without Qt.

Transfer learning on a 2-core laptop: the crops people accepted or relabelled go through an
installed classifier pack's frozen network (onnxruntime) to its ``features``; a new
multinomial logistic-regression head is trained on them in numpy; the base graph plus the new
head is exported to ONNX, checked against the numpy head, optionally quantised to int8, and
registered in the :class:`~wildlife_desktop.runtime.store.ModelStore` as a new versioned pack.

Entry point: :func:`run_finetune` (a generator of events, like ``pipeline.job.run_job``).
"""

from __future__ import annotations

from .dataset import CropExample, ExampleSet, collect_examples
from .metrics import ClassMetrics, Metrics
from .run import (
    RANDOM_WEIGHTS_WARNING,
    FinetuneConfig,
    FinetuneEvent,
    FinetuneFinished,
    FinetuneProgress,
    FinetuneReport,
    FinetuneStarted,
    run_finetune,
)

__all__ = [
    "RANDOM_WEIGHTS_WARNING",
    "ClassMetrics",
    "CropExample",
    "ExampleSet",
    "FinetuneConfig",
    "FinetuneEvent",
    "FinetuneFinished",
    "FinetuneProgress",
    "FinetuneReport",
    "FinetuneStarted",
    "Metrics",
    "collect_examples",
    "run_finetune",
]
