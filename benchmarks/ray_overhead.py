"""What running the job on Ray costs, against the same job in one process on the same cores.

Run from the repository root (needs the ``[cluster]`` extra)::

    python benchmarks/ray_overhead.py --home ~/.wd          # a home with `models install recommended` done
    python benchmarks/ray_overhead.py                       # installs the real models into a temp home first
    python benchmarks/ray_overhead.py --images 40 --tiny 400   # smoke run
    python benchmarks/ray_overhead.py --scale 100000 --skip-real  # the large-folder run (tiny model)

In one process and sitting, on a fresh folder of symlinks to the real camera-trap samples each time:

Each of the three runs below goes in ``--rounds`` interleaved rounds (orders rotated, figures
summed), so a change in the machine's load hits them alike.

1. **local**: ``run_job`` in this process (2 predictions in flight on 2 cores, 1 thread each).
2. **ray**: a private Ray cluster on 127.0.0.1 (``num_cpus`` = this machine's cores), one worker
   actor per CPU reading the files from the shared path; then **ray-bytes** (the driver sends
   the files' bytes). Cluster start-up is measured apart (once per session, not per folder);
   each run includes its workers' start and model load, as the local run includes its own.
3. **tiny**: the same three on tiny images with the self-test model (compute ~0): what the
   coordination itself costs per file (driver CPU per file, the driver-bound files/s).
4. ``--scale N``: ``N`` hard links of one tiny JPEG in folders of 1,000, through the journal and
   sidecars on Ray with the self-test model: scan, run, sidecar and journal figures.

Figures are wall times on whatever else the machine runs: compare the ratios of one run (the
last line printed is one JSON object with every figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared"
CCT = SHARED / "samples" / "caltech_cct"
ZAMBA_WHEEL = REPO / ".cache" / "test-assets" / "zamba-2.7.2-py3-none-any.whl"
PER_FOLDER = 50


def install_real(home: Path) -> None:
    """``models install recommended`` into ``home`` from ../shared/models/real and the cached zamba wheel."""
    src = home.parent / "model-src"
    src.mkdir(exist_ok=True)
    for p in (SHARED / "models" / "real").iterdir():
        if not (src / p.name).exists():
            os.symlink(p, src / p.name)
    if ZAMBA_WHEEL.is_file() and not (src / ZAMBA_WHEEL.name).exists():
        os.symlink(ZAMBA_WHEEL, src / ZAMBA_WHEEL.name)
    env = {**os.environ, "WILDLIFE_DESKTOP_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "wildlife_desktop.cli", "models", "install", "recommended",
                    "--from", str(src)], env=env, check=True, stdout=subprocess.DEVNULL)


def install_tiny(home: Path) -> str:
    from wildlife_desktop.cli.selftest_assets import tiny_yolov10
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.runtime.store import ModelStore

    store = ModelStore(AppPaths.under(home).ensure())
    onnx = tiny_yolov10(home.parent / "tiny-yolov10.onnx")
    return store.import_onnx(onnx, family="yolov10", labels=("animal", "person", "vehicle"), replace=True).id


def real_folder(dest: Path, n: int) -> Path:
    """``n`` symlinks to the Caltech Camera Traps samples, ``PER_FOLDER`` per camera folder."""
    files = sorted(CCT.glob("*.jpg"))
    for i in range(n):
        sub = dest / f"cam{i // PER_FOLDER:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        os.symlink(files[i % len(files)], sub / f"{i:06d}.jpg")
    return dest


def tiny_folder(dest: Path, n: int, per_folder: int = 1000) -> Path:
    """``n`` files in folders of ``per_folder``: hard links of one 64x48 JPEG per folder (its grey
    level differs by folder), cheap to make and to decode."""
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    one = dest
    for i in range(n):
        sub = dest / f"f{i // per_folder:04d}"
        if i % per_folder == 0:
            sub.mkdir()
            one = sub / f"{i:07d}.jpg"
            Image.new("RGB", (64, 48), ((i // per_folder * 37) % 256,) * 3).save(one, "JPEG")
        else:
            os.link(one, sub / f"{i:07d}.jpg")
    return dest


def run(folder: Path, home: Path, model: str, predictor: Any = None, ready: list[float] | None = None
        ) -> dict[str, float]:
    """One ``run_job``: wall and driver-CPU figures (``ready``: filled by the predictor's notify)."""
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, SidecarsWritten, run_job

    t0, cpu0 = time.perf_counter(), time.process_time()
    first = last = None
    n = 0
    sidecar_s = 0.0
    t_prev = t0
    summary = None
    for ev in run_job(JobConfig(folder, model, intra_threads=1, checkpoint_s=60.0), paths=AppPaths.under(home),
                      predictor=predictor):
        now = time.perf_counter()
        if isinstance(ev, FileProcessed):
            n += 1
            first = first or now
            last = now
        elif isinstance(ev, SidecarsWritten):
            sidecar_s += now - t_prev
        elif isinstance(ev, JobFinished):
            summary = ev.summary
        t_prev = now
    t_end, cpu = time.perf_counter(), time.process_time() - cpu0
    assert summary is not None and summary.processed == n and first and last
    # Steady: without start-up (model load; for Ray the workers' start too). Ray yields a chunk at
    # a time, so its steady rate runs from the workers being ready; local runs from the first file.
    steady = n / max(1e-9, last - ready[0]) if ready else (n - 1) / max(1e-9, last - first)
    out = {"files": n, "failed": summary.failed, "wall_s": round(t_end - t0, 2),
           "files_per_s": round(n / (t_end - t0), 2), "steady_files_per_s": round(steady, 2),
           "driver_cpu_ms_per_file": round(1000 * cpu / n, 3), "sidecars_s": round(sidecar_s, 2)}
    if ready:
        out["workers_ready_s"] = round(ready[0] - t0, 2)
    return out


MODES = ("local", "ray", "ray_bytes")


def three_ways(root: Path, home: Path, model: str, make: Any, n: int, cores: int, rounds: int) -> dict[str, Any]:
    """local, ray and ray-bytes on ``n`` files each, in ``rounds`` interleaved rounds (orders rotated)
    so a change of the machine's load during the benchmark hits the three alike; figures summed."""
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.pipeline.cluster import ClusterOptions, RayPredictor

    per = max(1, n // rounds)
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for r in range(rounds):
        for mode in MODES[r % 3:] + MODES[:r % 3]:
            folder = make(root / f"{mode}-{r}", per)
            load = os.getloadavg()[0]
            if mode == "local":
                runs[mode].append(run(folder, home, model))
            else:
                ready: list[float] = []
                pred = RayPredictor(AppPaths.under(home), ClusterOptions(
                    workers=cores, send_bytes=mode == "ray_bytes",
                    notify=lambda _line, r=ready: r.append(time.perf_counter())))
                runs[mode].append(run(folder, home, model, pred, ready))
            runs[mode][-1]["load_avg_1min"] = round(load, 1)
    res: dict[str, Any] = {}
    for mode, rs in runs.items():
        files = sum(x["files"] for x in rs)
        wall = sum(x["wall_s"] for x in rs)
        steady_s = sum(x["files"] / x["steady_files_per_s"] for x in rs)
        res[mode] = {"files": files, "failed": sum(x["failed"] for x in rs), "wall_s": round(wall, 2),
                     "files_per_s": round(files / wall, 2), "steady_files_per_s": round(files / steady_s, 2),
                     "driver_cpu_ms_per_file": round(
                         sum(x["driver_cpu_ms_per_file"] * x["files"] for x in rs) / files, 3),
                     "load_avg_1min": [x["load_avg_1min"] for x in rs]}
        if mode != "local":
            res[mode]["workers_ready_s"] = [x["workers_ready_s"] for x in rs]
            for k in ("files_per_s", "steady_files_per_s"):
                res[mode][f"{k}_vs_local"] = round(res[mode][k] / res["local"][k], 3)
            # core-ms per file beyond the local run's (same files, same cores)
            extra = cores * (1 / res[mode]["steady_files_per_s"] - 1 / res["local"]["steady_files_per_s"])
            res[mode]["extra_core_ms_per_file"] = round(1000 * extra, 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, help="WILDLIFE_DESKTOP_HOME with the real models installed")
    ap.add_argument("--model", default="mdlite-nanodet", help="detector pack (default: the default detector)")
    ap.add_argument("--images", type=int, default=200, help="real images per run (default 200)")
    ap.add_argument("--tiny", type=int, default=3000, help="tiny images per coordination run (default 3000)")
    ap.add_argument("--scale", type=int, default=0, help="also run a folder of this many tiny files on Ray")
    ap.add_argument("--skip-real", action="store_true", help="only the tiny-model runs")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the three runs (default 3)")
    args = ap.parse_args()

    os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})
    from wildlife_desktop.pipeline.cluster import ClusterOptions, connected

    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    out: dict[str, Any] = {"cores": cores, "model": args.model, "images": args.images, "tiny": args.tiny}
    try:
        home = args.home or tmp / "home"
        if not args.skip_real and args.home is None:
            t = time.perf_counter()
            install_real(home)
            print(f"installed the real models in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        tiny = install_tiny(home)
        t = time.perf_counter()
        with connected(ClusterOptions("auto", num_cpus=cores)):
            out["ray_start_s"] = round(time.perf_counter() - t, 2)
            if not args.skip_real:
                out["real"] = three_ways(tmp / "real", home, args.model, real_folder, args.images, cores,
                                         args.rounds)
                print(json.dumps({"real": out["real"]}, indent=1), file=sys.stderr)
            if args.tiny:
                out["tiny_model"] = three_ways(tmp / "tiny", home, tiny, tiny_folder, args.tiny, cores, args.rounds)
                print(json.dumps({"tiny_model": out["tiny_model"]}, indent=1), file=sys.stderr)
            if args.scale:
                out["scale"] = scale_run(tmp / "scale", home, tiny, args.scale, cores)
                print(json.dumps({"scale": out["scale"]}, indent=1), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))


