"""Per-folder result layers and their crash-safe journals.

Layout, next to the images (or, for a read-only folder, under the app's data folder)::

    <out>/.wildlife/state.json                  {"schema_version", "active_layer"}
    <out>/.wildlife/layers/<layer_id>/layer.json   what produced the layer (models, settings)
    <out>/.wildlife/layers/<layer_id>/journal.jsonl  one line per processed file

A *layer* is the output of one detector + classifier + stored-output settings. Running another
model, or the same model with another confidence floor or video sampling, makes a new layer;
two models' outputs are never mixed. The journal is append-only JSON lines, each carrying the
file's key (relative path, size, mtime) and a CRC of its payload. A process killed mid-line
leaves a torn last line, which the reader drops: at most the file in flight is processed again.
We append instead of rewriting (unlike every other file we write, which goes through
``core.atomic``) because rewriting a 1M-line journal per image would be quadratic.

One damaged file never makes a folder unusable: corrupt journal lines are skipped and the
files they held are named in :attr:`Journal.warnings` (they are processed again), and an
unreadable ``state.json`` is rebuilt from ``layers/`` (the most recently written layer becomes
the active one) with the damaged file kept as ``state.json.damaged``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..core.atomic import atomic_write_json, is_writable_dir
from ..core.codec import prediction_from_dict, prediction_to_dict
from ..core.errors import DatasetError, WildlifeError
from ..core.locks import write_lock
from ..core.paths import AppPaths
from ..core.records import MediaFile, Prediction

logger = logging.getLogger(__name__)

JOURNAL_SCHEMA_VERSION = 1
STATE_DIRNAME = ".wildlife"

FileKey = tuple[str, int, int]
_KEY_RE = re.compile(r'"k":\["((?:[^"\\]|\\.)*)"')
_MAX_NAMED = 10


def _lost_files_note(names: list[str], unnamed: int) -> str:
    shown = ", ".join(names[:_MAX_NAMED]) + (f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else "")
    parts = [f"files processed again: {shown}"] if names else []
    if unnamed:
        parts.append(f"{unnamed} line(s) without a readable file name")
    return "; ".join(parts)


@dataclass(frozen=True)
class LayerInfo:
    """What produced a result layer. Its identity fields determine ``layer_id``."""

    source: str  # "run" (our models) or "import" (a results file made elsewhere)
    detector: str  # model file name, written as info.detector in the MD file
    detector_id: str = ""
    detector_sha256: str = ""
    detector_version: str = ""
    classifier: str = ""
    classifier_id: str = ""
    classifier_sha256: str = ""
    classifier_labels: tuple[str, ...] = ()
    typical_threshold: float = 0.2
    conservative_threshold: float = 0.05
    typical_classification_threshold: float = 0.5
    random_weights: bool = False
    conf_floor: float = 0.005
    video_every_s: float = 1.0
    video_max_frames: int = 0
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def layer_id(self) -> str:
        ident = {
            "source": self.source,
            "detector": self.detector_sha256 or self.detector,
            "classifier": self.classifier_sha256 or self.classifier,
            "conf_floor": self.conf_floor,
            "video": [self.video_every_s, self.video_max_frames],
        }
        if self.source == "import":
            ident["import"] = self.extra.get("import_sha256", "")
        digest = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in (self.detector_id or self.detector))
        return f"{stem[:40]}-{digest}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classifier_labels"] = list(self.classifier_labels)
        d["layer_id"] = self.layer_id
        d["schema_version"] = JOURNAL_SCHEMA_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerInfo:
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["classifier_labels"] = tuple(d.get("classifier_labels", ()))
        return cls(**kwargs)


class Journal:
    """Append-only record of model output per file for one layer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self.warnings: tuple[str, ...] = ()  # from the last load: what was skipped, naming the files

    def load(self) -> dict[str, tuple[FileKey, Prediction]]:
        """Every file's latest entry; torn or corrupt lines are skipped (logged, in :attr:`warnings`)."""
        out: dict[str, tuple[FileKey, Prediction]] = {}
        self.warnings = ()
        if not self.path.exists():
            return out
        bad = 0
        bad_names: list[str] = []
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    if line.startswith('{"header"'):
                        continue
                    # The CRC covers the payload text exactly as written: check it on the raw line
                    # (re-serialising every payload made loading a 1M-line journal minutes long).
                    # '"p":' first occurs at the payload: "k" holds strings and ints, "crc" an int.
                    start = line.index(',"p":') + 5
                    end = line.rstrip("\r\n").rindex("}")
                    payload = line[start:end]
                    rec = json.loads(line)
                    if zlib.crc32(payload.encode()) != rec["crc"]:
                        raise ValueError("crc mismatch")
                    rel, size, mtime = rec["k"]
                    out[rel] = ((rel, int(size), int(mtime)), prediction_from_dict(rec["p"]))
                except (ValueError, KeyError, TypeError):
                    bad += 1
                    m = _KEY_RE.search(line)
                    try:
                        bad_names.append(json.loads(f'"{m.group(1)}"') if m else "")
                    except ValueError:
                        bad_names.append("")
        if bad:
            lost = sorted({n for n in bad_names if n and n not in out})
            unnamed = sum(1 for n in bad_names if not n)
            note = _lost_files_note(lost, unnamed)
            msg = f"{self.path}: skipped {bad} torn or corrupt journal line(s)" + (f"; {note}" if note else "")
            logger.warning("%s", msg)
            self.warnings = (msg,)
        return out

    def append(self, key: FileKey, prediction: Prediction) -> None:
        if self._fh is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._fh = open(self.path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115
            if new:
                self._fh.write(json.dumps({"header": True, "schema_version": JOURNAL_SCHEMA_VERSION}) + "\n")
            elif not self._ends_with_newline():
                self._fh.write("\n")  # a torn line from a killed run: never glue onto it
        payload = json.dumps(prediction_to_dict(prediction), sort_keys=True, separators=(",", ":"))
        crc = zlib.crc32(payload.encode())
        self._fh.write(f'{{"k":{json.dumps(list(key), ensure_ascii=False)},"crc":{crc},"p":{payload}}}\n')
        self._fh.flush()  # survives kill -9 (the OS has it); sync() also survives power loss

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def sync(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None


@dataclass(frozen=True)
class Workspace:
    """The per-folder state of one image folder: where outputs go, which layers exist."""

    folder: Path  # the folder the user processed (images)
    out_dir: Path  # where sidecars and .wildlife/ live: ``folder`` itself unless it is read-only
    notes: list[str] = field(default_factory=list, compare=False, repr=False)  # see ``warnings``

    @property
    def warnings(self) -> tuple[str, ...]:
        """What was repaired while reading this workspace (a rebuilt ``state.json``)."""
        return tuple(self.notes)

    @property
    def state_dir(self) -> Path:
        return self.out_dir / STATE_DIRNAME

    @property
    def redirected(self) -> bool:
        return self.out_dir != self.folder

    @classmethod
    def locate(cls, folder: Path, paths: AppPaths, *, create: bool) -> Workspace | None:
        """Find the folder's workspace; with ``create``, make one (in a fallback if read-only)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f"Not a folder: {folder}")
        fallback = paths.fallback_output_dir(folder)
        for cand in (folder, fallback):
            if (cand / STATE_DIRNAME / "state.json").exists() or (cand / STATE_DIRNAME / "layers").is_dir():
                return cls(folder, cand)
        if not create:
            return None
        out = folder if is_writable_dir(folder) else fallback
        ws = cls(folder, out)
        ws.state_dir.mkdir(parents=True, exist_ok=True)
        with write_lock(ws.state_dir):  # another process may be creating it too, or tidying temp files
            if not (ws.state_dir / "state.json").exists():
                atomic_write_json(ws.state_dir / "state.json", {"schema_version": JOURNAL_SCHEMA_VERSION,
                                                                "active_layer": None})
        return ws

    def _state(self, *, save_rebuilt: bool = True) -> dict[str, Any]:
        path = self.state_dir / "state.json"
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            active = state.get("active_layer") if isinstance(state, dict) else None
            if not isinstance(state, dict) or not (active is None or active in self.layers()):
                raise ValueError("not a workspace state" if not isinstance(state, dict)
                                 else f"active layer {str(active)[:80]!r} does not exist")
            return state
        except (OSError, ValueError, TypeError) as exc:
            return self._rebuild_state(path, exc, save=save_rebuilt)

    def _rebuild_state(self, path: Path, why: Exception, *, save: bool = True) -> dict[str, Any]:
        """A state from ``layers/`` (the layer whose journal was written last is active); the damaged file is kept."""
        def written(lid: str) -> float:
            d = self.layer_dir(lid)
            return max((p.stat().st_mtime for p in (d / "journal.jsonl", d / "layer.json") if p.exists()), default=0.0)

        layers = self.layers()
        state = {"schema_version": JOURNAL_SCHEMA_VERSION, "active_layer": max(layers, key=written) if layers else None}
        kept = ""
        try:
            with write_lock(self.state_dir) if save else contextlib.nullcontext():
                if path.exists():
                    backup = path.with_name("state.json.damaged")
                    os.replace(path, backup)
                    kept = f"; the damaged file is kept as {backup.name}"
                atomic_write_json(path, state)
        except (OSError, WildlifeError) as exc:  # read-only: use the rebuilt state without saving it
            logger.info("could not save the rebuilt %s: %s", path, exc)
        reason = why.strerror if isinstance(why, OSError) and why.strerror else str(why)
        msg = (f"{path} was unreadable ({reason[:200]}); rebuilt from {self.state_dir / 'layers'}, "
               f"active layer {state['active_layer']}{kept}")
        logger.warning("%s", msg)
        self.notes.append(msg)
        return state

    @property
    def active_layer_id(self) -> str | None:
        return self._state().get("active_layer")

    def set_active(self, layer_id: str) -> None:
        """Make ``layer_id`` the active layer (under the folder's write lock, like every state change)."""
        with write_lock(self.state_dir):
            state = self._state(save_rebuilt=False)
            state["active_layer"] = layer_id
            state["schema_version"] = JOURNAL_SCHEMA_VERSION
            atomic_write_json(self.state_dir / "state.json", state)

    def layer_dir(self, layer_id: str) -> Path:
        return self.state_dir / "layers" / layer_id

    def ensure_layer(self, info: LayerInfo) -> str:
        """Create the layer folder (once) and return its id."""
        lid = info.layer_id
        d = self.layer_dir(lid)
        if not (d / "layer.json").exists():
            d.mkdir(parents=True, exist_ok=True)
            atomic_write_json(d / "layer.json", info.to_dict())
        return lid

    def layer_info(self, layer_id: str) -> LayerInfo:
        try:
            d = json.loads((self.layer_dir(layer_id) / "layer.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"Unreadable result layer {layer_id}: {exc}") from exc
        return LayerInfo.from_dict(d)

    def layers(self) -> list[str]:
        root = self.state_dir / "layers"
        return sorted(p.name for p in root.iterdir() if (p / "layer.json").exists()) if root.exists() else []

    def journal(self, layer_id: str) -> Journal:
        return Journal(self.layer_dir(layer_id) / "journal.jsonl")


def current_entries(
    entries: dict[str, tuple[FileKey, Prediction]], files: tuple[MediaFile, ...]
) -> dict[str, Prediction]:
    """Journal entries whose key still matches the file on disk (changed files are re-done)."""
    out: dict[str, Prediction] = {}
    for f in files:
        hit = entries.get(f.rel_path)
        if hit is not None and hit[0] == f.key:
            out[f.rel_path] = hit[1]
    return out
