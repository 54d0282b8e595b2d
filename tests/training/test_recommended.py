"""``models install recommended``: all real packs, the default detector, idempotent, honest about gaps."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wildlife_desktop.core.errors import WildlifeError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.packs import recommended as rec

CACHED_MDLITE: dict[str, Path] = {}
CALLS: list[Path | None] = []


def _install_cached_mdlite(store: ModelStore, source: Path | None, *, notify: Any = print) -> Any:
    """Stands in for the converter (tested in test_mdlite.py): imports the pack it built once."""
    CALLS.append(source)
    return store.import_pack(CACHED_MDLITE["pack"], replace=True)


@pytest.fixture
def real_dir(tmp_path: Path, shared: Path) -> Path:
    """A copy of shared/models/real without the (large) twins: what a USB stick would hold."""
    dest = tmp_path / "real"
    for name in ("nanodet_coco", "mobilenet_v2_imagenet"):
        shutil.copytree(shared / "models" / "real" / name, dest / name)
    return dest


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch, mdlite_packs: Path) -> None:
    CALLS.clear()
    CACHED_MDLITE["pack"] = mdlite_packs / "mdlite"
    fake = "tests.training.test_recommended:_install_cached_mdlite"
    monkeypatch.setattr(rec, "RECOMMENDED", tuple(replace(s, target=fake) if s.pack_id == "mdlite" else s
                                                  for s in rec.RECOMMENDED))


def _calls() -> int:
    return len(CALLS)


def test_installs_all_sets_the_default_and_is_idempotent(steps: None, real_dir: Path, tmp_path: Path) -> None:
    store = ModelStore(AppPaths.under(tmp_path / "home"))
    lines: list[str] = []
    m = rec.install_recommended(store, real_dir, notify=lines.append)
    assert m.id == "mdlite-nanodet" and not m.random_weights
    assert {x.id for x in store.list()} >= {"mdlite", "nanodet-coco", "mobilenetv2-imagenet", "mdlite-nanodet"}
    assert store.default_id("detection") == "mdlite-nanodet"
    assert store.default_id("classification") is None  # an ImageNet extractor is never a default species model
    assert all(ok for _id, ok, _msg in store.verify())
    assert _calls() == 1
    lines.clear()
    rec.install_recommended(store, real_dir, notify=lines.append)  # again: nothing is redone
    assert _calls() == 1
    assert sum("already installed" in line for line in lines) == len(rec.RECOMMENDED)


def test_a_changed_recipe_makes_the_pack_again(steps: None, real_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    store = ModelStore(AppPaths.under(tmp_path / "home"))
    rec.install_recommended(store, real_dir, notify=lambda _s: None)
    old = rec.Step.recipe_digest
    monkeypatch.setattr(rec.Step, "recipe_digest",
                        lambda self: old(self) + ("-new" if self.pack_id == "mdlite" else ""))
    rec.install_recommended(store, real_dir, notify=lambda _s: None)
    assert _calls() == 2


def test_missing_files_are_named_and_the_rest_installed(steps: None, real_dir: Path, tmp_path: Path) -> None:
    shutil.rmtree(real_dir / "nanodet_coco")
    store = ModelStore(AppPaths.under(tmp_path / "home"))
    with pytest.raises(WildlifeError, match="nanodet-coco") as err:
        rec.install_recommended(store, real_dir, notify=lambda _s: None)
    assert "mdlite-nanodet" in str(err.value)  # the composite needs NanoDet: said too
    assert {x.id for x in store.list()} == {"mdlite", "mobilenetv2-imagenet"}
    assert store.default_id("detection") == "mdlite"  # the first real detector, until the composite exists


def test_not_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WildlifeError, match="not a folder"):
        rec.install_recommended(ModelStore(AppPaths.under(tmp_path)), tmp_path / "nope", notify=lambda _s: None)