def scale_run(root: Path, home: Path, model: str, n: int, cores: int) -> dict[str, Any]:
    """``n`` files through Ray, the journal and the sidecars; then a second run that has nothing to do."""
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.pipeline.cluster import ClusterOptions, RayPredictor
    from wildlife_desktop.pipeline.scan import scan_folder

    t = time.perf_counter()
    folder = tiny_folder(root / "big", n)
    made_s = time.perf_counter() - t
    t = time.perf_counter()
    scanned = len(scan_folder(folder).files)
    res: dict[str, Any] = {"files": n, "scanned": scanned, "make_s": round(made_s, 1),
                           "scan_s": round(time.perf_counter() - t, 1)}
    ready: list[float] = []
    pred = RayPredictor(AppPaths.under(home), ClusterOptions(workers=cores, chunk_files=64,
                                                             notify=lambda _line: ready.append(time.perf_counter())))
    res["ray"] = run(folder, home, model, pred, ready)
    res["resume_nothing_to_do"] = _noop_resume(folder, home, model)
    (journal,) = (folder / ".wildlife" / "layers").glob("*/journal.jsonl")
    res["journal_lines"] = sum(1 for _ in open(journal, encoding="utf-8"))
    res["journal_mb"] = round(journal.stat().st_size / 1e6, 1)
    res["sidecar_mb"] = {p.name: round(p.stat().st_size / 1e6, 1)
                         for p in folder.iterdir() if p.suffix in (".json", ".csv")}
    return res


def _noop_resume(folder: Path, home: Path, model: str) -> dict[str, Any]:
    """A second run of the finished folder: reads the journal, predicts nothing, rewrites the sidecars."""
    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.pipeline.job import JobConfig, JobFinished, JobStarted, run_job

    t = time.perf_counter()
    started = done = None
    for ev in run_job(JobConfig(folder, model, intra_threads=1), paths=AppPaths.under(home)):
        if isinstance(ev, JobStarted):
            started = ev
        elif isinstance(ev, JobFinished):
            done = ev.summary
    assert started is not None and done is not None
    return {"already_done": started.already_done, "todo": started.todo, "wall_s": round(time.perf_counter() - t, 1)}


if __name__ == "__main__":
    main()
