"""Model versions and their stages (none / staging / production / archived): ``<models>/registry.json``.

A *registered model* is a name (the slug of a fine-tuned classifier, e.g. ``kenya-mammals``);
its *versions* are the installed packs ``<name>-v<N>``. Each version has one stage, kept as
data in one small JSON file written atomically (MLflow's registry, when installed, only mirrors
it: the field app never needs MLflow to run):

* ``production``: the version *Run AI* uses when the name is chosen (:func:`resolve`); at most
  one per name. Without one, the newest version that is not archived is used.
* ``staging``: a candidate (a new fine-tune of a name that already has a production version);
* ``archived``: replaced or rolled back; still installed and still pickable by its id;
* ``none``: no stage (packs made before the registry, or demoted by hand).

Each name keeps its production history (a stack): :func:`promote` pushes a version,
:func:`rollback` pops the current one (archived) and restores the one before it. An
*evaluation* (the A/B comparison of a candidate with the production version on the user's own
held-out crops) is recorded per candidate; :func:`promote` refuses a candidate without one
against the current production version unless forced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from ..core.atomic import atomic_write_json
from ..core.errors import WildlifeError
from .manifest import ModelManifest

REGISTRY_NAME: Final[str] = "registry.json"
REGISTRY_SCHEMA_VERSION: Final[int] = 1
STAGES: Final[tuple[str, ...]] = ("none", "staging", "production", "archived")
_VERSION_RE = re.compile(r"^(?P<name>.+)-v(?P<n>\d+)$")


class StageError(WildlifeError):
    """A promote or rollback that cannot be done (the message says why, in one sentence)."""


def split_version(model_id: str) -> tuple[str, int] | None:
    """``"kenya-v3"`` -> ``("kenya", 3)``; ``None`` for an id without a version suffix."""
    m = _VERSION_RE.match(model_id)
    return (m.group("name"), int(m.group("n"))) if m else None


@dataclass(frozen=True)
class ModelVersion:
    """One installed version of a registered model."""

    model_id: str  # the pack id, "<name>-v<N>"
    name: str
    version: int
    stage: str
    evaluated_against: str | None = None  # production id the recorded evaluation compared it with


@dataclass(frozen=True)
class Registry:
    """The registry file's content (see the module docstring)."""

    stages: dict[str, str]  # pack id -> stage
    production_history: dict[str, list[str]]  # name -> pack ids that were production, oldest first
    evaluations: dict[str, dict[str, Any]]  # candidate pack id -> {"against", "time", "summary", "path"}
    history: list[dict[str, Any]]  # every stage change: time, model_id, stage, previous, reason

    def stage(self, model_id: str) -> str:
        return self.stages.get(model_id, "none")


def _path(models_root: Path) -> Path:
    return Path(models_root) / REGISTRY_NAME


