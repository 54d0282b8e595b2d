"""``models install mdlite``: MegadetectorLite (zamba's YOLOX-tiny animal detector) as a model pack, no torch.

Steps: find the checkpoint (a local zamba wheel, the ``.pth`` itself, a folder holding either,
or, only when asked, ``pip download zamba==2.7.2``), check its sha256, read it with the restricted
reader (:mod:`.torch_checkpoint`), build the ONNX graph (:mod:`.yolox_onnx`), check parity on the
reference raw outputs when they are present, quantise to int8 and keep int8 as the installed
default only when it agrees with fp32 on real camera-trap images (F1 >= 0.99 at the typical
threshold) and is faster. The fp32 model is always installed too, as its own pack ``mdlite-fp32``
when int8 is the default (one ONNX file per pack).

Never call this model MegaDetector where a user sees it: it was trained on MegaDetector's
outputs, has only the ``animal`` class and is weaker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnx

from ... import __version__
from ...core.atomic import atomic_write_bytes, atomic_write_json
from ...core.errors import ModelPackError
from ...pipeline.images import load_image
from ...runtime.detector import Detector
from ...runtime.manifest import MANIFEST_NAME, ModelManifest, save_manifest
from ...runtime.quantize import write_int8_qdq
from ...runtime.store import ModelStore, sha256_file
from .int8_gate import INT8_MIN_F1, Int8Gate, iter_images, measure_int8
from .licences import MIT_TEXT
from .torch_checkpoint import load_state_dict
from .yolox_onnx import INPUT_NAME, YoloxConfig, build_yolox

Notify = Callable[[str], None]

ZAMBA_REQUIREMENT: Final[str] = "zamba==2.7.2"
WHEEL_NAME: Final[str] = "zamba-2.7.2-py3-none-any.whl"
MEMBER: Final[str] = "zamba/object_detection/yolox/assets/yolox_tiny_640_20220528.pth"
PTH_NAME: Final[str] = Path(MEMBER).name
MAX_PTH_BYTES: Final[int] = 512 << 20

MODEL_ID: Final[str] = "mdlite"
FP32_ID: Final[str] = "mdlite-fp32"
MODEL_NAME: Final[str] = "MegadetectorLite (animal only)"
SOURCE_URL: Final[str] = "https://pypi.org/project/zamba/2.7.2/ (" + MEMBER + ")"
CITATION: Final[str] = ("DrivenData. zamba: a Python package for identifying species in camera trap videos "
                        "(MegadetectorLite, YOLOX-tiny trained on MegaDetector outputs). "
                        "https://github.com/drivendataorg/zamba")
LICENCE: Final[str] = "MIT"
LICENCE_TEXT: Final[str] = """MegadetectorLite weights (yolox_tiny_640_20220528.pth) from the zamba package.

MIT License

Copyright (c) 2022 DrivenData Inc.

