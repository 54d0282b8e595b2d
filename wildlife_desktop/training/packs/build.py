"""``models build``: official weights -> ONNX -> parity check -> (quantise) -> model pack folder.

The pack folder holds ``manifest.json``, ``model.onnx``, ``LICENCE.txt``, ``provenance.json`` and
``parity.json``; the manifest's ``extra`` repeats the licence facts and the parity figures so the
application can show them after import. A pack is only written when parity passes.

This process never unpickles a checkpoint it did not build: builders that need full
unpickling (yolov5, ultralytics, RT-DETR) and files no published checksum vouches for run in a
child process (``isolate.py``) that hands back the ONNX file and raw outputs for the parity
check as ``.npy``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

from ... import __version__
from ...core.errors import ModelPackError
from ...runtime.catalogue import CatalogueEntry, WeightSource, load_catalogue
from ...runtime.manifest import MANIFEST_NAME, ModelManifest, save_manifest
from ...runtime.store import sha256_file
from .fetch import UNPICKLING_BUILDERS, ChecksumResult, check_weights, require_trusted
from .licences import LICENCE_URLS, MIT_TEXT
from .loaders import LOADERS, Loader
from .parity import ParityReport, TorchFn, classifier_parity, detector_parity, parity_inputs

ONNX_NAME = "model.onnx"
#: Builders whose checkpoints need full unpickling (pickled model objects): always run isolated.
OPSET = 17
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class BuildReport:
    """What ``build_pack`` produced."""

    pack_dir: Path
    manifest: ModelManifest
    parity: ParityReport
    checksum: ChecksumResult
    quantisation: str


def list_images(folder: Path, limit: int = 6) -> list[Path]:
    """Up to ``limit`` images of a folder (recursive, sorted) for the parity check."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return files[:limit]


def _export(module: nn.Module, entry: CatalogueEntry, dest: Path, *, input_size: int) -> None:
    if entry.task == "classification":
        dummy = torch.zeros(1, 3, input_size, input_size)
        names, out = ["input"], ["logits"]
        axes: dict[str, dict[int, str]] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    else:
        dummy = torch.zeros(1, 3, input_size, input_size)
        names, out = ["images"], ["output0"]
        axes = {"images": {2: "height", 3: "width"}} if entry.dynamic_input else {}
        if entry.dynamic_input and entry.family in ("yolov5", "yolov8"):
            axes["output0"] = {1 if entry.family == "yolov5" else 2: "anchors"}
    # The TorchScript exporter is deprecated in favour of torch.export, which cannot yet trace every
    # upstream detector; its deprecation and tracer warnings are expected here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (dummy,), str(dest), input_names=names, output_names=out,
                          dynamic_axes=axes or None, opset_version=OPSET, do_constant_folding=True, dynamo=False)


def _runner(module: nn.Module) -> TorchFn:
    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(np.ascontiguousarray(x))).numpy()

    return run


def _export_isolated(weights: Path, entry: CatalogueEntry, onnx_path: Path, size: int,
                     inputs: Sequence[np.ndarray]) -> tuple[TorchFn, str]:
    """Load, export and run the checkpoint in a separate process (isolate.py); nothing is unpickled here.

    Returns a function that answers the parity check's torch calls with the child's outputs
    for the same inputs, and the child's torch version.
    """
    from .isolate import EXPORT_TASK, entry_to_json, run_isolated

    res = run_isolated(EXPORT_TASK, files={weights.name: weights}, inputs=inputs, collect={ONNX_NAME: onnx_path},
                       params={"entry": entry_to_json(entry), "weights": weights.name, "input_size": size})
    pairs = list(zip(inputs, res.outputs, strict=True))

    def replay(x: np.ndarray) -> np.ndarray:
        for inp, out in pairs:
            if inp.shape == x.shape and np.array_equal(inp, x):
                return out
        raise ModelPackError("The parity check asked for an input the isolated build process was not given")

    return replay, res.info.get("torch", "?")


