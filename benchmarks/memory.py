"""Peak memory of a long run: 10k inputs (symlinks to the sample JPEGs) through ``run_job``.

Run from the repository root (takes ~15-20 min on a 2-core laptop; run it in the background)::

    python benchmarks/memory.py                 # 10,000 inputs, YOLOv10n twin
    python benchmarks/memory.py --images 500    # quicker

It prints the resident set size every ``--every`` files (to see growth, not just the peak) and,
as its last line, one JSON object with the peak RSS (``ru_maxrss``) and the throughput.
Everything is written to a temporary folder and a temporary ``WILDLIFE_DESKTOP_HOME``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.throughput import CONFIGS, SAMPLES, install, link_folder, peak_rss_mb, repeated, sample_jpegs  # noqa: E402


def current_rss_mb() -> float:
    """Current resident set size (Linux ``/proc``; falls back to the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--model", default="yolov10n", choices=list(CONFIGS))
    p.add_argument("--every", type=int, default=1000, help="print RSS every N files")
    p.add_argument("--decode-workers", type=int, default=1)
    args = p.parse_args(argv)

    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, run_job

    work = Path(tempfile.mkdtemp(prefix="wd-mem-"))
    try:
        home = work / "home"
        os.environ["WILDLIFE_DESKTOP_HOME"] = str(home)
        files = repeated(sample_jpegs(SAMPLES), args.images)
        folder = link_folder(files, work / "in")
        det_id, cls_id = install(CONFIGS[args.model], home, 0.01)
        rss_start = current_rss_mb()
        samples: list[tuple[int, float]] = []
        config = JobConfig(folder=folder, detector_id=det_id, classifier_id=cls_id,
                           decode_workers=args.decode_workers)
        t0 = time.perf_counter()
        n = failed = 0
        summary = None
        for ev in run_job(config, paths=AppPaths.under(home)):
            if isinstance(ev, FileProcessed):
                n += 1
                failed += ev.prediction.failed
                if n % args.every == 0:
                    rss = current_rss_mb()
                    samples.append((n, round(rss, 1)))
                    print(f"{n:7d} files  RSS {rss:7.1f} MB  peak {peak_rss_mb():7.1f} MB  "
                          f"{n / (time.perf_counter() - t0):5.2f} img/s", flush=True)
            elif isinstance(ev, JobFinished):
                summary = ev.summary
        wall = time.perf_counter() - t0
        out = {
            "images": n, "failed": failed, "model": args.model, "wall_s": round(wall, 1),
            "ips": round(n / wall, 2), "rss_before_run_mb": round(rss_start, 1),
            "rss_samples_mb": samples, "peak_rss_mb": round(peak_rss_mb(), 1),
            "sidecars": len(summary.sidecars) if summary else 0,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
