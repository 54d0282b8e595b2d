"""``models install recommended``: the three real models and the default detector, in one step.

The recommended set is data (:data:`RECOMMENDED`): MegadetectorLite (animals), NanoDet COCO
(people and vehicles), MobileNetV2 ImageNet (the fine-tuning base) and the composite detector
that runs the first two as one. Where the files come from:

* ``--from DIR``: a folder laid out like ``shared/models/real/`` (``mdlite/``, ``nanodet_coco/``,
  ``mobilenet_v2_imagenet/``); it may also hold the zamba wheel or its ``.pth`` (anywhere in DIR),
  so a field station with no network installs from a USB stick;
* otherwise ``../shared/models/real`` beside the checkout (or the working folder) for the ONNX
  files, and the package index (pip) for the zamba wheel, said before it is fetched.

Packs already installed, intact and made by the same recipe are kept (the command is safe to run
again); a pack made by an older recipe (an upgraded app whose converter or thresholds changed) is
made again. What could not be found is said plainly and the rest is still installed.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ...core.atomic import atomic_write_json
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
        recipe: modules whose source decides what the pack holds (converter, thresholds); a
            change in any of them makes the pack again.
    """

    pack_id: str
    target: str
    source: str | None
    network_fallback: bool = False
    recipe: tuple[str, ...] = ()

    def recipe_digest(self) -> str:
        """sha256 of the recipe modules' source (and the installer's own module)."""
        h = hashlib.sha256()
        for name in (self.target.split(":")[0], *self.recipe):
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec else None
            h.update(name.encode() + b"\0" + (Path(origin).read_bytes() if origin else b"?"))
        return h.hexdigest()


_PACKS = "wildlife_desktop.training.packs."
RECOMMENDED: Final[tuple[Step, ...]] = (
    Step("mdlite", _PACKS + "mdlite:install_mdlite", "mdlite", network_fallback=True,
         recipe=(_PACKS + "yolox_onnx", _PACKS + "torch_checkpoint")),
    Step("nanodet-coco", _PACKS + "nanodet:install_nanodet", "nanodet_coco"),
    Step("mobilenetv2-imagenet", _PACKS + "mobilenet:install_mobilenet", "mobilenet_v2_imagenet"),
    Step("mdlite-nanodet", _PACKS + "composite:install_composite", None, recipe=(_PACKS + "nanodet",)),
)
RECIPES_NAME: Final[str] = "recommended.json"
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


def _recipes(store: ModelStore) -> dict[str, str]:
    try:
        data = json.loads((store.root / RECIPES_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _current(store: ModelStore, step: Step, recipes: dict[str, str]) -> bool:
    """Installed, intact and made by this recipe."""
    return recipes.get(step.pack_id) == step.recipe_digest() and _intact(store, step.pack_id)


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
    recipes = _recipes(store)
    for step in RECOMMENDED:
        if not force and _current(store, step, recipes):
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
        recipes[step.pack_id] = step.recipe_digest()
        atomic_write_json(store.root / RECIPES_NAME, recipes)
    if missing:
        raise WildlifeError("Could not install: " + "; ".join(missing)
                            + ". Pass --from DIR with a folder laid out like shared/models/real/.")
    save_defaults(store.root, detector=DEFAULT_DETECTOR, finetune_base=DEFAULT_FINETUNE_BASE)
    m, _ = store.get(DEFAULT_DETECTOR)
    notify(f"Default detector: {m.id} ({m.name})")
    return m
