"""``models install recommended``: the three real models and the default detector, in one step.

The recommended set is data (:data:`RECOMMENDED`): MegadetectorLite (animals), NanoDet COCO
(people and vehicles), MobileNetV2 ImageNet (the fine-tuning base) and the composite detector
that runs the first two as one. Where the files come from:

* ``--from DIR``: a folder laid out like ``shared/models/real/`` (``mdlite/``, ``nanodet_coco/``,
  ``mobilenet_v2_imagenet/``); it may also hold the zamba wheel or its ``.pth`` (anywhere in DIR),
  so a field station with no network installs from a USB stick;
* otherwise ``../shared/models/real`` beside the checkout (or the working folder) for the ONNX
  files, and the package index (pip) for the zamba wheel, said before it is fetched.

Packs already installed and intact are kept (the command is safe to run again); what could not
be found is said plainly and the rest is still installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...core.errors import WildlifeError
from ...runtime.defaults import save_defaults
from ...runtime.manifest import ModelManifest
from ...runtime.store import ModelStore

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    """One pack of the recommended set.

    Attributes:
        pack_id: the installed pack's id (an intact installed pack is kept).
        target: ``"module:function"`` called as ``function(store, source, notify=...)``.
        source: where its files are, relative to the models folder: a sub-folder name, ``"mdlite"``
            style; ``None`` for a pack made from other packs (the composite).
        network_fallback: the installer can fetch its source from the package index when no
            folder holds it (``source=None`` is passed).
    """

    pack_id: str
    target: str
    source: str | None
    network_fallback: bool = False


RECOMMENDED: Final[tuple[Step, ...]] = (
    Step("mdlite", "wildlife_desktop.training.packs.mdlite:install_mdlite", "mdlite", network_fallback=True),
    Step("nanodet-coco", "wildlife_desktop.training.packs.nanodet:install_nanodet", "nanodet_coco"),
    Step("mobilenetv2-imagenet", "wildlife_desktop.training.packs.mobilenet:install_mobilenet",
         "mobilenet_v2_imagenet"),
    Step("mdlite-nanodet", "wildlife_desktop.training.packs.composite:install_composite", None),
)
DEFAULT_DETECTOR: Final[str] = "mdlite-nanodet"
DEFAULT_FINETUNE_BASE: Final[str] = "mobilenetv2-imagenet"
SHARED_REAL: Final[tuple[str, ...]] = ("shared", "models", "real")


def find_real_models_dir(start: Path | None = None) -> Path | None:
    """``../shared/models/real`` beside the checkout (or the working folder), if present."""
    here = Path(__file__).resolve().parents[3]  # the checkout holding wildlife_desktop/
    for base in ([Path(start)] if start else []) + [Path.cwd(), here]:
        cand = base.parent.joinpath(*SHARED_REAL)
        if cand.is_dir():
            return cand
    return None


def _zamba_source(root: Path) -> Path | None:
    """A zamba wheel or MegadetectorLite ``.pth`` anywhere in ``root`` (the wheel first)."""
    for pattern in ("zamba-*.whl", "yolox_tiny_640_*.pth"):
        found = sorted(root.rglob(pattern))
        if found:
            return found[0]
    return None


def _source_for(step: Step, root: Path | None) -> Path | None:
    if root is None or step.source is None:
        return None
    if step.network_fallback:
        return _zamba_source(root)
    folder = root / step.source
    return folder if folder.is_dir() else None


def _intact(store: ModelStore, pack_id: str) -> bool:
    for mid, ok, _msg in store.verify():
        if mid == pack_id:
            return ok
    return False


def install_recommended(
    store: ModelStore, source: Path | None = None, *, notify: Notify = print, force: bool = False,
) -> ModelManifest:
    """Install the recommended real models and make the composite the default detector.

    Args:
        store: the model store to install into.
        source: a folder laid out like ``shared/models/real/`` (default: found beside the checkout).
        notify: receives one line per step.
        force: re-install packs that are already installed.

    Returns:
        The manifest of the default detector.

    Raises:
        WildlifeError: a pack could not be installed (the message names which and why; the
            packs before it stay installed).
    """
    root = Path(source) if source is not None else find_real_models_dir()
    if source is not None and not root.is_dir():
        raise WildlifeError(f"{source} is not a folder (expected one laid out like shared/models/real/)")
    notify(f"Model files from: {root if root else 'no local folder found'}")
    missing: list[str] = []
    for step in RECOMMENDED:
        if not force and _intact(store, step.pack_id):
            notify(f"{step.pack_id}: already installed")
            continue
        src = _source_for(step, root)
        if src is None and step.source is not None and not step.network_fallback:
            missing.append(f"{step.pack_id} (no {step.source}/ folder in {root or 'any models folder'})")
            notify(f"{step.pack_id}: NOT installed, its files were not found")
            continue
        module, func = step.target.split(":")
        installer = getattr(importlib.import_module(module), func)
        try:
            m = installer(store, src, notify=notify)
        except WildlifeError as exc:
            missing.append(f"{step.pack_id} ({exc})")
            notify(f"{step.pack_id}: NOT installed: {exc}")
            continue
        notify(f"{m.id}: installed ({m.name})")
    if missing:
        raise WildlifeError("Could not install: " + "; ".join(missing)
                            + ". Pass --from DIR with a folder laid out like shared/models/real/.")
    save_defaults(store.root, detector=DEFAULT_DETECTOR, finetune_base=DEFAULT_FINETUNE_BASE)
    m, _ = store.get(DEFAULT_DETECTOR)
    notify(f"Default detector: {m.id} ({m.name})")
    return m
