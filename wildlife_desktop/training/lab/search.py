"""Hyper-parameter search with Optuna (the optional ``[lab]`` extra), on frozen features, by site.

The objective is the macro-F1 of **site-aware cross-validation** (:func:`cv_score`): the crops
of one camera site (else sequence, else file: :func:`..finetune.splits.group_keys`) are held
out together, up to :data:`MAX_FOLDS` folds of whole groups, the head is trained on the other
groups and the held-out predictions are pooled; a crop whose label has no training crop in its
fold is not scored (no head could name it). So a search cannot overfit one split.

Searched: the learning rate (a factor on the default step), the weight decay, class balancing,
feature augmentation (the mirrored copies of the training crops) and the head's width: linear
(0) or one hidden ReLU layer of :data:`HIDDEN_CHOICES` units. The default
settings are enqueued as trial 0, so the best trial is never worse than the defaults on this
objective. Trials run in a seeded TPE sampler, up to ``n_trials`` or a time budget ``timeout_s``.

The best settings are then trained on every crop (``refit="all"``, the default after a search:
:mod:`..finetune.run`), for ``max_epochs`` epochs as each fold's head here, so the best trial's
CV macro-F1 is the estimate of that final head (slightly optimistic: it is the best of the trials).
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..finetune.dataset import CropExample
from ..finetune.head import BASE_LR, run_head, train_head
from ..finetune.metrics import compute_metrics
from ..finetune.splits import group_keys

MAX_FOLDS = 5
#: The settings of a default fine-tune, as a trial (trial 0 of every search).
DEFAULTS: Mapping[str, Any] = {"lr_factor": 1.0, "l2": 1e-3, "class_balance": True, "flip_augment": True,
                               "hidden_units": 0}
#: The head widths searched: linear, or one hidden layer of this many ReLU units.
HIDDEN_CHOICES = (0, 64, 128, 256)


def available() -> bool:
    return importlib.util.find_spec("optuna") is not None


def unavailable_reason() -> str:
    return "Hyper-parameter search needs Optuna: pip install 'wildlife-desktop[lab]'."


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, Any]
    value: float  # CV macro-F1
    seconds: float


@dataclass(frozen=True)
class SearchResult:
    """The trials, the best settings (as :class:`FinetuneConfig` fields) and the default's score."""

    trials: tuple[Trial, ...]
    best: Trial
    default_value: float  # trial 0: the default settings
    folds: int
    grouped_by: str
    best_settings: dict[str, Any] = field(default_factory=dict)  # l2, lr, class_balance, flip_augment, hidden_units

    def summary(self) -> dict[str, Any]:
        return {"trials": len(self.trials), "folds": self.folds, "grouped_by": self.grouped_by,
                "objective": "site-aware cross-validated macro-F1", "default_value": self.default_value,
                "best_value": self.best.value, "best_trial": self.best.number, "best_settings": self.best_settings,
                "all": [{"number": t.number, "params": t.params, "value": t.value} for t in self.trials]}


def folds_of(
    examples: Sequence[CropExample], *, seed: int = 0, max_folds: int = MAX_FOLDS
) -> tuple[list[list[int]], str]:
    """Held-out index lists: whole groups (sites, else sequences, else files), at most ``max_folds`` folds
    (one group per fold when there are no more groups than that), groups dealt largest first to the smallest fold."""
    keys, by = group_keys(examples, "auto")
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    names = sorted(groups)
    rank = {k: int(r) for k, r in zip(names, np.random.default_rng(seed).permutation(len(names)), strict=True)}
    k = min(max_folds, len(names))
    folds: list[list[int]] = [[] for _ in range(k)]
    for name in sorted(names, key=lambda n: (-len(groups[n]), rank[n])):
        min(folds, key=len).extend(groups[name])
    return [sorted(f) for f in folds if f], by


def cv_score(
    features: np.ndarray,
    flipped: Mapping[int, np.ndarray],
    y: np.ndarray,
    folds: Sequence[Sequence[int]],
    n_classes: int,
    params: Mapping[str, Any],
    *,
    max_epochs: int = 300,
    seed: int = 0,
) -> float:
    """Pooled held-out macro-F1 of the head trained with ``params`` on the other folds (see the module docstring)."""
    scored, pred = cv_predictions(features, flipped, y, folds, n_classes, params, max_epochs=max_epochs, seed=seed)
    if not len(scored):
        return 0.0
    return compute_metrics(np.asarray(y, dtype=np.int64)[scored], pred, [str(i) for i in range(n_classes)]).macro_f1