def load_registry(models_root: Path) -> Registry:
    """The stored registry; a missing or unreadable file reads as empty (never raises)."""
    try:
        data = json.loads(_path(models_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}

    def dict_of(key: str) -> dict[str, Any]:
        v = data.get(key)
        return dict(v) if isinstance(v, dict) else {}

    stages = {str(k): v for k, v in dict_of("stages").items() if v in STAGES}
    prod = {str(k): [str(x) for x in v] for k, v in dict_of("production_history").items() if isinstance(v, list)}
    evals = {str(k): v for k, v in dict_of("evaluations").items() if isinstance(v, dict)}
    hist = [h for h in data.get("history", []) if isinstance(h, dict)] if isinstance(data.get("history"), list) else []
    return Registry(stages, prod, evals, hist)


def _save(models_root: Path, reg: Registry) -> None:
    Path(models_root).mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        _path(models_root),
        {
            "schema_version": REGISTRY_SCHEMA_VERSION,
            "stages": dict(sorted(reg.stages.items())),
            "production_history": reg.production_history,
            "evaluations": reg.evaluations,
            "history": reg.history[-500:],
        },
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _set(reg: Registry, model_id: str, stage: str, reason: str) -> None:
    previous = reg.stage(model_id)
    if previous == stage:
        return
    reg.stages[model_id] = stage
    reg.history.append({"time": _now(), "model_id": model_id, "stage": stage, "previous": previous, "reason": reason})


def versions(models_root: Path, installed: Iterable[str], name: str) -> list[ModelVersion]:
    """The installed versions of ``name``, oldest first, with their stages."""
    reg = load_registry(models_root)
    out = []
    for model_id in installed:
        sv = split_version(model_id)
        if sv and sv[0] == name:
            ev = reg.evaluations.get(model_id)
            out.append(ModelVersion(model_id, name, sv[1], reg.stage(model_id), ev.get("against") if ev else None))
    return sorted(out, key=lambda v: v.version)


def names(installed: Iterable[str]) -> list[str]:
    """Names that have at least one installed ``<name>-v<N>`` pack, sorted."""
    return sorted({sv[0] for i in installed if (sv := split_version(i))})


def production_of(models_root: Path, installed: Sequence[str], name: str) -> str | None:
    """The production version of ``name`` when it is installed, else ``None``."""
    prod = [v.model_id for v in versions(models_root, installed, name) if v.stage == "production"]
    return prod[-1] if prod else None


def resolve(models_root: Path, installed: Sequence[str], ref: str) -> str | None:
    """The pack id ``ref`` stands for: an installed pack id as it is; a name -> its production
    version, else its newest version that is not archived, else ``None``; ``NAME@N`` -> ``NAME-vN``."""
    if ref in installed:
        return ref
    if "@" in ref:
        name, _, n = ref.rpartition("@")
        wanted = f"{name}-v{n.lstrip('vV')}"
        return wanted if wanted in installed else None
    vs = versions(models_root, installed, ref)
    if not vs:
        return None
    prod = [v for v in vs if v.stage == "production"]
    if prod:
        return prod[-1].model_id
    live = [v for v in vs if v.stage != "archived"]
    return live[-1].model_id if live else None


def _target(models_root: Path, installed: Sequence[str], ref: str) -> ModelVersion:
    """The version ``ref`` (``NAME``, ``NAME@N`` or ``NAME-vN``) names for a promote."""
    if "@" in ref:
        name, _, n = ref.rpartition("@")
        ref = f"{name}-v{n.lstrip('vV')}"
    sv = split_version(ref)
    if sv and ref in installed:
        name = sv[0]
        return next(v for v in versions(models_root, installed, name) if v.model_id == ref)
    vs = versions(models_root, installed, ref)
    if not vs:
        known = ", ".join(names(installed)) or "none"
        raise StageError(f"No installed versions of '{ref}' (versioned models: {known}).")
    candidates = [v for v in vs if v.stage != "production"]
    if not candidates:
        raise StageError(f"'{ref}' has no version to promote: {vs[-1].model_id} is already in production.")
    return candidates[-1]


def register_version(models_root: Path, installed: Sequence[str], model_id: str) -> str:
    """Stage a newly registered version: production when its name has no production version yet
    (nothing to compare it with), else staging. Returns the stage given."""
    sv = split_version(model_id)
    if sv is None:
        return "none"
    reg = load_registry(models_root)
    others = [i for i in installed if i != model_id]
    if production_of(models_root, others, sv[0]) is None:
        _set(reg, model_id, "production", "first version of its name")
        reg.production_history.setdefault(sv[0], []).append(model_id)
        stage = "production"
    else:
        _set(reg, model_id, "staging", "new fine-tuned version")
        stage = "staging"
    _save(models_root, reg)
    return stage


def record_evaluation(models_root: Path, candidate: str, against: str | None, summary: dict[str, Any],
                      path: Path | None = None) -> None:
    """Remember that ``candidate`` was compared with ``against`` (its production version) on held-out crops."""
    reg = load_registry(models_root)
    reg.evaluations[candidate] = {"against": against, "time": _now(), "summary": summary,
                                  "path": str(path) if path else None}
    _save(models_root, reg)


def promote(models_root: Path, installed: Sequence[str], ref: str, *, force: bool = False) -> ModelVersion:
    """Make a version production (``NAME`` = its newest non-production version); the previous
    production version is archived.

    Raises:
        StageError: no such version; or it has no recorded evaluation against the current production
            version (``force`` skips that check).
    """
    target = _target(models_root, installed, ref)
    current = production_of(models_root, installed, target.name)
    reg = load_registry(models_root)
    ev = reg.evaluations.get(target.model_id)
    if current is not None and not force and (ev is None or ev.get("against") != current):
        raise StageError(
            f"{target.model_id} has not been compared with the production version {current} on your "
            f"held-out crops: run 'wildlife-desktop models evaluate {target.model_id}' first, or promote with --force."
        )
    if current is not None:
        _set(reg, current, "archived", f"replaced by {target.model_id}")
    _set(reg, target.model_id, "production", "promoted" + (" (forced, not evaluated)" if force and ev is None else ""))
    stack = [i for i in reg.production_history.get(target.name, []) if i != target.model_id]
    reg.production_history[target.name] = [*stack, target.model_id]
    _save(models_root, reg)
    return ModelVersion(target.model_id, target.name, target.version, "production")


def rollback(models_root: Path, installed: Sequence[str], ref: str) -> tuple[str, str]:
    """Archive the production version of ``ref``'s name and restore the production version before it.

    Returns:
        ``(archived id, restored id)``.

    Raises:
        StageError: no production version, or no earlier one still installed.
    """
    sv = split_version(ref)
    name = sv[0] if sv and ref in installed else ref.rpartition("@")[0] or ref
    current = production_of(models_root, installed, name)
    if current is None:
        raise StageError(f"'{name}' has no production version to roll back.")
    reg = load_registry(models_root)
    stack = [i for i in reg.production_history.get(name, []) if i in installed and i != current]
    if not stack:
        raise StageError(f"'{name}' has no earlier production version to go back to ({current} is the only one).")
    restored = stack[-1]
    _set(reg, current, "archived", f"rolled back to {restored}")
    _set(reg, restored, "production", f"rollback from {current}")
    reg.production_history[name] = stack
    _save(models_root, reg)
    return current, restored


def classifier_choices(models_root: Path, manifests: Sequence[ModelManifest]) -> list[tuple[str, str, str]]:
    """The run panel's classifier entries ``(text, data, pack id it stands for now)``: each versioned name
    once (its data is the name, so a run resolves it to the production version), then every other
    classifier by id; the explicit versions follow their name, indented, for picking one on purpose."""
    clss = [m for m in manifests if m.task == "classification"]
    installed = [m.id for m in clss]
    reg = load_registry(models_root)
    out: list[tuple[str, str, str]] = []
    done: set[str] = set()
    for m in clss:
        sv = split_version(m.id)
        suffix = "  (random weights)" if m.random_weights else ""
        if sv is None:
            out.append((f"{m.name} {m.version}{suffix}", m.id, m.id))
            continue
        name = sv[0]
        if name in done:
            continue
        done.add(name)
        vs = versions(models_root, installed, name)
        chosen = resolve(models_root, installed, name)
        if chosen is None:  # every version archived: only explicit picks
            out += [(f"    {name} v{v.version} · {v.stage}", v.model_id, v.model_id) for v in vs]
            continue
        label = next((x.name for x in clss if x.id == chosen), name)
        stage = "production" if reg.stage(chosen) == "production" else "newest"
        out.append((f"{label} ({stage}: v{chosen.rsplit('-v', 1)[1]}){suffix}", name, chosen))
        out += [(f"    {name} v{v.version} · {v.stage}", v.model_id, v.model_id) for v in vs]
    return out
