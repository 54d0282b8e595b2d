"""Which installed model the app uses when the user names none (``<models>/defaults.json``).

``wildlife-desktop models install recommended`` sets the default detector (the composite of the
real models) and the default fine-tuning base; ``models default --detector ID`` changes it. When
nothing is stored, or the stored model was removed, the first installed detector with real
weights is used, so a fresh install never picks a random-weight twin while a real model exists.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Final

from ..core.atomic import atomic_write_json
from .manifest import ModelManifest

DEFAULTS_NAME: Final[str] = "defaults.json"
DEFAULTS_SCHEMA_VERSION: Final[int] = 1


@dataclass(frozen=True)
class ModelDefaults:
    """Stored model choices (ids; ``None`` = not chosen)."""

    detector: str | None = None
    classifier: str | None = None
    finetune_base: str | None = None


def _path(models_root: Path) -> Path:
    return Path(models_root) / DEFAULTS_NAME


def load_defaults(models_root: Path) -> ModelDefaults:
    """The stored choices; a missing or unreadable file reads as "nothing chosen" (never raises)."""
    try:
        data = json.loads(_path(models_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ModelDefaults()
    if not isinstance(data, dict):
        return ModelDefaults()
    kept = {f.name: data.get(f.name) for f in fields(ModelDefaults)}
    return ModelDefaults(**{k: v if isinstance(v, str) and v else None for k, v in kept.items()})


def save_defaults(models_root: Path, **changes: str | None) -> ModelDefaults:
    """Change some choices (``detector=``, ``classifier=``, ``finetune_base=``) and store them atomically."""
    current = replace(load_defaults(models_root), **changes)
    Path(models_root).mkdir(parents=True, exist_ok=True)
    atomic_write_json(_path(models_root), {"schema_version": DEFAULTS_SCHEMA_VERSION, **asdict(current)})
    return current


def choose(installed: list[ModelManifest], stored: str | None, task: str) -> str | None:
    """The id to use for ``task``: the stored choice if installed, else the first real model, else any."""
    candidates = [m for m in installed if m.task == task]
    ids = {m.id for m in candidates}
    if stored in ids:
        return stored
    real = [m for m in candidates if not m.random_weights]
    pick = real or candidates
    return pick[0].id if pick else None
