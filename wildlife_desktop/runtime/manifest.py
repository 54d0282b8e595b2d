"""Model-pack manifest: what a model is, how to feed it and how to read its output.

A pack is a folder holding ``manifest.json`` and one ONNX file. The manifest is the only place
where model-specific knowledge lives (family, input size, labels, thresholds, normalisation);
the code that runs models reads it and never branches on model names.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..core.atomic import atomic_write_json
from ..core.errors import ModelPackError
from .families import FAMILIES, LETTERBOX_MODES
from .preprocess import CHANNEL_ORDERS, INPUT_DTYPES, LAYOUTS, NORMALISATIONS, RESIZE_FILTERS, InputSpec

#: Written into new manifests. Version 2 added the input fields (layout, channel order,
#: normalisation, dtype, padding, resize filter) and the output fields; version 1 manifests read
#: as before (their defaults reproduce version 1 behaviour).
MANIFEST_SCHEMA_VERSION: Final[int] = 2
READABLE_SCHEMA_VERSIONS: Final[tuple[int, ...]] = (1, 2)
OUTPUT_KINDS: Final[tuple[str, ...]] = ("logits", "probabilities")
MANIFEST_NAME: Final[str] = "manifest.json"

#: Labels of every MegaDetector-family detector (category "1", "2", "3").
DETECTOR_LABELS: Final[tuple[str, ...]] = ("animal", "person", "vehicle")
IMAGENET_MEAN: Final[tuple[float, float, float]] = (0.485, 0.456, 0.406)
IMAGENET_STD: Final[tuple[float, float, float]] = (0.229, 0.224, 0.225)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelManifest:
    """Description of one installed (or installable) model pack.

    ``letterbox`` may be ``None`` in a hand-written manifest: the detector then picks ``classic``
    for an ONNX file with dynamic height/width and ``square`` for a fixed-shape export.

    How pixels become the input tensor is data too (see :class:`.preprocess.InputSpec`):
    ``input_layout`` (``nchw``/``nhwc``), ``channel_order`` (``rgb``/``bgr``), ``normalisation``
    (``unit``, ``raw``, ``meanstd`` with ``mean``/``std``; ``None`` = the family's default),
    ``input_dtype`` (``None`` = as the ONNX file declares; when set, the file must agree),
    ``pad_value`` (0..255, ``None`` = the family's default) and ``resize_filter``. ``output`` names
    the ONNX output to read (``None`` = the first); ``output_kind`` says whether a classifier's
    output is logits or already probabilities.
    ``category_map`` (detectors): model label -> detector category (``animal``, ``person``,
    ``vehicle``), e.g. COCO "car" -> vehicle; labels it does not name are dropped; empty = the
    model's classes are the categories (MegaDetector). ``category_floors``: detector category ->
    minimum confidence; that category's boxes below it are not emitted at all (a class known to
    misfire, e.g. NanoDet's person class on animals at night).
    ``extra``, ``category_map`` and ``category_floors`` are stored as sorted tuples of
    ``(key, value)`` pairs so the record stays frozen; pass dicts, read ``extra`` back with
    :meth:`extra_dict`.
    """

    id: str
    version: str
    name: str
    family: str
    task: str
    file: str
    sha256: str
    input_size: int
    labels: tuple[str, ...]
    typical_threshold: float = 0.2
    conservative_threshold: float = 0.05
    nms_iou: float = 0.45
    letterbox: str | None = None
    stride: int = 32
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    input_layout: str = "nchw"
    channel_order: str = "rgb"
    normalisation: str | None = None
    input_dtype: str | None = None
    pad_value: int | None = None
    resize_filter: str = "area"
    output: str | None = None
    output_kind: str = "logits"
    category_map: tuple[tuple[str, str], ...] = field(default=())
    category_floors: tuple[tuple[str, float], ...] = field(default=())
    licence: str = "unknown"
    source_url: str = ""
    citation: str = ""
    random_weights: bool = False
    created: str = ""
    extra: tuple[tuple[str, Any], ...] = field(default=())
    schema_version: int = MANIFEST_SCHEMA_VERSION

    def __post_init__(self) -> None:
        # Normalise containers so that JSON lists and dicts are accepted.
        if isinstance(self.labels, str):
            _fail(self, "labels must be a list of names, not a single string")
        object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        object.__setattr__(self, "mean", tuple(float(x) for x in self.mean))
        object.__setattr__(self, "std", tuple(float(x) for x in self.std))
        extra = self.extra
        if isinstance(extra, dict):
            extra = tuple(sorted(extra.items()))
        object.__setattr__(self, "extra", tuple((str(k), v) for k, v in extra))
        for name in ("category_map", "category_floors"):
            value = getattr(self, name)
            if isinstance(value, dict):
                value = tuple(sorted(value.items()))
            if not isinstance(value, (tuple, list)) or any(
                    not isinstance(pair, (tuple, list)) or len(pair) != 2 for pair in value):
                _fail(self, f"{name} must be an object")
            object.__setattr__(self, name, tuple((str(k), v) for k, v in value))
        object.__setattr__(self, "sha256", str(self.sha256).lower())
        _validate(self)

    def extra_dict(self) -> dict[str, Any]:
        """Return ``extra`` as a new dict."""
        return dict(self.extra)

    @property
    def is_detector(self) -> bool:
        """True for a detection model."""
        return self.task == "detection"

    def input_spec(self, onnx_dtype: type | None = None) -> InputSpec:
        """How images become this model's input tensor.

        Args:
            onnx_dtype: the element type the ONNX file declares for its input (numpy type);
                ``input_dtype`` in the manifest wins when set.
        """
        family = FAMILIES[self.family]
        dtype = INPUT_DTYPES[self.input_dtype] if self.input_dtype else (onnx_dtype or np.float32)
        norm = self.normalisation or family.default_normalisation
        uses_mean_std = norm == "meanstd"  # a detector's stored ImageNet defaults mean nothing
        return InputSpec(
            layout=self.input_layout, channel_order=self.channel_order, normalisation=norm,
            mean=self.mean if uses_mean_std else (0.0, 0.0, 0.0),
            std=self.std if uses_mean_std else (1.0, 1.0, 1.0), dtype=dtype,
            pad_value=family.default_pad_value if self.pad_value is None else self.pad_value,
            resize_filter=self.resize_filter,
        )


def _fail(m: ModelManifest | None, msg: str) -> None:
    who = f"Model pack '{m.id}'" if m is not None and isinstance(m.id, str) else "Model pack"
    raise ModelPackError(f"{who}: {msg}")


def _validate(m: ModelManifest) -> None:
    if not isinstance(m.id, str) or not _ID_RE.match(m.id):
        _fail(None, f"invalid id {m.id!r} (letters, digits, '.', '_', '-', starting with a letter or digit)")
    if m.schema_version not in READABLE_SCHEMA_VERSIONS:
        _fail(m, f"manifest schema version {m.schema_version} is not supported (this application reads "
                 f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}); update the application or re-export the pack")
    spec = FAMILIES.get(m.family)
    if spec is None:
        _fail(m, f"unknown model family {m.family!r}; known families: {', '.join(sorted(FAMILIES))}")
    assert spec is not None
    if m.task != spec.task:
        _fail(m, f"task {m.task!r} does not match family {m.family!r} (expected {spec.task!r})")
    if not m.file or Path(m.file).name != m.file or m.file in (".", ".."):
        _fail(m, f"'file' must be a plain file name inside the pack, got {m.file!r}")
    if not _SHA_RE.match(m.sha256):
        _fail(m, "sha256 must be 64 hexadecimal characters")
    if isinstance(m.input_size, bool) or not isinstance(m.input_size, int) or m.input_size <= 0:
        _fail(m, f"input_size must be a positive integer, got {m.input_size!r}")
    if not m.labels or any(not lab.strip() for lab in m.labels):
        _fail(m, "labels must be a non-empty list of non-empty names")
    if len(set(m.labels)) != len(m.labels):
        _fail(m, "labels contain duplicates")
    for name in ("typical_threshold", "conservative_threshold", "nms_iou"):
        value = getattr(m, name)
        if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            _fail(m, f"{name} must be a number between 0 and 1, got {value!r}")
    if m.letterbox is not None and m.letterbox not in LETTERBOX_MODES:
        _fail(m, f"letterbox must be one of {', '.join(LETTERBOX_MODES)}, got {m.letterbox!r}")
    if isinstance(m.stride, bool) or not isinstance(m.stride, int) or m.stride <= 0:
        _fail(m, f"stride must be a positive integer, got {m.stride!r}")
    if len(m.mean) != 3 or len(m.std) != 3 or any(s <= 0 for s in m.std):
        _fail(m, "mean and std must have 3 values each, std > 0")
    if not isinstance(m.random_weights, bool):
        _fail(m, "random_weights must be true or false")
    for name, allowed in (("input_layout", LAYOUTS), ("channel_order", CHANNEL_ORDERS),
                          ("resize_filter", RESIZE_FILTERS), ("output_kind", OUTPUT_KINDS)):
        if getattr(m, name) not in allowed:
            _fail(m, f"{name} must be one of {', '.join(allowed)}, got {getattr(m, name)!r}")
    if m.normalisation is not None and m.normalisation not in NORMALISATIONS:
        _fail(m, f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {m.normalisation!r}")
    if m.input_dtype is not None and m.input_dtype not in INPUT_DTYPES:
        _fail(m, f"input_dtype must be one of {', '.join(INPUT_DTYPES)}, got {m.input_dtype!r}")
    if m.pad_value is not None and (isinstance(m.pad_value, bool) or not isinstance(m.pad_value, int)
                                    or not 0 <= m.pad_value <= 255):
        _fail(m, f"pad_value must be an integer from 0 to 255, got {m.pad_value!r}")
    if m.output is not None and (not isinstance(m.output, str) or not m.output):
        _fail(m, "output must be the name of an ONNX output")
    unknown = sorted({lab for lab, _ in m.category_map} - set(m.labels))
    if unknown:
        _fail(m, f"category_map names labels the model does not have: {', '.join(unknown[:5])}")
    cats = [("category_map", v) for _, v in m.category_map] + [("category_floors", c) for c, _ in m.category_floors]
    for name, cat in cats:
        if cat not in DETECTOR_LABELS:
            _fail(m, f"{name}: {cat!r} is not a detector category ({', '.join(DETECTOR_LABELS)})")
    for cat, value in m.category_floors:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            _fail(m, f"category_floors: the floor of {cat!r} must be a number between 0 and 1, got {value!r}")
    if (m.category_map or m.category_floors) and m.task != "detection":
        _fail(m, "category_map and category_floors are for detectors only")


def manifest_from_dict(data: dict[str, Any]) -> ModelManifest:
    """Build a manifest from its JSON form.

    Args:
        data: the decoded ``manifest.json`` object.

    Returns:
        The validated manifest.

    Raises:
        ModelPackError: missing or unknown keys, or invalid values.
    """
    if not isinstance(data, dict):
        raise ModelPackError("Model pack manifest must be a JSON object")
    known = {f.name for f in fields(ModelManifest)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModelPackError(f"Model pack manifest has unknown keys: {', '.join(unknown)}")
    required = ("id", "version", "name", "family", "task", "file", "sha256", "input_size", "labels")
    missing = [k for k in required if k not in data]
    if missing:
        raise ModelPackError(f"Model pack manifest is missing: {', '.join(missing)}")
    kwargs = dict(data)
    kwargs["version"] = str(kwargs["version"])
    if not isinstance(kwargs["labels"], (list, tuple)):
        raise ModelPackError("Model pack manifest: labels must be a list")
    if "extra" in kwargs and not isinstance(kwargs["extra"], (dict, list, tuple)):
        raise ModelPackError("Model pack manifest: extra must be an object")
    try:
        return ModelManifest(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelPackError(f"Model pack manifest is invalid: {exc}") from exc


def manifest_to_dict(m: ModelManifest) -> dict[str, Any]:
    """Return the JSON-serialisable form of a manifest (lists instead of tuples)."""
    data = asdict(m)
    data["labels"] = list(m.labels)
    data["mean"] = list(m.mean)
    data["std"] = list(m.std)
    data["extra"] = m.extra_dict()
    data["category_map"] = dict(m.category_map)
    data["category_floors"] = dict(m.category_floors)
    return data


def load_manifest(path: Path) -> ModelManifest:
    """Read and validate a ``manifest.json``.

    Args:
        path: the manifest file.

    Returns:
        The validated manifest.

    Raises:
        ModelPackError: the file is missing, not JSON, or invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelPackError(f"Cannot read model manifest {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelPackError(f"Model manifest {path} is not valid JSON: {exc}") from exc
    return manifest_from_dict(data)


def save_manifest(path: Path, m: ModelManifest) -> None:
    """Write a manifest atomically as UTF-8 JSON.

    Args:
        path: destination file (usually ``<pack>/manifest.json``).
        m: the manifest to write.
    """
    atomic_write_json(Path(path), manifest_to_dict(m))
