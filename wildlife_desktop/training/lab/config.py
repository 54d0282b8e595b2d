"""The typed, versioned configuration of a training run: load, override, save, reproduce.

The configuration *is* :class:`~..finetune.run.FinetuneConfig` (a frozen dataclass; its
``to_dict`` carries ``config_version`` and is saved in every pack's ``training_report.json``
under ``config``). This module reads one from a TOML file (``tomllib``), a JSON file, or a
training report (its ``config`` section: the run is reproduced from its record), applies
``key=value`` overrides typed by the dataclass's fields, and refuses unknown keys, wrong types
and newer versions with one sentence. No Hydra: a desktop app needs one flat section.

Example ``train.toml``::

    config_version = 1
    folders = ["/data/season1", "/data/season2"]
    base_model_id = "mobilenetv2-imagenet"
    name = "Kenya mammals"
    l2 = 0.001
    split = "site"
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Literal

from ...core.atomic import atomic_write_json
from ...core.errors import WildlifeError
from ..finetune.run import CONFIG_VERSION, FinetuneConfig

RUN_CONFIG_NAME = "training_config.json"


class ConfigError(WildlifeError):
    """A configuration file or override that cannot be used (one sentence)."""


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(FinetuneConfig)


def known_keys() -> tuple[str, ...]:
    return tuple(f.name for f in fields(FinetuneConfig))


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` (a string from the command line, or a TOML/JSON value) as the field's type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key} must be one of {', '.join(map(str, args))}, not {value!r}.")
        return value
    if origin is tuple:  # the folders
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key} must be a list, not {value!r}.")
        return tuple(Path(str(x).strip()) for x in items if str(x).strip())
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key} must be true or false, not {value!r}.")
    if hint in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, not {value!r}.")
        try:
            number = hint(value) if hint is float or isinstance(value, (int, str)) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (hint is int and isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{key} must be {'an integer' if hint is int else 'a number'}, not {value!r}.")
        return number
    if hint is str:
        return str(value)
    raise ConfigError(f"{key}: unsupported type {hint}")  # pragma: no cover - every field's type is handled


def from_mapping(values: Mapping[str, Any]) -> FinetuneConfig:
    """A config from plain values (unknown keys and bad types refused; ``config_version`` checked)."""
    values = dict(values)
    version = values.pop("config_version", CONFIG_VERSION)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise ConfigError(f"config_version {version!r} is newer than this app reads ({CONFIG_VERSION}): "
                          "update the app.")
    unknown = sorted(set(values) - set(known_keys()))
    if unknown:
        raise ConfigError(f"Unknown setting(s) {', '.join(unknown)}; known: {', '.join(known_keys())}.")
    hints = _hints()
    typed = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    missing = [f.name for f in fields(FinetuneConfig)
               if f.default is MISSING and f.default_factory is MISSING and f.name not in typed]
    if missing:
        raise ConfigError(f"The configuration lacks {', '.join(missing)}.")
    return FinetuneConfig(**typed)


def read_values(path: Path) -> dict[str, Any]:
    """Values of a ``.toml`` or ``.json`` configuration, or of a training report's ``config`` section."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the configuration {path}: {exc.strerror or exc}") from exc
    toml = path.suffix.lower() == ".toml"
    if toml:
        try:
            import tomllib
        except ImportError as exc:  # Python 3.10
            raise ConfigError("Reading TOML needs Python 3.11 or later: write the configuration as JSON.") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8")) if toml else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings.")
    if isinstance(data.get("config"), dict) and "model_id" in data:  # a training_report.json
        data = dict(data["config"])
    if isinstance(data.get("training"), dict) and "folders" not in data:  # a [training] table
        data = dict(data["training"])
    return data


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """``["l2=0.01", "split=site"]`` -> ``{"l2": "0.01", "split": "site"}`` (typed later by :func:`from_mapping`)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"An override is key=value, not {item!r}.")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def is_override(arg: str) -> bool:
    """A command-line word that is ``key=value`` for a known key (a folder path never is)."""
    key, sep, _ = arg.partition("=")
    return bool(sep) and key.strip().replace("-", "_") in known_keys()


def build_config(path: Path | None, base: Mapping[str, Any], overrides: Sequence[str] = ()) -> FinetuneConfig:
    """``base`` (e.g. the CLI's flags) < the file's values < ``key=value`` overrides."""
    values = dict(base)
    if path is not None:
        values.update(read_values(path))
    values.update(parse_overrides(overrides))
    return from_mapping(values)


def save_run_config(pack_dir: Path, config: FinetuneConfig) -> Path:
    """Write the run's configuration beside its pack (``training_config.json``); reload with :func:`read_values`."""
    path = Path(pack_dir) / RUN_CONFIG_NAME
    atomic_write_json(path, config.to_dict())
    return path
