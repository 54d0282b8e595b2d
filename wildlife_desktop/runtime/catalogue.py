"""The catalogue of real models we know how to build into packs (``assets/model_catalogue.json``).

Qt-free and torch-free: the CLI, the GUI and the pack builder all read it. The catalogue records
where the official weights live, the checksums upstream publishes (``None`` when none is
published: such downloads are marked *unverified*), the licences of the weights and of the code
the ONNX graph is exported from, and whether a pack may be bundled in our installers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

from ..core.errors import ModelPackError
from .families import FAMILIES, LETTERBOX_MODES

CATALOGUE_RESOURCE: Final[str] = "model_catalogue.json"
PERMISSIVE_LICENCES: Final[frozenset[str]] = frozenset({"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause"})
DISTRIBUTIONS: Final[tuple[str, ...]] = ("bundled", "user-import")
BUILDERS: Final[tuple[str, ...]] = ("yolov5", "ultralytics", "pw_rtdetr_apache", "pw_resnet", "unsupported")


@dataclass(frozen=True)
class WeightSource:
    """One official download location of a weights file."""

    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    checksum_source: str = ""

    @property
    def verified(self) -> bool:
        """True when upstream publishes a checksum for this file."""
        return bool(self.md5 or self.sha256)


@dataclass(frozen=True)
class CatalogueEntry:
    """One supported model (see ``docs/models.md`` for the meaning of each field)."""

    id: str
    name: str
    version: str
    task: str
    family: str
    architecture: str
    builder: str
    input_size: int
    labels: tuple[str, ...]
    typical_threshold: float
    conservative_threshold: float
    sources: tuple[WeightSource, ...]
    weights_licence: str
    code_licence: str
    code: str
    distribution: str
    citation: str
    nms_iou: float = 0.45
    stride: int = 32
    letterbox: str | None = None
    dynamic_input: bool = False
    resnet_layers: int | None = None
    verified: tuple[tuple[str, bool], ...] = ()
    notes: str = ""

    @property
    def bundleable(self) -> bool:
        """Weights *and* exported code are under permissive licences, and we chose to bundle it."""
        return (self.distribution == "bundled" and is_permissive(self.weights_licence)
                and is_permissive(self.code_licence))

    @property
    def licence_acceptance_required(self) -> bool:
        """True when a user must accept the licence before importing the pack."""
        return not (is_permissive(self.weights_licence) and is_permissive(self.code_licence))

    @property
    def licence_summary(self) -> str:
        """One line for the CLI / UI: weights and code licences."""
        return f"weights: {self.weights_licence}; code the model was exported from: {self.code_licence}"

    def verified_dict(self) -> dict[str, bool]:
        """Which facts were checked against upstream (url, checksum, thresholds, architecture, citation)."""
        return dict(self.verified)

    def source_for(self, filename: str) -> WeightSource | None:
        """The source whose file name matches ``filename`` (case-insensitive), if any."""
        low = filename.lower()
        return next((s for s in self.sources if s.filename.lower() == low), None)


@dataclass(frozen=True)
class Catalogue:
    """All catalogue entries plus the shared citation texts."""

    entries: tuple[CatalogueEntry, ...]
    citations: tuple[tuple[str, str], ...]
    licence_rule: str

    def get(self, model_id: str) -> CatalogueEntry:
        """Look up an entry by id (case-insensitive).

        Raises:
            ModelPackError: unknown id (the message lists the known ones).
        """
        low = model_id.lower()
        for e in self.entries:
            if e.id.lower() == low:
                return e
        raise ModelPackError(f"'{model_id}' is not in the model catalogue; known: "
                             f"{', '.join(e.id for e in self.entries)}")

    def find_by_filename(self, filename: str) -> CatalogueEntry | None:
        """The entry one of whose official files is called ``filename``."""
        return next((e for e in self.entries if e.source_for(filename) is not None), None)

    def citation_text(self, entry: CatalogueEntry) -> str:
        """The full citation of an entry (its ``citation`` may be a key of the shared citations)."""
        return dict(self.citations).get(entry.citation, entry.citation)


def is_permissive(licence: str) -> bool:
    """True for licences that allow bundling in a closed installer without copyleft duties."""
    return licence.strip() in PERMISSIVE_LICENCES


def _entry(raw: dict[str, Any]) -> CatalogueEntry:
    mid = raw.get("id", "?")
    try:
        sources = tuple(WeightSource(**s) for s in raw["sources"])
        data = {k: v for k, v in raw.items() if k != "sources"}
        data["labels"] = tuple(str(x) for x in data["labels"])
        data["verified"] = tuple(sorted((str(k), bool(v)) for k, v in dict(data.get("verified", {})).items()))
        entry = CatalogueEntry(sources=sources, **data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackError(f"Model catalogue entry '{mid}' is malformed: {exc}") from exc
    problems = []
    spec = FAMILIES.get(entry.family)
    if spec is None:
        problems.append(f"unknown family {entry.family!r}")
    elif spec.task != entry.task:
        problems.append(f"task {entry.task!r} does not match family {entry.family!r}")
    if entry.builder not in BUILDERS:
        problems.append(f"unknown builder {entry.builder!r}")
    if entry.distribution not in DISTRIBUTIONS:
        problems.append(f"distribution must be one of {DISTRIBUTIONS}")
    if entry.distribution == "bundled" and not entry.bundleable:
        problems.append("marked 'bundled' but its weights or code licence is not permissive")
    if entry.letterbox is not None and entry.letterbox not in LETTERBOX_MODES:
        problems.append(f"unknown letterbox {entry.letterbox!r}")
    if not entry.sources:
        problems.append("no sources")
    for s in entry.sources:
        if s.md5 is not None and (len(s.md5) != 32 or any(c not in "0123456789abcdef" for c in s.md5)):
            problems.append(f"bad md5 for {s.filename}")
        if s.sha256 is not None and len(s.sha256) != 64:
            problems.append(f"bad sha256 for {s.filename}")
    if problems:
        raise ModelPackError(f"Model catalogue entry '{mid}': {'; '.join(problems)}")
    return entry


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    """Validate and convert the catalogue's JSON form.

    Raises:
        ModelPackError: malformed catalogue.
    """
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise ModelPackError("Model catalogue: unsupported or missing schema_version")
    entries = tuple(_entry(m) for m in data.get("models", []))
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise ModelPackError("Model catalogue: duplicate ids")
    citations = tuple(sorted((str(k), str(v)) for k, v in data.get("citations", {}).items()))
    rule = str(data.get("licence_policy", {}).get("rule", ""))
    return Catalogue(entries, citations, rule)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the application (read once through ``importlib.resources``)."""
    res = resources.files("wildlife_desktop").joinpath("assets").joinpath(CATALOGUE_RESOURCE)
    text = res.read_text(encoding="utf-8")
    return parse_catalogue(json.loads(text))


