"""Throughput of the real pipeline against model-only time and a naive one-at-a-time loop.

Run from the repository root::

    python benchmarks/throughput.py                       # all twins, 100 images each
    python benchmarks/throughput.py --images 4 --models yolov10n   # smoke run, a few seconds

For every selected configuration, in the same process and sitting, it measures:

1. **model-only**: onnxruntime ``run`` on pre-letterboxed tensors, for each setting
   ``threads x streams`` (intra-op threads x images in flight on one session, at most the core
   count); the best is the reference, and the best single-stream figure is reported too.
   With a classifier, model-only time adds ``crops/image x`` the classifier's time per crop
   (crops counted in the end-to-end run).
2. **end-to-end**: ``run_job`` on a temporary folder of symlinks to the real sample JPEGs
   (scan, draft decode, EXIF, letterbox, inference, decode/NMS, crops + classifier, journal,
   sidecars), wall time from the call to ``JobFinished``.
3. **naive**: full-resolution Pillow decode, resize, inference, decoding, one JSON per image,
   strictly one image after another (how a Pytorch-Wildlife-style batch loop runs on a CPU),
   with the best single-stream thread setting (PyTorch, too, uses every core in each operator).
4. the ratios end-to-end / model-only and end-to-end / naive, and the process peak RSS.

The models are random-weight twins (``../shared/models/twins``): speed only, the boxes mean
nothing. App data goes to a temporary ``WILDLIFE_DESKTOP_HOME``; nothing is written into the
samples folder. The last line printed is one JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared"
TWINS = SHARED / "models" / "twins"
SAMPLES = SHARED / "samples"
DET_LABELS = ("animal", "person", "vehicle")
MIN_MEGAPIXELS = 1.3


@dataclass(frozen=True)
class Config:
    name: str
    detector: str  # file in TWINS
    family: str
    classifier: str | None = None
    int8: bool = False  # quantise the detector first (static QDQ, calibrated on the samples); NOT a default


def int8_twin(cfg: Config, out_dir: Path) -> Path:
    """Quantise ``cfg``'s detector twin (calibration: 16 sample JPEGs) into ``out_dir``; return the file."""
    from wildlife_desktop.runtime.quantize import quantize_static_model

    files = sample_jpegs()
    dst = out_dir / cfg.detector.replace(".onnx", "-int8.onnx")
    rep = quantize_static_model(TWINS / cfg.detector, dst, files[0::2][:16], cfg.family,
                                eval_images=files[1::2][:8], timing_runs=4)
    print(f"int8 {cfg.detector}: x{rep.speedup:.2f} model-only, finite {rep.finite}, safe default "
          f"{rep.safe_default} ({rep.reason})", flush=True)
    return dst


CONFIGS: dict[str, Config] = {
    "yolov10n": Config("yolov10n", "twin-yolov10n-640-random.onnx", "yolov10"),
    "yolov10n-o2m": Config("yolov10n-o2m", "twin-yolov10n-640-one2many-random.onnx", "yolov8"),
    "yolov5s": Config("yolov5s", "twin-yolov5s-640-random.onnx", "yolov5"),
    "yolov10n-int8": Config("yolov10n-int8", "twin-yolov10n-640-random.onnx", "yolov10", int8=True),
    "yolov10n+resnet50": Config("yolov10n+resnet50", "twin-yolov10n-640-random.onnx", "yolov10",
                                "twin-resnet50-224-36cls-features-random.onnx"),
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 1024.0 / 1024.0


def sample_jpegs(root: Path = SAMPLES, min_mp: float = MIN_MEGAPIXELS) -> list[Path]:
    """The sample JPEGs of at least ``min_mp`` megapixels, sorted (stable across runs)."""
    from PIL import Image

    out = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".jpeg") or not p.is_file():
            continue
        with Image.open(p) as im:
            if im.size[0] * im.size[1] >= min_mp * 1e6:
                out.append(p)
    if not out:
        raise SystemExit(f"no JPEGs of >= {min_mp} MP under {root}")
    return out