def _stamp(path: Path, props: dict[str, str]) -> None:
    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for k, v in props.items():
        if k in existing:
            existing[k].value = v
        else:
            model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _maybe_quantise(onnx_path: Path, want: bool) -> tuple[Path | None, str]:
    """Call ``wildlife_desktop.runtime.quantize`` when it exists (written by another engineer)."""
    if not want:
        return None, "not requested"
    try:
        mod = importlib.import_module("wildlife_desktop.runtime.quantize")
    except ImportError:
        return None, "skipped: wildlife_desktop.runtime.quantize is not available in this build"
    fn = next((getattr(mod, n) for n in ("quantize_onnx", "quantize_model", "quantize") if hasattr(mod, n)), None)
    if fn is None or not callable(fn):
        return None, "skipped: wildlife_desktop.runtime.quantize has no quantize_onnx/quantize_model function"
    dest = onnx_path.with_name("model.int8.onnx")
    try:
        params = list(inspect.signature(fn).parameters)
        result = fn(onnx_path, dest) if len(params) >= 2 else fn(onnx_path)
    except Exception as exc:  # noqa: BLE001 - report, never lose the fp32 pack
        return None, f"skipped: quantisation failed: {exc}"
    out = Path(result) if isinstance(result, (str, os.PathLike)) else dest
    return (out, f"int8 copy written by {mod.__name__}.{fn.__name__}") if out.is_file() else (
        None, "skipped: quantiser produced no file")


def _licence_text(entry: CatalogueEntry, citation: str) -> str:
    lines = [
        f"{entry.name} ({entry.id}) - licence information",
        "",
        f"Weights licence: {entry.weights_licence}",
        f"Licence of the code the ONNX graph was exported from: {entry.code_licence} ({entry.code})",
        f"Distribution in Wildlife Desktop: {entry.distribution}"
        + (" (may be bundled)" if entry.bundleable else " (user-imported; the licence must be accepted)"),
        "",
        "Official sources:",
        *[f"  {s.url}" for s in entry.sources],
        "",
        f"Please cite: {citation}",
        "",
    ]
    for lic in sorted({entry.weights_licence.split(" ")[0], entry.code_licence.split(" ")[0]}):
        if lic in LICENCE_URLS:
            lines.append(f"Full text of {lic}: {LICENCE_URLS[lic]}")
    if entry.weights_licence == "MIT":
        lines += ["", "MIT licence terms (copyright notice: see the official sources above):", "", MIT_TEXT]
    return "\n".join(lines) + "\n"


