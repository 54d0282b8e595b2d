""""How long will this folder take?": time the real pipeline on a sample of the folder's own files.

:func:`estimate` links (or copies) an evenly spread sample of the folder's images into a
temporary folder, runs :func:`~.job.run_job` on it exactly as a real run would (decode, EXIF,
letterbox, inference, NMS, crops + classifier, journal, sidecars) and extrapolates to the whole
folder. Nothing is written into the folder itself. Qt-free; used by ``wildlife-desktop benchmark``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import WildlifeError
from ..core.paths import AppPaths
from .job import FileProcessed, JobConfig, JobStarted, run_job
from .scan import scan_folder


@dataclass(frozen=True)
class BenchmarkResult:
    """Measured speed on a sample and the estimate for the whole folder.

    ``images_per_s`` is the rate from the job's start (models loaded, first file decoded: a run
    of a few files therefore slightly under-states the long-run rate) to the last sample file;
    ``startup_s`` (scan and workspace set-up) is included in ``eta_s``. A rate taken from the
    first *result* would over-state it: files finish in pairs when two are in flight at once.
    Videos are not timed: ``eta_s`` covers the images only (see ``n_videos``).
    """

    images_per_s: float
    n_files: int
    n_images: int
    n_videos: int
    eta_s: float
    sample: int
    elapsed_s: float
    startup_s: float
    failed: int
    detector_id: str
    classifier_id: str | None
    random_weights: bool
    decode_workers: int
    intra_threads: int | None


def _place(src: Path, dst: Path) -> None:
    """Symlink ``src`` at ``dst``; hard link or copy where symlinks are not allowed (Windows)."""
    try:
        os.symlink(src, dst)
        return
    except (OSError, NotImplementedError):
        pass
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _spread(n_total: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(n_total)`` (all of them when ``k >= n_total``)."""
    if k >= n_total:
        return list(range(n_total))
    return sorted({int(i * n_total / k) for i in range(k)})


def estimate(
    folder: Path | str,
    detector_id: str,
    classifier_id: str | None = None,
    sample: int = 20,
    paths: AppPaths | None = None,
    *,
    decode_workers: int = 1,
    intra_threads: int | None = None,
) -> BenchmarkResult:
    """Time the pipeline on ``sample`` of ``folder``'s images and estimate the whole run.

    Args:
        folder: the folder the user wants to process (read only; nothing is written there).
        detector_id: installed detector id.
        classifier_id: installed classifier id, or ``None``.
        sample: images to time (spread over the folder); at least 2.
        paths: application folders (models); default :meth:`AppPaths.default`.
        decode_workers: as :attr:`JobConfig.decode_workers`.
        intra_threads: as :attr:`JobConfig.intra_threads`.

    Returns:
        A :class:`BenchmarkResult`.

    Raises:
        WildlifeError: the folder has no images, or the models cannot be opened
            (:class:`~wildlife_desktop.core.errors.ModelLoadError`).
    """
    folder = Path(folder)
    paths = paths or AppPaths.default()
    scan = scan_folder(folder, include_videos=True)
    images = [f for f in scan.files if f.kind == "image"]
    if not images:
        raise WildlifeError(f"No images found in {folder}: nothing to benchmark")
    chosen = [images[i] for i in _spread(len(images), max(2, int(sample)))]
    with tempfile.TemporaryDirectory(prefix="wildlife-benchmark-") as tmp:
        work = Path(tmp) / "sample"
        work.mkdir()
        for i, f in enumerate(chosen):
            _place((folder / f.rel_path).resolve(), work / f"{i:05d}_{Path(f.rel_path).name}")
        config = JobConfig(folder=work, detector_id=detector_id, classifier_id=classifier_id,
                           decode_workers=decode_workers, intra_threads=intra_threads,
                           checkpoint_s=3600.0, include_videos=False)
        t0 = time.perf_counter()
        t_started: float | None = None
        t_last = t0
        n = failed = 0
        random_weights = False
        for ev in run_job(config, paths=paths):
            if isinstance(ev, JobStarted):
                random_weights = ev.random_weights
                t_started = time.perf_counter()
            elif isinstance(ev, FileProcessed):
                t_last = time.perf_counter()
                n += 1
                failed += ev.prediction.failed
        elapsed = time.perf_counter() - t0
    startup = (t_started - t0) if t_started is not None else 0.0
    busy = t_last - (t_started if t_started is not None else t0)
    ips = n / busy if n and busy > 0 else 0.0
    eta = startup + len(images) / ips if ips > 0 else float("inf")
    return BenchmarkResult(
        images_per_s=round(ips, 3), n_files=len(scan.files), n_images=len(images),
        n_videos=len(scan.files) - len(images), eta_s=round(eta, 3), sample=n, elapsed_s=round(elapsed, 3),
        startup_s=round(startup, 3), failed=failed, detector_id=detector_id, classifier_id=classifier_id,
        random_weights=random_weights, decode_workers=decode_workers, intra_threads=intra_threads,
    )