def repeated(files: list[Path], n: int) -> list[Path]:
    """``n`` inputs cycling through ``files``."""
    return [files[i % len(files)] for i in range(n)]


def link_folder(files: list[Path], dest: Path) -> Path:
    """A folder of ``len(files)`` symlinks (unique names) to ``files``."""
    dest.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(files):
        os.symlink(src, dest / f"{i:06d}_{src.name}")
    return dest


# ---------------------------------------------------------------------------------- model-only
def model_only_ms(onnx: Path, tensors: list[np.ndarray], runs: int, threads: int, streams: int = 1) -> float:
    """Wall ms per image of ``onnx`` over ``runs`` inputs, ``streams`` runs in flight at once
    (one session, ``threads`` intra-op threads), after a warm-up."""
    from concurrent.futures import ThreadPoolExecutor

    from wildlife_desktop.runtime.session import make_session

    sess = make_session(onnx, intra_threads=threads)
    name = sess.get_inputs()[0].name
    out = sess.get_outputs()[0].name
    for t in tensors[:3]:
        sess.run([out], {name: t})
    t0 = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        list(pool.map(lambda i: sess.run([out], {name: tensors[i % len(tensors)]}), range(runs)))
    return (time.perf_counter() - t0) / runs * 1000.0


def settings(threads: list[int], streams: list[int]) -> list[tuple[int, int]]:
    """(intra threads, streams) pairs that do not oversubscribe the cores (plus 1 x 1)."""
    cores = os.cpu_count() or 1
    return [(t, s) for t in threads for s in streams if t * s <= max(1, cores)] or [(1, 1)]


def letterboxed(files: list[Path], size: int, k: int = 12) -> list[np.ndarray]:
    from wildlife_desktop.pipeline.images import load_image
    from wildlife_desktop.runtime.preprocess import letterbox

    return [letterbox(load_image(p, target=size).array, (size, size), mode="square")[0] for p in files[:k]]


# ---------------------------------------------------------------------------------- end-to-end
def install(cfg: Config, home: Path, classify_min_conf: float, det_path: Path | None = None
            ) -> tuple[str, str | None]:
    """Install the twin(s) of ``cfg`` into the store under ``home``; return (detector id, classifier id)."""
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.runtime.manifest import MANIFEST_NAME, load_manifest, save_manifest
    from wildlife_desktop.runtime.store import ModelStore

    store = ModelStore(AppPaths.under(home))
    det_id = f"{cfg.name.replace('+', '_')}-det"
    m = store.import_onnx(det_path or TWINS / cfg.detector, family=cfg.family, labels=DET_LABELS, model_id=det_id,
                          replace=True)
    cls_id = None
    if cfg.classifier:
        # The twins score low: lower the "classify from" threshold so that crops are actually classified.
        mf = store.root / m.id / MANIFEST_NAME
        save_manifest(mf, replace(load_manifest(mf), conservative_threshold=classify_min_conf))
        cls_id = "resnet50-cls"
        store.import_onnx(TWINS / cfg.classifier, family="classifier",
                          labels=tuple(f"species_{i:02d}" for i in range(36)), model_id=cls_id, replace=True)
    return det_id, cls_id


def end_to_end(folder: Path, home: Path, det_id: str, cls_id: str | None, *, decode_workers: int,
               threads: int | None) -> dict[str, float]:
    """Run ``run_job`` on ``folder``; images/s over the whole call, crops classified per image."""
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, run_job

    config = JobConfig(folder=folder, detector_id=det_id, classifier_id=cls_id, decode_workers=decode_workers,
                       intra_threads=threads, checkpoint_s=60.0)
    n = failed = crops = 0
    t0 = time.perf_counter()
    t_first = None
    for ev in run_job(config, paths=AppPaths.under(home)):
        if isinstance(ev, FileProcessed):
            if t_first is None:
                t_first = time.perf_counter()
            n += 1
            failed += ev.prediction.failed
            crops += sum(1 for d in ev.prediction.detections if d.classifications)
        elif isinstance(ev, JobFinished):
            pass
    wall = time.perf_counter() - t0
    steady = (n - 1) / (time.perf_counter() - t_first) if t_first and n > 1 else float("nan")
    return {"images": n, "failed": failed, "wall_s": wall, "ips": n / wall, "steady_ips": steady,
            "crops_per_image": crops / max(1, n)}


