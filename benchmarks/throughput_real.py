"""Throughput of the real models (MegadetectorLite fp32/int8, the composite) on the sample images.

Run from the repository root::

    python benchmarks/throughput_real.py                  # installs the real models into a temp home
    python benchmarks/throughput_real.py --home ~/.wd     # reuses a home where they are installed
    python benchmarks/throughput_real.py --images 8 --packs mdlite   # smoke run

For each installed pack, in the same process and sitting (see ``throughput.py`` for the method):

1. **model-only**: onnxruntime ``run`` on tensors prepared with the pack's own input spec, for each
   ``threads x streams`` setting; the best is the reference. A composite's model-only time is the
   sum of its members' (they run one after the other on each image).
2. **end-to-end**: ``run_job`` on a temporary folder of symlinks to the sample JPEGs (decode,
   EXIF, letterbox, inference, NMS, merge, journal, sidecars).
3. **naive**: full-resolution decode and ``Detector.detect`` one image at a time, one JSON per
   image: the baseline every figure is compared with, measured in the same run.

Goals (issue 10): end-to-end >= 0.8 x model-only; int8 >= 1.5 x fp32 model-only if int8 passes
its agreement gate. The last line printed is one JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from throughput import (  # noqa: E402  (benchmarks are scripts; the sibling is imported by path)
    SAMPLES,
    end_to_end,
    link_folder,
    model_only_ms,
    peak_rss_mb,
    repeated,
    sample_jpegs,
    settings,
)

DEFAULT_PACKS = ("mdlite-fp32", "mdlite", "mdlite-int8-bench", "nanodet-coco", "mdlite-nanodet")
INT8_BENCH_ID = "mdlite-int8-bench"


def _store(home: Path) -> Any:
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.runtime.store import ModelStore

    return ModelStore(AppPaths.under(home))


def members(store: Any, pack_id: str) -> list[tuple[Any, Path]]:
    """``(manifest, onnx path)`` of the ONNX models a pack runs (a composite's members, else itself)."""
    m, path = store.get(pack_id)
    if m.family != "composite":
        return [(m, path)]
    spec = json.loads(path.read_text(encoding="utf-8"))
    ids = [mem["id"] if isinstance(mem, dict) else str(mem) for mem in spec.get("members", [])]
    return [store.get(i) for i in ids]


def prepared(manifest: Any, onnx: Path, files: list[Path], k: int = 12) -> list[np.ndarray]:
    """Input tensors made as the runtime makes them (the pack's letterbox and input spec)."""
    from wildlife_desktop.pipeline.images import load_image
    from wildlife_desktop.runtime.detector import Detector

    det = Detector(manifest, onnx, intra_threads=1)
    return [det.preprocess(load_image(p, target=det.input_size).array)[0] for p in files[:k]]


def naive(files: list[Path], store: Any, pack_id: str, out_dir: Path, threads: int) -> dict[str, float]:
    """Full-resolution decode, ``detect``, one JSON per image, strictly one after another."""
    from PIL import Image, ImageOps

    det = store.open_detector(pack_id, intra_threads=threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i, p in enumerate(files):
        with Image.open(p) as im:
            arr = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        dets = det.detect(arr)
        rec = {"file": p.name, "detections": [[d.category, d.confidence, *d.bbox.as_list()] for d in dets]}
        (out_dir / f"{i:06d}.json").write_text(json.dumps(rec), encoding="utf-8")
    wall = time.perf_counter() - t0
    return {"images": len(files), "wall_s": wall, "ips": len(files) / wall}


def install_int8_candidate(store: Any, work: Path) -> str | None:
    """The int8 candidate of MegadetectorLite as a pack of its own (benchmark only; never a default).

    Calibrated exactly as ``models install mdlite`` calibrates it (same images, same preprocessing),
    so its speed is the speed the int8 gate weighed. ``None`` when MegadetectorLite is not installed.
    """
    from dataclasses import replace

    from wildlife_desktop.pipeline.images import load_image
    from wildlife_desktop.runtime.detector import Detector
    from wildlife_desktop.runtime.manifest import save_manifest
    from wildlife_desktop.runtime.quantize import write_int8_qdq
    from wildlife_desktop.runtime.store import sha256_file
    from wildlife_desktop.training.packs.mdlite import INPUT_NAME, calibration_images

    fp32_id = next((i for i in ("mdlite-fp32", "mdlite") if any(m.id == i and m.file and m.family == "yolox"
                                                               for m in store.list())), None)
    if fp32_id is None:
        return None
    m, path = store.get(fp32_id)
    pack = work / INT8_BENCH_ID
    pack.mkdir(parents=True)
    det = Detector(m, path, intra_threads=1)
    cal = [det.preprocess(load_image(p, target=det.input_size).array)[0] for p in calibration_images(SAMPLES)]
    write_int8_qdq(path, pack / "model.int8.onnx", INPUT_NAME, cal)
    save_manifest(pack / "manifest.json", replace(
        m, id=INT8_BENCH_ID, name=f"{m.name}, int8 candidate (benchmark only)", file="model.int8.onnx",
        sha256=sha256_file(pack / "model.int8.onnx")))
    store.import_pack(pack, replace=True)
    return INT8_BENCH_ID


def ensure_installed(home: Path, source: str | None) -> None:
    from wildlife_desktop.training.packs.recommended import install_recommended

    install_recommended(_store(home), Path(source) if source else None, notify=lambda s: print("  " + s))


def run(args: argparse.Namespace) -> dict[str, Any]:
    threads = [int(t) for t in args.threads.split(",")]
    streams = [int(s) for s in args.streams.split(",")]
    base = sample_jpegs(Path(args.samples))
    files = repeated(base, args.images)
    work = Path(tempfile.mkdtemp(prefix="wd-bench-real-"))
    home = Path(args.home) if args.home else work / "home"
    os.environ["WILDLIFE_DESKTOP_HOME"] = str(home)  # never the user's app data
    results: dict[str, Any] = {}
    try:
        store = _store(home)
        installed = {m.id for m in store.list()}
        if not set(args.packs.split(",")) <= installed:
            print(f"installing the real models into {home} ...", flush=True)
            ensure_installed(home, args.source)
            installed = {m.id for m in store.list()}
        if INT8_BENCH_ID in args.packs.split(",") and INT8_BENCH_ID not in installed:
            print("quantising MegadetectorLite to int8 (benchmark only) ...", flush=True)
            if install_int8_candidate(store, work):
                installed.add(INT8_BENCH_ID)
        for pack_id in [p for p in args.packs.split(",") if p]:
            if pack_id not in installed:
                print(f"{pack_id}: not installed, skipped", flush=True)
                continue
            runs = args.model_runs or max(10, min(args.images, 30))
            by_setting: dict[str, float] = {}
            for m, onnx in members(store, pack_id):
                tensors = prepared(m, onnx, base)
                for t, s in settings(threads, streams):
                    key = f"{t}x{s}"
                    by_setting[key] = by_setting.get(key, 0.0) + model_only_ms(onnx, tensors, runs, t, s)
            best = min(by_setting, key=lambda k: by_setting[k])
            model_ms = by_setting[best]
            single = {k: v for k, v in by_setting.items() if k.endswith("x1")}
            naive_threads = int(min(single, key=lambda k: single[k]).split("x")[0])
            folder = link_folder(files, work / f"in-{pack_id}")
            e2e = end_to_end(folder, home, pack_id, None, decode_workers=args.decode_workers, threads=None)
            nv = naive(files, store, pack_id, work / f"naive-{pack_id}", naive_threads)
            m, _ = store.get(pack_id)
            row = {
                "name": m.name, "file": m.file, "model_only_ms": round(model_ms, 1),
                "model_only_ips": round(1000.0 / model_ms, 2), "best_setting": best,
                "ms_by_setting": {k: round(v, 1) for k, v in by_setting.items()},
                "e2e_ips": round(e2e["ips"], 2), "e2e_steady_ips": round(e2e["steady_ips"], 2),
                "naive_ips": round(nv["ips"], 2), "naive_threads": naive_threads,
                "e2e_over_model_only": round(e2e["ips"] * model_ms / 1000.0, 3),
                "e2e_over_naive": round(e2e["ips"] / nv["ips"], 2), "failed": e2e["failed"],
                "int8": m.extra_dict().get("int8"), "peak_rss_mb_so_far": round(peak_rss_mb(), 0),
            }
            results[pack_id] = row
            print(f"{pack_id:16s} model-only {row['model_only_ms']:6.1f} ms ({row['model_only_ips']:5.2f}/s, {best})"
                  f"  end-to-end {row['e2e_ips']:5.2f}/s  naive {row['naive_ips']:5.2f}/s"
                  f"  e2e/model {row['e2e_over_model_only']:.2f}  e2e/naive {row['e2e_over_naive']:.2f}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
        fp32_id = "mdlite-fp32" if "mdlite-fp32" in results else "mdlite"
        for fp32, int8 in ((fp32_id, "mdlite"), (fp32_id, INT8_BENCH_ID)):
            if fp32 in results and int8 in results and results[int8]["file"] != results[fp32]["file"]:
                ratio = results[fp32]["model_only_ms"] / results[int8]["model_only_ms"]
                results[f"{int8}_int8_over_fp32_model_only"] = round(ratio, 2)
                print(f"int8 / fp32 model-only speed-up: x{ratio:.2f}", flush=True)
        if "mdlite-nanodet" in results and ("mdlite" in results):
            extra = results["mdlite-nanodet"]["model_only_ms"] - results["mdlite"]["model_only_ms"]
            results["second_model_ms_per_image"] = round(extra, 1)
            print(f"the second model (NanoDet) costs {extra:.1f} ms per image (model-only)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import onnxruntime as ort

    return {"images": args.images, "distinct_images": len(base), "cpu_count": os.cpu_count(),
            "onnxruntime": ort.__version__, "python": platform.python_version(), "results": results,
            "peak_rss_mb": round(peak_rss_mb(), 0)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packs", default=",".join(DEFAULT_PACKS), help="installed pack ids, comma-separated")
    p.add_argument("--home", help="WILDLIFE_DESKTOP_HOME holding the installed packs (default: a temp one)")
    p.add_argument("--source", help="models install recommended --from DIR (default: ../shared/models/real)")
    p.add_argument("--images", type=int, default=60, help="inputs per pack (samples repeated)")
    p.add_argument("--samples", default=str(SAMPLES), help="folder searched for JPEGs of >= 1.3 MP")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--streams", default="1,2")
    p.add_argument("--model-runs", type=int, default=0)
    p.add_argument("--decode-workers", type=int, default=1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(run(parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
