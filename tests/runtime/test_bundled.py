"""Bundled model packs: found next to a frozen app (or via env), registered read-only in place."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from wildlife_desktop import cli
from wildlife_desktop.cli.selftest_assets import SELFTEST_MODEL_ID as PACK_ID
from wildlife_desktop.cli.selftest_assets import SELFTEST_ONNX as ONNX
from wildlife_desktop.cli.selftest_assets import write_selftest_pack
from wildlife_desktop.core.errors import ModelLoadError
from wildlife_desktop.runtime import ModelStore
from wildlife_desktop.runtime.bundled import BUNDLED_ENV, bundled_packs_dir, install_bundled
from wildlife_desktop.runtime.manifest import MANIFEST_NAME
from wildlife_desktop.runtime.store import IN_PLACE_LINK


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """``<tmp>/app/models/tiny/`` holding a real pack (manifest + ONNX), like a release build."""
    root = tmp_path / "app" / "models"
    write_selftest_pack(root / "tiny")
    return root


def test_dir_from_env_or_frozen_layout(packs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUNDLED_ENV, raising=False)
    assert bundled_packs_dir() is None  # a source checkout ships none
    monkeypatch.setenv(BUNDLED_ENV, str(packs))
    assert bundled_packs_dir() == packs
    monkeypatch.setenv(BUNDLED_ENV, str(tmp_path / "nope"))
    assert bundled_packs_dir() is None
    monkeypatch.delenv(BUNDLED_ENV)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(packs.parent), raising=False)
    assert bundled_packs_dir() == packs
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "elsewhere"), raising=False)
    monkeypatch.setattr(sys, "executable", str(packs.parent / "wildlife-cli"))
    assert bundled_packs_dir() == packs  # <exe dir>/models


def test_registered_in_place_without_copy_and_runs(store: ModelStore, packs: Path) -> None:
    assert install_bundled(store, packs) == [PACK_ID]
    pack_dir = store.root / PACK_ID
    assert sorted(p.name for p in pack_dir.iterdir()) == [IN_PLACE_LINK, MANIFEST_NAME]  # no ONNX copy
    m, path = store.get(PACK_ID)
    assert path == (packs / "tiny" / ONNX).resolve()
    assert [x.id for x in store.list()] == [PACK_ID]
    assert store.verify()[0][:2] == (PACK_ID, True)
    img = np.full((120, 160, 3), 200, np.uint8)
    dets = store.open_detector(PACK_ID, intra_threads=1).detect(img)
    assert any(d.category == "1" and d.confidence > 0.5 for d in dets)  # brightness-scored animal box
    assert install_bundled(store, packs) == []  # idempotent: nothing new, nothing hashed again


def test_user_copy_kept_moved_app_reregistered(store: ModelStore, packs: Path, tmp_path: Path) -> None:
    store.import_pack(packs / "tiny")  # the user's own copy under the same id
    assert install_bundled(store, packs) == []
    assert (store.root / PACK_ID / ONNX).is_file() and not (store.root / PACK_ID / IN_PLACE_LINK).exists()
    store.remove(PACK_ID)
    install_bundled(store, packs)
    moved = tmp_path / "new-install" / "models"
    shutil.copytree(packs, moved)
    shutil.rmtree(packs)  # old install gone
    with pytest.raises(ModelLoadError, match="missing"):
        store.open_detector(PACK_ID)
    assert install_bundled(store, moved) == [PACK_ID]
    assert store.get(PACK_ID)[1] == (moved / "tiny" / ONNX).resolve()
    store.open_detector(PACK_ID)


def test_tampered_bundled_file_refused_and_remove_keeps_it(store: ModelStore, packs: Path) -> None:
    install_bundled(store, packs)
    onnx = packs / "tiny" / ONNX
    store.remove(PACK_ID)
    assert onnx.is_file()  # removing the registration never deletes the app's own file
    install_bundled(store, packs)
    data = bytearray(onnx.read_bytes())
    data[-10] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match its manifest"):
        store.open_detector(PACK_ID)


def test_broken_pack_skipped_with_warning(store: ModelStore, packs: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = packs / "broken"
    bad.mkdir()
    (bad / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert install_bundled(store, packs) == [PACK_ID]
    assert "broken" in caplog.text


def test_cli_models_list_registers_bundled(packs: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(BUNDLED_ENV, str(packs))
    assert cli.main(["models", "list"]) == 0
    assert PACK_ID in capsys.readouterr().out
    assert cli.main(["models", "verify"]) == 0


def test_shipped_defaults_apply_until_the_user_chooses(store: ModelStore, packs: Path) -> None:
    from wildlife_desktop.runtime.defaults import load_defaults, save_defaults

    save_defaults(packs, detector=PACK_ID)  # what the release build ships beside the packs
    install_bundled(store, packs)
    assert load_defaults(store.root).detector == PACK_ID
    save_defaults(store.root, detector="users-own-choice")
    install_bundled(store, packs)  # a later start never overrides the user's choice
    assert load_defaults(store.root).detector == "users-own-choice"