# ---------------------------------------------------------------------------------- naive
def naive(files: list[Path], cfg: Config, out_dir: Path, classify_min_conf: float, threads: int = 1
          ) -> dict[str, float]:
    """Full-res decode -> resize -> infer -> decode -> write, one image at a time (no overlap, no draft).

    ``threads``: intra-op threads of its sessions (the best single-stream setting: a PyTorch
    loop also uses every core inside each operator)."""
    import cv2
    from PIL import Image, ImageOps

    from wildlife_desktop.runtime.families import FAMILIES
    from wildlife_desktop.runtime.preprocess import letterbox
    from wildlife_desktop.runtime.session import make_session

    sess = make_session(TWINS / cfg.detector, intra_threads=threads)
    in_name, out_name = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    decoder = FAMILIES[cfg.family].decoder
    assert decoder is not None
    csess = make_session(TWINS / cfg.classifier, intra_threads=threads) if cfg.classifier else None
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i, p in enumerate(files):
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im.convert("RGB"))
            arr = np.asarray(im)
        tensor, tr = letterbox(arr, (640, 640), mode="square")
        raw = sess.run([out_name], {in_name: tensor})[0]
        c = decoder(raw, conf_floor=0.005, nms_iou=0.45, input_hw=(640, 640))
        boxes = tr.to_image(c.boxes)
        labels: list[int] = []
        if csess is not None:
            for b, s, k in zip(boxes, c.scores, c.classes, strict=True):
                if k != 0 or s < classify_min_conf:
                    continue
                x0, y0, x1, y1 = (int(max(0, v)) for v in b)
                crop = arr[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
                crop = cv2.resize(crop, (224, 224)).transpose(2, 0, 1).astype(np.float32) / 255.0
                logits = csess.run(None, {csess.get_inputs()[0].name: ((crop - mean) / std)[None]})[0]
                labels.append(int(np.argmax(logits)))
        rec = {"file": p.name, "boxes": boxes.round(1).tolist(), "scores": c.scores.round(3).tolist(),
               "classes": c.classes.tolist(), "labels": labels}
        (out_dir / f"{i:06d}.json").write_text(json.dumps(rec), encoding="utf-8")
    wall = time.perf_counter() - t0
    return {"images": len(files), "wall_s": wall, "ips": len(files) / wall}


# ---------------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {', '.join(CONFIGS)}")
    threads = [int(t) for t in args.threads.split(",")]
    streams = [int(s) for s in args.streams.split(",")]
    base = sample_jpegs(Path(args.samples))
    files = repeated(base, args.images)
    tensors = letterboxed(base, 640)
    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="wd-bench-"))
    try:
        home = work / "home"
        os.environ["WILDLIFE_DESKTOP_HOME"] = str(home)  # never the user's app data
        for name in names:
            cfg = CONFIGS[name]
            runs = args.model_runs or max(10, min(args.images, 40))
            det_path = int8_twin(cfg, work) if cfg.int8 else TWINS / cfg.detector
            det_ms = {f"{t}x{s}": model_only_ms(det_path, tensors, runs, t, s)
                      for t, s in settings(threads, streams)}
            best_t = min(det_ms, key=lambda t: det_ms[t])
            cls_ms: dict[str, float] = {}
            if cfg.classifier:
                from wildlife_desktop.pipeline.images import load_image
                from wildlife_desktop.runtime.preprocess import letterbox

                ctens = [letterbox(load_image(p, target=224).array, (224, 224), mode="square")[0] for p in base[:6]]
                cls_ms = {f"{t}x{s}": model_only_ms(TWINS / cfg.classifier, ctens, runs, t, s)
                          for t, s in settings(threads, streams)}
            det_id, cls_id = install(cfg, home, args.classify_min_conf, det_path)
            folder = link_folder(files, work / f"in-{name.replace('+', '_')}")
            e2e = end_to_end(folder, home, det_id, cls_id, decode_workers=args.decode_workers,
                             threads=args.e2e_threads)
            single = {k: v for k, v in det_ms.items() if k.endswith("x1")}
            naive_threads = int(min(single, key=lambda k: single[k]).split("x")[0])
            nv = naive(files, cfg, work / f"naive-{name.replace('+', '_')}", args.classify_min_conf, naive_threads)
            model_ms = det_ms[best_t] + (e2e["crops_per_image"] * min(cls_ms.values()) if cls_ms else 0.0)
            single_cls = [v for k, v in cls_ms.items() if k.endswith("x1")]
            single_ms = min(single.values()) + (e2e["crops_per_image"] * min(single_cls) if single_cls else 0.0)
            row = {
                "model_only_ms": round(model_ms, 1),
                "model_only_ips": round(1000.0 / model_ms, 2),
                "detector_ms_by_setting": {k: round(v, 1) for k, v in det_ms.items()},
                "classifier_ms_by_setting": {k: round(v, 1) for k, v in cls_ms.items()},
                "best_setting": best_t,
                "single_stream_model_only_ips": round(1000.0 / single_ms, 2),
                "e2e_over_single_stream_model_only": round(e2e["ips"] * single_ms / 1000.0, 3),
                "e2e_ips": round(e2e["ips"], 2),
                "e2e_steady_ips": round(e2e["steady_ips"], 2),
                "naive_ips": round(nv["ips"], 2),
                "naive_threads": naive_threads,
                "e2e_over_model_only": round(e2e["ips"] * model_ms / 1000.0, 3),
                "e2e_over_naive": round(e2e["ips"] / nv["ips"], 2),
                "crops_per_image": round(e2e["crops_per_image"], 2),
                "failed": e2e["failed"],
                "peak_rss_mb_so_far": round(peak_rss_mb(), 0),
            }
            results[name] = row
            print(f"{name:18s} model-only {row['model_only_ms']:7.1f} ms ({row['model_only_ips']:5.2f}/s, "
                  f"{best_t})  end-to-end {row['e2e_ips']:5.2f}/s  naive {row['naive_ips']:5.2f}/s  "
                  f"e2e/model {row['e2e_over_model_only']:.2f}  e2e/naive {row['e2e_over_naive']:.2f}  "
                  f"crops/img {row['crops_per_image']:.2f}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import onnxruntime as ort

    return {
        "images": args.images, "distinct_images": len(base), "decode_workers": args.decode_workers,
        "e2e_threads": args.e2e_threads, "cpu_count": os.cpu_count(), "onnxruntime": ort.__version__,
        "python": platform.python_version(), "results": results, "peak_rss_mb": round(peak_rss_mb(), 0),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(c for c in CONFIGS if not CONFIGS[c].int8),
                   help=f"comma-separated, from: {', '.join(CONFIGS)} (int8: quantised first, not a default)")
    p.add_argument("--images", type=int, default=100, help="inputs per configuration (samples repeated)")
    p.add_argument("--samples", default=str(SAMPLES), help="folder searched for JPEGs of >= 1.3 MP")
    p.add_argument("--threads", default="1,2", help="intra-op thread settings tried for model-only")
    p.add_argument("--streams", default="1,2",
                   help="images in flight at once tried for model-only (threads x streams <= cores)")
    p.add_argument("--model-runs", type=int, default=0, help="timed model-only runs (default: min(images, 40))")
    p.add_argument("--decode-workers", type=int, default=1, help="JobConfig.decode_workers")
    p.add_argument("--e2e-threads", type=int, default=None, help="JobConfig.intra_threads (default: the app's)")
    p.add_argument("--classify-min-conf", type=float, default=0.01,
                   help="classify animal boxes from this score (the twins score low; 0.01 gives ~1 crop/image)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    out = run(parse_args(argv))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
