"""Register a fine-tuned classifier as a new, versioned model pack in the :class:`ModelStore`.

Id ``<slug(name)>-v<N>``, N = one more than the highest installed version with that slug (so
models are never overwritten: ``kenya-mammals-v1``, ``kenya-mammals-v2``...). The pack is
assembled in a temporary folder (manifest + ONNX + ``training_report.json``) and imported with
:meth:`ModelStore.import_pack` (sha256 checked, atomic move into place); the report is then
written (atomically) into the installed pack folder as well.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...core.atomic import atomic_write_json
from ...core.errors import ModelPackError
from ...runtime.defaults import load_defaults
from ...runtime.manifest import MANIFEST_NAME, ModelManifest, save_manifest
from ...runtime.store import ModelStore

#: The fine-tuning base when the user names none and none is stored: MobileNetV2 ImageNet (real
#: weights, Apache-2.0), installed by ``models install recommended``.
DEFAULT_BASE = "mobilenetv2-imagenet"
REPORT_NAME = "training_report.json"
REPORT_SCHEMA_VERSION = 1
_MAX_SLUG = 60


def slug(name: str) -> str:
    """Lower-case ASCII id part of a display name: ``"Kenya mammals (2026)"`` -> ``"kenya-mammals-2026"``."""
    import unicodedata

    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    s = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:_MAX_SLUG].strip("-")
    return s or "classifier"


def next_version(base_slug: str, installed_ids: Iterable[str]) -> int:
    """One more than the highest ``<slug>-v<N>`` among ``installed_ids`` (1 when there is none)."""
    pat = re.compile(rf"^{re.escape(base_slug)}-v(\d+)$")
    versions = [int(m.group(1)) for i in installed_ids if (m := pat.match(i))]
    return max(versions, default=0) + 1


def installed_ids(store: ModelStore) -> list[str]:
    """Every pack folder name in the store (broken packs included: their ids are taken too)."""
    root = store.root
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def register_pack(
    store: ModelStore, manifest: ModelManifest, onnx_file: Path, report: dict[str, Any], work_dir: Path
) -> Path:
    """Assemble the pack in ``work_dir`` (``onnx_file`` is moved there), install it, write the report beside it.

    Returns:
        The installed ``training_report.json``.

    Raises:
        ModelPackError: the store refuses the pack, or the id was taken meanwhile (another run);
            ``onnx_file`` is then back where it was.
    """
    pack = Path(work_dir) / f"pack-{manifest.id}"
    pack.mkdir(parents=True)
    os.replace(onnx_file, pack / manifest.file)
    try:
        save_manifest(pack / MANIFEST_NAME, manifest)
        atomic_write_json(pack / REPORT_NAME, report)
        if (store.root / manifest.id).exists():  # import_pack would replace an identical model's pack
            raise ModelPackError(f"Model id '{manifest.id}' was taken meanwhile (another fine-tuning run).")
        store.import_pack(pack)
    except BaseException:
        os.replace(pack / manifest.file, onnx_file)
        shutil.rmtree(pack, ignore_errors=True)
        raise
    report_path = store.root / manifest.id / REPORT_NAME
    atomic_write_json(report_path, report)
    return report_path


def default_base_id(store: ModelStore) -> str | None:
    """The fine-tuning base used when none is named (CLI ``train`` without ``--base``, the wizard's first choice).

    The stored choice (``defaults.json``'s ``finetune_base``) when it is an installed classifier,
    else :data:`DEFAULT_BASE` when installed, else ``None`` (never a random-weight twin by default).
    """
    classifiers = {m.id: m for m in store.list() if m.task == "classification"}
    stored = load_defaults(store.root).finetune_base
    for model_id in (stored, DEFAULT_BASE):
        if model_id in classifiers:
            return model_id
    return None