""" + MIT_TEXT

#: zamba's own confidence default. Measured on the 72 sample images (app decoding): 0.2 finds the same
#: animal images as 0.25 (Caltech 19/21, LILA 12/17 of MDv5a's) and leaves one more empty frame
#: with a box, so zamba's value stays; the conservative threshold (0.05) is there for recall.
TYPICAL_THRESHOLD: Final[float] = 0.25
CONSERVATIVE_THRESHOLD: Final[float] = 0.05
NMS_IOU: Final[float] = 0.45
#: Calibration: every ``CALIBRATION_STEP``-th image (sorted) of these sample folders.
CALIBRATION_FOLDERS: Final[tuple[str, ...]] = ("lila_test_images", "caltech_cct")
CALIBRATION_STEP: Final[int] = 3
#: Parity with the original torch model on ``raw_outputs.npz`` (boxes in px, scores).
PARITY_BOX_TOL: Final[float] = 1e-2
PARITY_SCORE_TOL: Final[float] = 1e-3


@dataclass(frozen=True)
class KnownCheckpoint:
    """A checkpoint this installer converts: recognised by its sha256, never by its name alone."""

    name: str
    sha256: str
    config: YoloxConfig
    labels: tuple[str, ...]


_ZAMBA_272_PTH = KnownCheckpoint(
    name="zamba 2.7.2 yolox_tiny_640_20220528.pth",
    sha256="31f8690fc62f9d0756f1e8c09b0b02e5ade106173ed0a30743d47c004f88f4e0",
    config=YoloxConfig(), labels=("animal",))
#: sha256 -> what it is. A file not listed here is refused (a different file is a different model).
KNOWN_CHECKPOINTS: Final[dict[str, KnownCheckpoint]] = {_ZAMBA_272_PTH.sha256: _ZAMBA_272_PTH}


@dataclass(frozen=True)
class Checkpoint:
    """The located checkpoint bytes and where they came from."""

    data: bytes
    origin: str
    known: KnownCheckpoint


@dataclass(frozen=True)
class MdliteBuild:
    """What :func:`build_mdlite_packs` wrote."""

    packs: tuple[Path, ...]  # the default pack first
    manifest: ModelManifest
    int8: Int8Gate | None
    int8_note: str
    parity: dict[str, Any]
    convert_s: float


# ----------------------------------------------------------------------------- locating the file
def _known(data: bytes, origin: str) -> Checkpoint:
    sha = hashlib.sha256(data).hexdigest()
    known = KNOWN_CHECKPOINTS.get(sha)
    if known is None:
        expected = ", ".join(f"{k.name} ({k.sha256[:12]}...)" for k in KNOWN_CHECKPOINTS.values())
        raise ModelPackError(f"{origin}: sha256 {sha[:12]}... is not a checkpoint this installer knows "
                             f"(expected {expected}); a different or damaged file is not converted")
    return Checkpoint(data, origin, known)


def _read_member(zf: zipfile.ZipFile, name: str, origin: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_PTH_BYTES:
        raise ModelPackError(f"{origin}: {name} is {info.file_size} bytes, too large for this checkpoint")
    with zf.open(info) as fh:
        return fh.read(MAX_PTH_BYTES + 1)


def _from_file(path: Path) -> Checkpoint:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if MEMBER in names:  # a zamba wheel: read only the one member
                return _known(_read_member(zf, MEMBER, str(path)), f"{path.name}!{PTH_NAME}")
            if not any(n.endswith("/data.pkl") and n.count("/") == 1 for n in names):
                raise ModelPackError(f"{path}: neither a zamba wheel (no {MEMBER}) nor a torch checkpoint")
    except zipfile.BadZipFile:
        raise ModelPackError(f"{path}: not a zamba wheel or a torch checkpoint (not a zip file)") from None
    except OSError as exc:
        raise ModelPackError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if path.stat().st_size > MAX_PTH_BYTES:
        raise ModelPackError(f"{path}: too large for this checkpoint")
    return _known(path.read_bytes(), str(path))


def locate_checkpoint(source: Path) -> Checkpoint:
    """The MegadetectorLite checkpoint from a zamba wheel, the ``.pth`` itself, or a folder holding either.

    Raises:
        ModelPackError: nothing usable found, or a file whose sha256 is not a known checkpoint.
    """
    source = Path(source)
    if source.is_dir():
        cands = sorted(source.glob("zamba-*.whl")) + sorted(source.glob("*.pth"))
        if not cands:
            raise ModelPackError(f"{source}: no zamba wheel (zamba-*.whl) or .pth file in this folder")
        errors = []
        for cand in cands:
            try:
                return _from_file(cand)
            except ModelPackError as exc:
                errors.append(str(exc))
        raise ModelPackError(errors[0] if len(errors) == 1 else f"{source}: no usable checkpoint ({errors[0]} ...)")
    if not source.is_file():
        raise ModelPackError(f"{source} does not exist")
    return _from_file(source)


def download_wheel(dest: Path, notify: Notify = print) -> Path:
    """``python -m pip download --no-deps zamba==2.7.2 -d dest`` (the package index; the only network use).

    Raises:
        ModelPackError: pip failed (no network, no index) or left no wheel.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", ZAMBA_REQUIREMENT,
           "-d", str(dest)]
    notify(f"Downloading {ZAMBA_REQUIREMENT} (about 41 MB) from the Python package index with pip ...")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelPackError(f"pip download of {ZAMBA_REQUIREMENT} failed: {exc}") from exc
    wheel = dest / WHEEL_NAME
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelPackError(f"pip download of {ZAMBA_REQUIREMENT} failed ({tail[0][:200]}). Without internet, "
                             f"copy {WHEEL_NAME} here and use --from PATH")
    return wheel