def cv_predictions(
    features: np.ndarray,
    flipped: Mapping[int, np.ndarray],
    y: np.ndarray,
    folds: Sequence[Sequence[int]],
    n_classes: int,
    params: Mapping[str, Any],
    *,
    max_epochs: int = 300,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, predictions)``: every scored crop's index and its prediction by the head trained with ``params``
    on the other folds (crops whose label has no training crop in their fold are left out), in fold order."""
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    scored: list[int] = []
    pred: list[int] = []
    d = features.shape[1]
    for held in folds:
        held_set = set(held)
        train = [i for i in range(n) if i not in held_set]
        seen = set(y[train].tolist())
        test = [i for i in held if y[i] in seen]
        if not test or len(seen) < 2:
            continue
        flips = [i for i in train if i in flipped] if params["flip_augment"] else []
        x_train = np.concatenate([features[train], np.array([flipped[i] for i in flips]).reshape(len(flips), d)])
        y_train = np.concatenate([y[train], y[flips]])
        gen = train_head(x_train, y_train, x_train[:0], y_train[:0], n_classes, l2=float(params["l2"]),
                         max_epochs=max_epochs, lr=BASE_LR / math.sqrt(d) * float(params["lr_factor"]),
                         balanced=bool(params["class_balance"]), hidden=int(params.get("hidden_units", 0)), seed=seed)
        head, _ = run_head(gen)
        scored += test
        pred += head.predict(features[test]).tolist()
    return np.asarray(scored, dtype=np.int64), np.asarray(pred, dtype=np.int64)


def search(
    features: np.ndarray,
    flipped: Mapping[int, np.ndarray],
    y: np.ndarray,
    examples: Sequence[CropExample],
    n_classes: int,
    *,
    n_trials: int,
    timeout_s: float | None = None,
    max_epochs: int = 300,
    seed: int = 0,
) -> Generator[Trial, None, SearchResult]:
    """Run the Optuna study one trial at a time (see the module docstring); yields each finished
    :class:`Trial` (a caller may stop between trials: cancel), returns the :class:`SearchResult`.

    Stops after ``n_trials`` trials or, past ``timeout_s`` seconds, after the running trial.

    Raises:
        ImportError: Optuna is not installed (callers check :func:`available` first).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds, by = folds_of(examples, seed=seed)
    d = features.shape[1]
    trials: list[Trial] = []

    def objective(trial: Any) -> float:
        t0 = time.monotonic()
        params = {
            "lr_factor": trial.suggest_float("lr_factor", 0.1, 10.0, log=True),
            "l2": trial.suggest_float("l2", 1e-5, 1e-1, log=True),
            "class_balance": trial.suggest_categorical("class_balance", [True, False]),
            "flip_augment": trial.suggest_categorical("flip_augment", [True, False]),
            "hidden_units": trial.suggest_categorical("hidden_units", list(HIDDEN_CHOICES)),
        }
        value = cv_score(features, flipped, y, folds, n_classes, params, max_epochs=max_epochs, seed=seed)
        trials.append(Trial(trial.number, params, value, time.monotonic() - t0))
        return value

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(dict(DEFAULTS))
    t_start = time.monotonic()
    for _ in range(max(1, n_trials)):
        study.optimize(objective, n_trials=1, gc_after_trial=False)
        yield trials[-1]
        if timeout_s and time.monotonic() - t_start >= timeout_s:
            break
    best = max(trials, key=lambda t: (t.value, -t.number))  # ties: the earliest (the default first)
    settings = {"l2": best.params["l2"], "lr": BASE_LR / math.sqrt(d) * best.params["lr_factor"],
                "class_balance": best.params["class_balance"], "flip_augment": best.params["flip_augment"],
                "hidden_units": int(best.params["hidden_units"])}
    if best.number == 0:
        settings["lr"] = None  # the default step, as a default run
    return SearchResult(tuple(trials), best, trials[0].value, len(folds), by, settings)
