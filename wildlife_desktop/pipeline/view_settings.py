"""Display thresholds per folder and per model, kept between sessions (Qt-free).

The Detection / Classification sliders are the user's: a run ending, a cancel, an import or
opening another folder never moves them. What they were last set to is kept per image folder
and per model (the detector that made the results shown), in one small JSON file in the app's
config folder (``view_settings.json``, written atomically). The app config is used rather than
the folder's ``.wildlife/`` so that moving a slider never writes into the user's data, and a
read-only card keeps its settings too. A folder and model never seen start at the model's
``typical_threshold`` (from its manifest, or from the imported file's metadata).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..core.atomic import atomic_write_json

logger = logging.getLogger(__name__)

FILE_NAME: Final[str] = "view_settings.json"
SCHEMA_VERSION: Final[int] = 1
MAX_FOLDERS: Final[int] = 500  # the oldest folders are forgotten beyond this (the file stays small)


@dataclass(frozen=True)
class ViewThresholds:
    """The display thresholds (0..1) the user chose for one folder and model."""

    detection: float
    classification: float


def model_key(layer: Any) -> str:
    """The key of the model that made a result layer (``pipeline.journal.LayerInfo``).

    A run layer is keyed by the installed detector's id (what the run panel selects); an
    imported layer by ``import:<detector name in the file>``.
    """
    if getattr(layer, "source", "run") == "import":
        return f"import:{getattr(layer, 'detector', '') or 'unknown'}"
    return str(getattr(layer, "detector_id", "") or getattr(layer, "detector", "") or "unknown")


def _clamp(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return min(1.0, max(0.0, v)) if v == v else None  # NaN is not a threshold


class ViewSettingsStore:
    """``view_settings.json``: ``{"folders": {"<resolved folder>": {"<model key>": {...}}}}``.

    Read once, then kept in memory; :meth:`put` returns the data to write and :meth:`save` writes
    it (callers may do that off the GUI thread). A damaged file is logged and started afresh.
    """

    def __init__(self, config_dir: Path) -> None:
        self.path = Path(config_dir) / FILE_NAME
        self._folders: dict[str, dict[str, dict[str, float]]] = self._read()

    def _read(self) -> dict[str, dict[str, dict[str, float]]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable %s: %s", self.path, exc)
            return {}
        folders = raw.get("folders") if isinstance(raw, dict) else None
        if not isinstance(folders, dict):
            return {}
        return {str(k): dict(v) for k, v in folders.items() if isinstance(v, dict)}

    @staticmethod
    def _folder_key(folder: Path) -> str:
        try:
            return str(Path(folder).resolve())
        except OSError:
            return str(Path(folder).absolute())

    def get(self, folder: Path, model: str) -> ViewThresholds | None:
        """The thresholds last chosen for ``folder`` and ``model``, or None."""
        entry = self._folders.get(self._folder_key(folder), {}).get(model)
        if not isinstance(entry, dict):
            return None
        det, cls = _clamp(entry.get("detection")), _clamp(entry.get("classification"))
        if det is None or cls is None:
            return None
        return ViewThresholds(det, cls)

    def put(self, folder: Path, model: str, thresholds: ViewThresholds) -> dict[str, Any]:
        """Remember ``thresholds`` for ``folder`` and ``model``; the document to :meth:`save`."""
        key = self._folder_key(folder)
        entry = self._folders.pop(key, {})  # re-inserted last: the most recently used folder
        entry[model] = {"detection": round(thresholds.detection, 4),
                        "classification": round(thresholds.classification, 4)}
        self._folders[key] = entry
        while len(self._folders) > MAX_FOLDERS:
            del self._folders[next(iter(self._folders))]
        return {"schema_version": SCHEMA_VERSION, "folders": {k: dict(v) for k, v in self._folders.items()}}

    def save(self, document: dict[str, Any]) -> None:
        """Write a document made by :meth:`put` atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, document)