# ----------------------------------------------------------------------------- checks
def zamba_input(image: np.ndarray, size: int = 640) -> np.ndarray:
    """The tensor zamba feeds the model: ``ImageOps.pad`` (BICUBIC, top-left), float32 0..255, NCHW."""
    from PIL import Image, ImageOps

    padded = ImageOps.pad(Image.fromarray(image), (size, size), method=Image.Resampling.BICUBIC,
                          color=None, centering=(0, 0))
    return np.ascontiguousarray(np.asarray(padded, dtype=np.float32).transpose(2, 0, 1)[None])


def read_display_rgb(path: Path) -> np.ndarray:
    """A full-resolution, EXIF-transposed RGB array (as zamba reads an image)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def raw_parity(onnx_path: Path, reference: Path, samples: Path) -> dict[str, Any]:
    """Largest box / score difference of the ONNX raw output against ``raw_outputs.npz``.

    Keys of the npz are sample paths with ``/`` written as ``__``.
    """
    import onnxruntime

    sess = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with np.load(reference, allow_pickle=False) as npz:
        refs = {k: npz[k] for k in npz.files}
    by_key = {str(p.relative_to(samples)).replace("/", "__"): p for p in iter_images(samples)}
    box = score = 0.0
    compared = []
    for key, ref in sorted(refs.items()):
        path = by_key.get(key)
        if path is None:
            continue
        out = sess.run(None, {INPUT_NAME: zamba_input(read_display_rgb(path))})[0][0]
        box = max(box, float(np.abs(out[:, :4] - ref[:, :4]).max()))
        score = max(score, float(np.abs(out[:, 4:] - ref[:, 4:]).max()))
        compared.append(key)
    passed = bool(compared) and box <= PARITY_BOX_TOL and score <= PARITY_SCORE_TOL
    return {"images": compared, "max_abs_box_px": round(box, 6), "max_abs_score": round(score, 8),
            "box_tol": PARITY_BOX_TOL, "score_tol": PARITY_SCORE_TOL, "passed": passed,
            "reference": "raw [8400, 6] output of the original torch model (raw_outputs.npz)"}


def calibration_images(samples: Path) -> list[Path]:
    """The fixed calibration subset: every :data:`CALIBRATION_STEP`-th image of :data:`CALIBRATION_FOLDERS`."""
    out: list[Path] = []
    for folder in CALIBRATION_FOLDERS:
        out += iter_images(Path(samples) / folder)[::CALIBRATION_STEP]
    return out


# ----------------------------------------------------------------------------- building
def _manifest(known: KnownCheckpoint, onnx_path: Path, *, model_id: str, name: str, extra: dict[str, Any]
              ) -> ModelManifest:
    return ModelManifest(
        id=model_id, version="2022.05.28", name=name, family="yolox", task="detection", file=onnx_path.name,
        sha256=sha256_file(onnx_path), input_size=known.config.input_size, labels=known.labels,
        typical_threshold=TYPICAL_THRESHOLD, conservative_threshold=CONSERVATIVE_THRESHOLD, nms_iou=NMS_IOU,
        letterbox="topleft", stride=max(known.config.strides), input_layout="nchw", channel_order="rgb",
        normalisation="raw", pad_value=0, resize_filter="bicubic", licence=LICENCE, source_url=SOURCE_URL,
        citation=CITATION, random_weights=False, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        extra=extra,
    )


def _write_pack(folder: Path, manifest: ModelManifest, onnx_src: Path, files: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_src, folder / manifest.file)
    save_manifest(folder / MANIFEST_NAME, manifest)
    atomic_write_bytes(folder / "LICENCE.txt", LICENCE_TEXT.encode("utf-8"))
    for fname, data in files.items():
        atomic_write_json(folder / fname, data)
    return folder


def build_mdlite_packs(ck: Checkpoint, out_dir: Path, *, samples: Path | None, reference: Path | None,
                       notify: Notify = print, min_f1: float = INT8_MIN_F1,
                       keep_int8: Path | None = None) -> MdliteBuild:
    """Convert the checkpoint and write the pack folder(s) under ``out_dir``.

    Args:
        ck: the located, sha256-checked checkpoint.
        out_dir: parent folder for ``mdlite/`` (the default) and, with int8 adopted, ``mdlite-fp32/``.
        samples: folder of real camera-trap images (calibration, int8 agreement, parity); ``None``
            keeps fp32 and records why.
        reference: folder holding ``raw_outputs.npz`` (parity with the torch model), or ``None``.
        notify: progress messages.
        min_f1: the int8 gate's agreement threshold.
        keep_int8: also copy the int8 candidate here (``mdlite-int8.onnx``), adopted or not, to audit
            the recorded agreement.

    Raises:
        ModelPackError: unreadable checkpoint, unexpected weights, or failed parity.
    """
    t0 = time.perf_counter()
    known = ck.known
    sd = load_state_dict(ck.data)
    meta = {
        "model": MODEL_NAME, "weights": "pretrained", "source": SOURCE_URL, "licence": LICENCE,
        "pth_sha256": known.sha256, "architecture": "YOLOX-tiny (depth 0.33, width 0.375), decode in graph",
        "input": "images [1,3,640,640] float32 RGB 0..255, top-left padded (PIL ImageOps.pad, bicubic)",
        "output": "output0 [1,8400,6] cx,cy,w,h (input px), objectness, class score",
        "built_by": f"wildlife-desktop {__version__} (torch-free converter)",
    }
    graph = build_yolox(sd, known.config, meta)
    unused = [k for k in graph.unused_keys if not k.endswith("num_batches_tracked")]
    if unused:
        raise ModelPackError(f"{ck.origin}: weights not used by the YOLOX graph: {', '.join(unused[:5])}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".mdlite-", dir=out_dir))
    try:
        fp32_path = work / "mdlite-fp32.onnx"
        atomic_write_bytes(fp32_path, graph.model.SerializeToString())
        convert_s = time.perf_counter() - t0
        notify(f"Converted {known.name} to ONNX in {convert_s:.1f} s (no torch).")
        parity: dict[str, Any] = {"passed": None, "note": "reference outputs not available: not checked"}
        if reference is not None and samples is not None and (Path(reference) / "raw_outputs.npz").is_file():
            parity = raw_parity(fp32_path, Path(reference) / "raw_outputs.npz", Path(samples))
            if not parity["passed"]:
                raise ModelPackError(f"Parity with the original model failed: boxes differ by up to "
                                     f"{parity['max_abs_box_px']} px, scores by {parity['max_abs_score']}")
            notify(f"Parity with the original torch model on {len(parity['images'])} images: boxes within "
                   f"{parity['max_abs_box_px']:.4f} px, scores within {parity['max_abs_score']:.2g}.")
        provenance = {"checkpoint": known.name, "pth_sha256": known.sha256, "origin": ck.origin,
                      "converter": "wildlife_desktop.training.packs.yolox_onnx (torch-free)",
                      "onnx": onnx.__version__, "wildlife_desktop": __version__,
                      "convert_seconds": round(convert_s, 2)}
        base_extra: dict[str, Any] = {"parity": parity, "provenance": provenance, "licence_weights": LICENCE,
                                      "not_megadetector": "trained by DrivenData on MegaDetector outputs; "
                                                          "animal class only; weaker than MegaDetector"}
        fp32_manifest = _manifest(known, fp32_path, model_id=FP32_ID, name=f"{MODEL_NAME}, fp32",
                                  extra=base_extra)

        gate: Int8Gate | None = None
        counts: dict[str, tuple[int, int, int]] = {}
        cal = calibration_images(samples) if samples is not None else []
        if not cal:
            note = "int8 not tried: no sample camera-trap images to calibrate and compare on; fp32 kept"
        else:
            notify(f"Quantising to int8 (calibration: {len(cal)} sample images) and comparing with fp32 on "
                   f"every sample image ...")
            int8_path = work / "mdlite-int8.onnx"
            det = Detector(fp32_manifest, fp32_path, intra_threads=1)
            write_int8_qdq(fp32_path, int8_path, INPUT_NAME,
                           [det.preprocess(load_image(p, target=det.input_size).array)[0] for p in cal])
            gate, counts = measure_int8(fp32_path, int8_path, fp32_manifest, Path(samples), cal,
                                        min_f1=min_f1)
            note = gate.reason
            if keep_int8 is not None:
                Path(keep_int8).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(int8_path, Path(keep_int8) / int8_path.name)
        notify(note + (f" (F1 {gate.f1:.4f} on {gate.n_images} images, {gate.boxes_fp32} fp32 boxes at "
                       f"{gate.threshold}; {gate.fp32_ms:.0f} -> {gate.int8_ms:.0f} ms/image, 1 thread)"
                       if gate else ""))
        int8_extra = {"int8": gate.to_dict() if gate else {"adopted": False, "decision": note}}
        files = {"provenance.json": provenance, "parity.json": parity}
        if gate is not None:
            files["int8_agreement.json"] = {"summary": gate.to_dict(),
                                            "per_image": {k: list(v) for k, v in sorted(counts.items())}}
        if gate is not None and gate.adopt:
            default_path = work / "model.int8.onnx"
            os.replace(work / "mdlite-int8.onnx", default_path)
            manifest = _manifest(known, default_path, model_id=MODEL_ID, name=MODEL_NAME,
                                 extra={**base_extra, **int8_extra, "precision": "int8",
                                        "fp32_pack": FP32_ID})
            fp32_final = replace(fp32_manifest, extra={**base_extra, **int8_extra, "precision": "fp32"})
            packs = (_write_pack(work / "pack-default", manifest, default_path, files),
                     _write_pack(work / "pack-fp32", fp32_final, fp32_path, files))
        else:
            default_path = work / "model.onnx"
            os.replace(fp32_path, default_path)
            manifest = _manifest(known, default_path, model_id=MODEL_ID, name=MODEL_NAME,
                                 extra={**base_extra, **int8_extra, "precision": "fp32"})
            packs = (_write_pack(work / "pack-default", manifest, default_path, files),)
        final = []
        for folder, mid in zip(packs, (MODEL_ID, FP32_ID), strict=False):
            dest = out_dir / mid
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(folder, dest)
            final.append(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return MdliteBuild(tuple(final), manifest, gate, note, parity, convert_s)


def default_shared() -> Path | None:
    """``../shared`` beside the current folder or the checkout, when it holds ``samples``."""
    here = Path(__file__).resolve().parents[3]
    for base in (Path.cwd(), here):
        cand = base.parent / "shared"
        if (cand / "samples").is_dir():
            return cand
    return None


def install_mdlite(store: ModelStore, source: Path | None, *, notify: Notify = print,
                   shared: Path | None = None) -> ModelManifest:
    """Convert MegadetectorLite and install it as ``mdlite`` (and ``mdlite-fp32`` when int8 is the default).

    Args:
        store: the model store to install into.
        source: a zamba wheel, the ``.pth``, or a folder holding either; ``None`` downloads the
            wheel with pip (the only network use, and only then).
        notify: progress messages.
        shared: folder with ``samples/`` (int8 calibration and check) and
            ``models/real/mdlite/raw_outputs.npz`` (parity); default: :func:`default_shared`.

    Returns:
        The installed default manifest.

    Raises:
        ModelPackError: no or unknown checkpoint, download failure, conversion or parity failure.
    """
    shared = shared if shared is not None else default_shared()
    samples = shared / "samples" if shared is not None and (shared / "samples").is_dir() else None
    reference = shared / "models" / "real" / "mdlite" if shared is not None else None
    with tempfile.TemporaryDirectory(prefix="wd-mdlite-") as tmp:
        if source is None:
            notify("No --from given: the checkpoint comes from the zamba wheel on the package index.")
            source = download_wheel(Path(tmp) / "download", notify)
        ck = locate_checkpoint(Path(source))
        notify(f"Checkpoint: {ck.origin} (sha256 {ck.known.sha256[:12]}..., {ck.known.name})")
        if samples is None:
            notify("No sample images found (../shared/samples): int8 cannot be checked, fp32 will be installed.")
        build = build_mdlite_packs(ck, Path(tmp) / "packs", samples=samples, reference=reference, notify=notify)
        for pack in reversed(build.packs):  # fp32 first, so the default never points at a missing fallback
            m = store.import_pack(pack, replace=True)
            if m.id != build.manifest.id:
                notify(f"Installed {m.id}: the fp32 model, kept beside the int8 default")
    return build.manifest
