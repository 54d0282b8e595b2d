"""Install a model pack made of one local ONNX file and a manifest (the real models' installers)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ...core.errors import ModelPackError
from ...runtime.manifest import MANIFEST_NAME, ModelManifest, save_manifest
from ...runtime.store import ModelStore


def install_onnx_pack(store: ModelStore, onnx_path: Path, manifest: ModelManifest, *,
                      replace: bool = True) -> ModelManifest:
    """Assemble ``manifest`` + a copy of ``onnx_path`` (as ``manifest.file``) under the store, then import it.

    The pack is put together in a temporary folder inside the store, so the import is a move on
    the same disk and an interrupted install leaves nothing behind.

    Raises:
        ModelPackError: the file cannot be copied, or the store refuses the pack.
    """
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{manifest.id}-", dir=store.root) as tmp:
        pack = Path(tmp)
        try:
            shutil.copyfile(onnx_path, pack / manifest.file)
        except OSError as exc:
            raise ModelPackError(f"{manifest.name}: cannot copy {onnx_path}: {exc.strerror or exc}") from exc
        save_manifest(pack / MANIFEST_NAME, manifest)
        return store.import_pack(pack, replace=replace)