def build_pack(
    weights: Path,
    entry: CatalogueEntry,
    out_dir: Path,
    *,
    images: Sequence[Path],
    source: WeightSource | None = None,
    loader: Loader | None = None,
    quantise: bool = False,
    random_weights: bool = False,
    input_size: int | None = None,
    conf_floor: float | None = None,
    trust_unverified: bool = False,
) -> BuildReport:
    """Convert one official weights file into a model pack folder ``out_dir/<entry.id>``.

    Args:
        weights: the downloaded official file.
        entry: its catalogue entry (family, labels, thresholds, licences).
        out_dir: parent folder of the pack.
        images: real images for the parity check (at least one).
        source: the catalogue source the file came from (default: matched by file name).
        loader: override the entry's builder (tests use small random-weight networks).
        quantise: also write an int8 copy when ``wildlife_desktop.runtime.quantize`` exists.
        random_weights: the weights are random (tests): stamped into the ONNX and the manifest.
        input_size: override the catalogue input size (tests use small inputs for speed).
        conf_floor: parity confidence floor (default: the entry's conservative threshold).
        trust_unverified: build from a file no published checksum vouches for (the user said so).
            Such a file, and any checkpoint whose builder unpickles, is loaded, exported and run
            only in a separate process (``isolate.py``); ``loader`` (tests) runs in this process.

    Returns:
        The build report (pack folder, manifest, parity figures, checksum outcome).

    Raises:
        ModelPackError: checksum mismatch, unverified file without ``trust_unverified``, unsupported
            builder, export failure or failed parity.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise ModelPackError(f"Weights file {weights} does not exist")
    checksum = check_weights(weights, entry, source)  # first: a damaged download is refused outright
    require_trusted(checksum, weights, trust_unverified=trust_unverified,  # before anything opens it
                    builder="test loader" if loader else entry.builder)
    if not images:
        raise ModelPackError("The parity check needs real images: pass --images FOLDER")
    if loader is None and (entry.builder not in LOADERS or entry.builder == "unsupported"):
        LOADERS["unsupported"](weights, entry)  # says why, before any process is started
    # A checkpoint that needs full unpickling, or that no published checksum vouches for, is only
    # ever opened in a separate process (isolate.py); a caller's own loader runs here.
    isolated = loader is None and (entry.builder in UNPICKLING_BUILDERS or not checksum.verified)
    module = None if isolated else (loader or LOADERS[entry.builder])(weights, entry).eval()
    size = int(input_size or entry.input_size)
    citation = load_catalogue().citation_text(entry) if entry.citation else ""
    letterbox_mode = entry.letterbox or ("classic" if entry.dynamic_input else "square")
    manifest = ModelManifest(
        id=entry.id, version=entry.version, name=entry.name, family=entry.family, task=entry.task,
        file=ONNX_NAME, sha256="0" * 64, input_size=size, labels=entry.labels,  # sha256: set after the export
        typical_threshold=entry.typical_threshold, conservative_threshold=entry.conservative_threshold,
        nms_iou=entry.nms_iou, letterbox=letterbox_mode if entry.task == "detection" else None,
        stride=entry.stride if entry.task == "detection" else 1, licence=entry.weights_licence,
        source_url=(checksum.source or entry.sources[0]).url, citation=citation,
        random_weights=random_weights, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{entry.id}-", dir=out_dir))
    try:
        onnx_path = tmp / ONNX_NAME
        torch_version = torch.__version__
        run_torch: TorchFn
        if module is None:
            run_torch, torch_version = _export_isolated(weights, entry, onnx_path, size,
                                                        parity_inputs(manifest, images, letterbox_mode))
        else:
            try:
                _export(module, entry, onnx_path, input_size=size)
            except Exception as exc:  # noqa: BLE001 - exporter errors are many and varied
                raise ModelPackError(f"ONNX export of '{entry.id}' failed: {exc}") from exc
            run_torch = _runner(module)
        _stamp(onnx_path, {
            "weights": ("RANDOM weights (test build), not a real model" if random_weights
                        else f"official {entry.id} weights, sha256 {checksum.digest.sha256}"),
            "model_id": entry.id, "licence_weights": entry.weights_licence, "licence_code": entry.code_licence,
            "built_by": f"wildlife-desktop {__version__}",
        })
        manifest = replace(manifest, sha256=sha256_file(onnx_path))
        if entry.task == "detection":
            floor = entry.conservative_threshold if conf_floor is None else conf_floor
            parity = detector_parity(run_torch, onnx_path, manifest, images, conf_floor=floor,
                                     letterbox_mode=letterbox_mode)
        else:
            parity = classifier_parity(run_torch, onnx_path, manifest, images)
        if not parity.passed:
            raise ModelPackError(f"Parity check of '{entry.id}' failed (torch vs ONNX): "
                                 + "; ".join(parity.failures[:5] or ("no images could be compared",)))
        q_path, q_note = _maybe_quantise(onnx_path, quantise)

        provenance: dict[str, Any] = {
            "catalogue_id": entry.id,
            "weights_file": weights.name,
            "weights_md5": checksum.digest.md5,
            "weights_sha256": checksum.digest.sha256,
            "weights_bytes": checksum.digest.size,
            "checksum_verified": checksum.verified,
            "checksum_note": checksum.note,
            "source_url": manifest.source_url,
            "random_weights": random_weights,
            "builder": "test loader" if loader else entry.builder,
            "isolated_process": isolated,
            "opset": OPSET,
            "dynamic_input": entry.dynamic_input,
            "onnx_sha256": manifest.sha256,
            "quantisation": q_note,
            "quantised_file": q_path.name if q_path else None,
            "tools": {"wildlife_desktop": __version__, "torch": torch_version, "onnx": onnx.__version__,
                      "onnxruntime": onnxruntime.__version__, "python": platform.python_version()},
            "built": manifest.created,
        }
        extra = {
            "parity": parity.to_dict(), "provenance": provenance, "licence_weights": entry.weights_licence,
            "licence_code": entry.code_licence, "bundleable": entry.bundleable,
            "licence_acceptance_required": entry.licence_acceptance_required, "catalogue_id": entry.id,
        }
        manifest = replace(manifest, extra=extra)
        save_manifest(tmp / MANIFEST_NAME, manifest)
        (tmp / "LICENCE.txt").write_text(_licence_text(entry, citation), encoding="utf-8")
        (tmp / "provenance.json").write_text(json.dumps(provenance, indent=2), encoding="utf-8")
        (tmp / "parity.json").write_text(json.dumps(parity.to_dict(), indent=2), encoding="utf-8")

        dest = out_dir / entry.id
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return BuildReport(dest, manifest, parity, checksum, q_note)
