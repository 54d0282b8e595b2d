"""Site/sequence-aware train/validation split: no group in both, deterministic for a seed.

Crops of one camera site (or one sequence) look alike: the same background, often the same
animal. Putting some of them in training and others in validation would measure recall of the
scene, not of the species, so whole groups go to one side.

Groups: ``site`` (camera location per folder), ``sequence`` (MegaDetector-style sequences per
folder), or ``auto``: sites when there are >= 2, else sequences when there are >= 2, else files.

Assignment (greedy, deterministic): every class aims at ``round(val_fraction * n)`` validation
crops (at least 1, at most ``n - 1``). Groups are visited largest first (ties in a seeded random
order); a group goes to validation when that brings the per-class counts closer to their aims
without taking the last training crop of any class. A second pass gives each class still
without validation crops its smallest group that keeps a training crop for every class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...core.errors import DatasetError
from .dataset import CropExample

SplitMode = Literal["auto", "site", "sequence"]


@dataclass(frozen=True)
class Split:
    """Indices into the example list, and what the groups were."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    by: str  # "site", "sequence" or "file"
    groups_train: int
    groups_val: int


def group_keys(examples: Sequence[CropExample], mode: SplitMode = "auto") -> tuple[list[str], str]:
    """The group key of every example and the grouping used (``site``, ``sequence`` or ``file``).

    Raises:
        DatasetError: ``mode="site"`` with fewer than 2 camera sites.
    """
    sites = {e.site for e in examples}
    if mode == "site":
        if len(sites) < 2:
            raise DatasetError(
                f"A split by camera site needs verified crops from at least 2 sites; found {len(sites)}. "
                "Use the split by sequence (or auto)."
            )
        return [e.site for e in examples], "site"
    if mode == "sequence":
        return [e.sequence for e in examples], "sequence"
    if mode != "auto":
        raise ValueError(f"unknown split mode {mode!r}")
    if len(sites) >= 2:
        return [e.site for e in examples], "site"
    if len({e.sequence for e in examples}) >= 2:
        return [e.sequence for e in examples], "sequence"
    return [f"{e.folder}|{e.rel_path}" for e in examples], "file"


def val_targets(counts: dict[str, int], val_fraction: float) -> dict[str, int]:
    """Validation crops each class aims at: ``round(f * n)``, at least 1 and at most ``n - 1``."""
    out = {}
    for label, n in counts.items():
        t = int(round(val_fraction * n)) if val_fraction > 0 else 0
        out[label] = 0 if n < 2 or val_fraction <= 0 else min(max(t, 1), n - 1)
    return out


def split_examples(
    examples: Sequence[CropExample], *, val_fraction: float = 0.2, mode: SplitMode = "auto", seed: int = 0
) -> Split:
    """Split ``examples`` by group (see the module docstring).

    Raises:
        DatasetError: ``val_fraction`` outside (0, 1), or ``mode="site"`` with one site.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"The validation fraction must be between 0 and 1, got {val_fraction}.")
    keys, by = group_keys(examples, mode)
    members: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    labels = [e.label for e in examples]
    totals = Counter(labels)
    target = val_targets(dict(totals), val_fraction)
    group_counts = {k: Counter(labels[i] for i in idx) for k, idx in members.items()}

    names = sorted(members)
    rank = {k: int(r) for k, r in zip(names, np.random.default_rng(seed).permutation(len(names)), strict=True)}
    order = sorted(names, key=lambda k: (-len(members[k]), rank[k]))
    in_val: Counter[str] = Counter()
    chosen: set[str] = set()

    def keeps_train(cnt: Counter[str]) -> bool:
        return all(totals[c] - in_val[c] - n >= 1 for c, n in cnt.items())

    def take(k: str) -> None:
        chosen.add(k)
        in_val.update(group_counts[k])

    for k in order:
        cnt = group_counts[k]
        before = sum(abs(in_val[c] - target[c]) for c in cnt)
        after = sum(abs(in_val[c] + n - target[c]) for c, n in cnt.items())
        if after < before and keeps_train(cnt):
            take(k)
    for label in sorted(totals):
        if target[label] == 0 or in_val[label] > 0:
            continue
        for k in sorted(names, key=lambda k: (len(members[k]), rank[k])):
            if k not in chosen and group_counts[k][label] and keeps_train(group_counts[k]):
                take(k)
                break

    val = tuple(i for k in names if k in chosen for i in members[k])
    train = tuple(i for k in names if k not in chosen for i in members[k])
    return Split(tuple(sorted(train)), tuple(sorted(val)), by, len(names) - len(chosen), len(chosen))
