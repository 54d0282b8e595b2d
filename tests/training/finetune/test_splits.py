"""Site/sequence-aware splits: no group on both sides, deterministic, auto falls back site -> sequence -> file."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.records import BBox
from wildlife_desktop.training.finetune.dataset import CropExample
from wildlife_desktop.training.finetune.splits import group_keys, split_examples, val_targets

BOX = BBox(0.1, 0.1, 0.3, 0.3)


def ex(label: str, site: str, seq: int, i: int, folder: str = "/card") -> CropExample:
    return CropExample(
        folder=Path(folder),
        rel_path=f"{site}/IMG_{seq:02d}_{i}.JPG",
        bbox=BOX,
        frame=None,
        label=label,
        group="",
        reviewer="r",
        site=f"{folder}|{site}",
        sequence=f"{folder}|{site}/{seq}",
    )


def many_sites() -> list[CropExample]:
    """6 sites; every site has a few sequences of 1-4 crops of mixed species."""
    out = []
    labels = ["deer", "fox", "hare"]
    for s in range(6):
        for q in range(4):
            for i in range(1 + (s + q) % 4):
                out.append(ex(labels[(s + q + i // 2) % 3], f"site{s}", q, i))
    return out


def _groups(examples: list[CropExample], idx: tuple[int, ...], mode: str) -> set[str]:
    keys, _ = group_keys(examples, mode)  # type: ignore[arg-type]
    return {keys[i] for i in idx}


@pytest.mark.parametrize("mode", ["auto", "site", "sequence"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_no_group_is_on_both_sides(mode: str, seed: int) -> None:
    examples = many_sites()
    split = split_examples(examples, val_fraction=0.25, mode=mode, seed=seed)  # type: ignore[arg-type]
    assert sorted(split.train + split.val) == list(range(len(examples)))
    assert not _groups(examples, split.train, split.by) & _groups(examples, split.val, split.by)
    assert split.by == ("site" if mode in ("auto", "site") else "sequence")
    assert split.val, "something must be held out"
    assert {examples[i].label for i in split.train} == {"deer", "fox", "hare"}, "every class keeps training crops"


def test_split_is_deterministic_for_a_seed_and_seeds_differ() -> None:
    examples = many_sites()
    runs = {split_examples(examples, val_fraction=0.3, mode="sequence", seed=s).val for s in (0, 0, 1, 2, 3)}
    assert split_examples(examples, mode="sequence", seed=5) == split_examples(examples, mode="sequence", seed=5)
    assert len(runs) > 1, "different seeds should give different (still valid) splits"


def test_split_aims_at_the_fraction_per_class() -> None:
    examples = [ex(lab, "site0", q, 0) for q in range(40) for lab in ("deer",)]
    examples += [ex("fox", "site0", 100 + q, 0) for q in range(10)]
    split = split_examples(examples, val_fraction=0.2, mode="sequence")
    val_labels = [examples[i].label for i in split.val]
    assert val_labels.count("deer") == 8 and val_labels.count("fox") == 2


def test_auto_falls_back_from_site_to_sequence_to_file() -> None:
    one_site = [ex("deer", "cam", q, i) for q in range(4) for i in range(2)]
    assert group_keys(one_site, "auto")[1] == "sequence"
    two_sites = one_site + [ex("fox", "cam2", 0, 0)]
    assert group_keys(two_sites, "auto")[1] == "site"
    # two folders, each its own root site, count as two sites
    assert group_keys([ex("deer", "(root)", 0, 0, "/a"), ex("deer", "(root)", 0, 0, "/b")], "auto")[1] == "site"
    one_seq = [ex("deer", "cam", 0, i) for i in range(3)]
    keys, by = group_keys(one_seq, "auto")
    assert by == "file" and len(set(keys)) == 3


def test_explicit_site_split_needs_two_sites() -> None:
    with pytest.raises(DatasetError, match="at least 2 sites"):
        split_examples([ex("deer", "cam", q, 0) for q in range(5)], mode="site")


def test_a_class_in_a_single_group_stays_in_training() -> None:
    examples = [ex("deer", f"s{s}", 0, i) for s in range(4) for i in range(2)]
    examples += [ex("fox", "s9", 0, i) for i in range(3)]  # all foxes from one site
    split = split_examples(examples, val_fraction=0.25, mode="site")
    assert all(examples[i].label == "deer" for i in split.val)
    assert sum(examples[i].label == "fox" for i in split.train) == 3


def test_val_targets() -> None:
    assert val_targets({"a": 10, "b": 3, "c": 1, "d": 2}, 0.2) == {"a": 2, "b": 1, "c": 0, "d": 1}
    assert val_targets({"a": 10}, 0.95) == {"a": 9}