def pack_licence_gate(pack: Any) -> tuple[str, bool]:
    """Licence line of a pack about to be imported and whether it must be accepted first.

    Args:
        pack: a pack folder or ``.zip`` path (anything else, e.g. a bare ``.onnx``, has no gate).

    Returns:
        ``(text, acceptance_required)``; packs built by ``models build`` carry both facts in
        ``manifest.extra``; other packs fall back to the catalogue entry of the same id, then to
        their ``licence`` field (acceptance required unless it is permissive).
    """
    import zipfile
    from pathlib import Path

    path = Path(pack)
    data: dict[str, Any] | None = None
    try:
        if path.is_dir() and (path / "manifest.json").is_file():
            data = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = sorted((n for n in zf.namelist() if n.endswith("manifest.json")), key=lambda n: n.count("/"))
                if names:
                    data = json.loads(zf.read(names[0]).decode("utf-8"))
    except (OSError, ValueError, zipfile.BadZipFile):
        data = None
    if not isinstance(data, dict):
        return "", False
    extra = data.get("extra")
    if not isinstance(extra, dict):
        extra = {}
    if "licence_acceptance_required" in extra:
        text = f"weights: {extra.get('licence_weights', '?')}; code the model was exported from: " \
               f"{extra.get('licence_code', '?')}"
        return text, bool(extra["licence_acceptance_required"])
    try:
        entry = load_catalogue().get(str(data.get("id", "")))
    except ModelPackError:
        lic = str(data.get("licence", "unknown"))
        return f"licence: {lic}", not is_permissive(lic)
    return entry.licence_summary, entry.licence_acceptance_required
