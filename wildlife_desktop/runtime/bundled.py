"""Model packs shipped inside the installed application (``<app>/models/<pack>/``).

A release build copies pack folders (``manifest.json`` + ONNX file) into ``models/`` next to
the frozen executables. At start the app registers each one in the user's model store *in
place* (no copy of a 100 MB file; see ``ModelStore.import_pack(in_place=True)``): the store gets
the manifest and a pointer to the read-only bundled folder, and the ONNX file is still
sha256-checked before every load. Nothing here imports Qt.

Rules:

* a pack the user installed themselves under the same id is left alone;
* a pack registered from another location (an older install, a moved portable copy) is
  re-registered from the current one;
* a broken bundled pack is skipped with a warning, never fatal at start;
* a ``defaults.json`` beside the packs (the release build writes the one ``models install
  recommended`` made) becomes the user's default models while the user has chosen none.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from ..core.errors import WildlifeError
from ..core.paths import AppPaths
from .defaults import ModelDefaults, load_defaults, save_defaults
from .manifest import MANIFEST_NAME, load_manifest
from .store import IN_PLACE_LINK, ModelStore

logger = logging.getLogger(__name__)

#: Development/testing override: a folder of pack folders to treat as bundled.
BUNDLED_ENV = "WILDLIFE_DESKTOP_BUNDLED_MODELS"
BUNDLED_DIRNAME = "models"


def _frozen_candidates() -> list[Path]:
    exe_dir = Path(sys.executable).resolve().parent
    cands = []
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        cands.append(Path(meipass) / BUNDLED_DIRNAME)
    cands.append(exe_dir / BUNDLED_DIRNAME)
    if sys.platform == "darwin":  # <App>.app/Contents/MacOS/<exe> -> Contents/Resources/models
        cands.append(exe_dir.parent / "Resources" / BUNDLED_DIRNAME)
    return cands


def bundled_packs_dir() -> Path | None:
    """The folder of bundled pack folders, or ``None`` when this copy of the app ships none.

    ``WILDLIFE_DESKTOP_BUNDLED_MODELS`` wins when set (development, tests); otherwise, in a
    frozen build, ``<_MEIPASS>/models`` or ``<executable dir>/models``.
    """
    env = os.environ.get(BUNDLED_ENV)
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    if not getattr(sys, "frozen", False):
        return None
    for cand in _frozen_candidates():
        if cand.is_dir():
            return cand
    return None


def _registered_from(store: ModelStore, model_id: str) -> Path | None:
    """Where an installed pack was registered in place from; ``None`` for an ordinary copy."""
    link = store.root / model_id / IN_PLACE_LINK
    if not link.is_file():
        return None
    with contextlib.suppress(OSError):
        return Path(link.read_text(encoding="utf-8").strip())
    return Path()


def install_bundled(store: ModelStore, source: Path | None = None) -> list[str]:
    """Register every bundled pack missing from ``store``; return the ids registered now.

    Args:
        store: the user's model store.
        source: the folder of bundled packs (default: :func:`bundled_packs_dir`).
    """
    folder = source if source is not None else bundled_packs_dir()
    if folder is None or not folder.is_dir():
        return []
    added: list[str] = []
    for pack in sorted(p for p in folder.iterdir() if (p / MANIFEST_NAME).is_file()):
        try:
            m = load_manifest(pack / MANIFEST_NAME)
            installed = (store.root / m.id / MANIFEST_NAME).is_file()
            where = _registered_from(store, m.id) if installed else None
            if installed and where is None:
                continue  # the user's own copy under this id: keep it
            if installed and where == pack.resolve():
                continue  # already registered from here
            store.import_pack(pack, in_place=True, replace=installed)
        except (WildlifeError, OSError) as exc:
            logger.warning("bundled model pack %s not registered: %s", pack.name, exc)
            continue
        logger.info("registered bundled model pack %s from %s", m.id, pack)
        added.append(m.id)
    shipped = load_defaults(folder)
    if shipped != ModelDefaults() and load_defaults(store.root) == ModelDefaults():
        with contextlib.suppress(OSError):
            save_defaults(store.root, detector=shipped.detector, classifier=shipped.classifier,
                          finetune_base=shipped.finetune_base)
    return added


def ensure_bundled(paths: AppPaths | None = None) -> list[str]:
    """One call for the GUI/CLI at start: register bundled packs in the default store; never raises."""
    try:
        return install_bundled(ModelStore(paths or AppPaths.default()))
    except (WildlifeError, OSError) as exc:  # pragma: no cover - defensive
        logger.warning("bundled model packs not registered: %s", exc)
        return []
