"""The one processing job behind both the CLI and the GUI: scan → detect/classify → journal → sidecars.

``run_job`` is a generator of small frozen events. It checks its :class:`CancelToken` between
files, appends each file's result to the layer journal as soon as it exists, and regenerates the
sidecars at time-based checkpoints and at the end (also after a cancel). Images are decoded on a
small thread pool ahead of inference (decode overlaps ``InferenceSession.run``, which releases
the GIL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ImageReadError, ModelLoadError, SidecarWriteError, WildlifeError
from ..core.locks import run_lock
from ..core.paths import AppPaths
from ..core.progress import Cancelled, CancelToken, Progress, RateMeter
from ..core.records import MediaFile, Prediction
from ..formats.decisions import read_decisions
from ..runtime.session import default_intra_threads
from ..runtime.store import ModelStore
from .housekeeping import remove_leftovers
from .images import DecodedImage, load_image
from .journal import LayerInfo, Workspace, current_entries
from .predict import PredictOptions, failed, predict_image, predict_video
from .results import count_files, write_layer_sidecars
from .scan import scan_folder

logger = logging.getLogger(__name__)

RANDOM_WEIGHTS_WARNING = "random weights — benchmark only, not a detector: every box it outputs is meaningless"


@dataclass(frozen=True)
class JobConfig:
    folder: Path
    detector_id: str
    classifier_id: str | None = None
    conf_floor: float = 0.005
    detection_threshold: float | None = None  # export/display; None = the detector's typical threshold
    classification_threshold: float | None = None  # None = the classifier's typical threshold
    video_every_s: float = 1.0
    video_max_frames: int = 120
    sequence_gap_s: float = 60.0
    intra_threads: int | None = None
    checkpoint_s: float = 60.0  # regenerate sidecars at most this often during a run
    decode_workers: int = 1
    include_videos: bool = True


@dataclass(frozen=True)
class JobStarted:
    total: int
    todo: int
    already_done: int
    layer_id: str
    output_dir: Path
    random_weights: bool
    warnings: tuple[str, ...] = ()
    detection_threshold: float = 0.2  # what COCO/CSV/summaries use


@dataclass(frozen=True)
class FileProcessed:
    prediction: Prediction
    progress: Progress


@dataclass(frozen=True)
class SidecarsWritten:
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class JobSummary:
    total: int
    processed: int  # files processed in this run
    failed: int
    animals: int  # files with an animal at or above the detection threshold
    persons: int
    vehicles: int
    empty: int
    elapsed_s: float
    output_dir: Path
    sidecars: tuple[Path, ...]
    cancelled: bool
    random_weights: bool
    layer_id: str = ""
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class JobFinished:
    summary: JobSummary


JobEvent = JobStarted | FileProcessed | SidecarsWritten | JobFinished

#: The per-file step of a job, injectable: ``(folder, todo, opts, config, cancel)`` -> each file of
#: ``todo`` with its prediction (or failure entry), in ``todo`` order, checking ``cancel`` between
#: files. ``None`` = this process (:func:`_iter_predict`); ``pipeline.cluster`` plugs in Ray.
FilePredictor = Callable[[Path, "list[MediaFile]", PredictOptions, "JobConfig", CancelToken],
                         Iterator[tuple[MediaFile, Prediction]]]


def _layer_for(config: JobConfig, store: ModelStore) -> LayerInfo:
    det, _ = store.get(config.detector_id)
    if det.task != "detection":
        raise ModelLoadError(f"Model '{det.id}' is a {det.task} model, not a detector.")
    cls = None
    if config.classifier_id:
        cls, _ = store.get(config.classifier_id)
        if cls.task != "classification":
            raise ModelLoadError(f"Model '{cls.id}' is a {cls.task} model, not a classifier.")
    return LayerInfo(
        source="run",
        detector=det.file,
        detector_id=det.id,
        detector_sha256=det.sha256,
        detector_version=det.version,
        classifier=cls.file if cls else "",
        classifier_id=cls.id if cls else "",
        classifier_sha256=cls.sha256 if cls else "",
        classifier_labels=tuple(cls.labels) if cls else (),
        typical_threshold=det.typical_threshold,
        conservative_threshold=det.conservative_threshold,
        typical_classification_threshold=cls.typical_threshold if cls else 0.5,
        random_weights=det.random_weights or bool(cls and cls.random_weights),
        conf_floor=config.conf_floor,
        video_every_s=config.video_every_s,
        video_max_frames=config.video_max_frames,
        created=time.strftime("%Y-%m-%d %H:%M:%S"),
        extra={"detector_members": list(det.extra_dict().get("members") or [])},
    )


def _decode(path: Path, target: int) -> DecodedImage | ImageReadError:
    try:
        return load_image(path, target=target)
    except ImageReadError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - one file's surprise is that file's failure, not the run's
        logger.exception("unexpected error decoding %s", path)
        return ImageReadError(f"unexpected error while decoding ({type(exc).__name__}: {exc})")


def _disk_error(exc: OSError, where: Path, processed: int) -> SidecarWriteError:
    """A full (or failing) disk while saving progress: what happened, and that resuming is safe."""
    return SidecarWriteError(
        f"Cannot save progress in {where}: {exc.strerror or exc}. Free some space on that disk, then run again: "
        f"the {processed} file(s) processed in this run before that are kept and the run resumes after them.")


def run_job(
    config: JobConfig, *, paths: AppPaths | None = None, cancel: CancelToken | None = None,
    predictor: FilePredictor | None = None,
) -> Iterator[JobEvent]:
    """Process ``config.folder``; resumable, cancellable. See the module docstring.

    ``predictor`` replaces the in-process per-file step (e.g. ``pipeline.cluster.RayPredictor``);
    the journal, sidecars, events and locks stay this function's.

    Raises:
        FolderBusyError: the folder is already being processed (another process or window
            holds its run lock, ``core.locks``); nothing was changed.
    """
    with contextlib.ExitStack() as held:  # the run lock, until the run ends or is abandoned
        yield from _run_job(config, paths, cancel, held, predictor)


def _run_job(config: JobConfig, paths: AppPaths | None, cancel: CancelToken | None,
             held: contextlib.ExitStack, predictor: FilePredictor | None = None) -> Iterator[JobEvent]:
    paths = paths or AppPaths.default()
    cancel = cancel or CancelToken()
    t0 = time.monotonic()
    store = ModelStore(paths)
    layer = _layer_for(config, store)
    ws = Workspace.locate(config.folder, paths, create=True)
    assert ws is not None
    held.enter_context(run_lock(ws.state_dir, ws.folder))
    remove_leftovers(ws)  # temp files of a run that was killed mid-write
    layer_id = ws.ensure_layer(layer)
    ws.set_active(layer_id)
    scan = scan_folder(ws.folder, include_videos=config.include_videos)
    journal = ws.journal(layer_id)
    done = current_entries(journal.load(), scan.files)
    todo = [f for f in scan.files if f.rel_path not in done]

    warnings: list[str] = []
    if layer.random_weights:
        warnings.append(RANDOM_WEIGHTS_WARNING)
    if ws.redirected:
        warnings.append(f"The folder is read-only; results are written to {ws.out_dir}")
    warnings.extend(f"skipped {rel}: {why}" for rel, why in scan.skipped)
    warnings.extend((*ws.warnings, *journal.warnings, *read_decisions(ws.state_dir).warnings))
    if not scan.files:
        warnings.append(f"No images or videos found in {ws.folder}")
    thr = layer.typical_threshold if config.detection_threshold is None else config.detection_threshold
    yield JobStarted(len(scan.files), len(todo), len(done), layer_id, ws.out_dir, layer.random_weights,
                     tuple(warnings), thr)

    def checkpoint() -> tuple[Path, ...]:
        return write_layer_sidecars(ws.out_dir, layer, done, detection_threshold=config.detection_threshold,
                                    classification_threshold=config.classification_threshold,
                                    sequence_gap_s=config.sequence_gap_s)

    cancelled = False
    sidecars: tuple[Path, ...] = ()
    processed = 0
    disk_error: OSError | None = None
    try:
        if todo:
            opts = PredictOptions(conf_floor=config.conf_floor, classify_min_conf=layer.conservative_threshold,
                                  label_threshold=layer.typical_threshold, video_every_s=config.video_every_s,
                                  video_max_frames=config.video_max_frames)
            if predictor is None:
                detector = store.open_detector(config.detector_id, intra_threads=config.intra_threads)
                classifier = (store.open_classifier(config.classifier_id, intra_threads=config.intra_threads)
                              if config.classifier_id else None)
                stream = _iter_predict(ws.folder, todo, detector, classifier, opts, config, cancel)
            else:
                stream = predictor(ws.folder, todo, opts, config, cancel)
            held.callback(getattr(stream, "close", lambda: None))  # stop the workers even if abandoned
            meter = RateMeter(len(todo))
            last_ckpt = time.monotonic()
            interval = config.checkpoint_s
            for f, pred in stream:
                journal.append(f.key, pred)
                done[f.rel_path] = pred
                processed += 1
                yield FileProcessed(pred, meter.update(processed, f.rel_path))
                if time.monotonic() - last_ckpt >= interval:
                    last_ckpt_start = time.monotonic()
                    journal.sync()
                    sidecars = checkpoint()
                    # On a huge folder rewriting the sidecars takes a while: spend at most ~10 %
                    # of the run on it (the journal already makes every file safe).
                    interval = max(config.checkpoint_s, 10 * (time.monotonic() - last_ckpt_start))
                    last_ckpt = time.monotonic()
                    yield SidecarsWritten(sidecars)
    except Cancelled:
        cancelled = True
    except OSError as exc:  # the journal could not be written (disk full): it holds every file before
        disk_error = exc
    finally:
        try:
            journal.close()
        except OSError as exc:
            disk_error = disk_error or exc
    if disk_error is not None:
        raise _disk_error(disk_error, journal.path.parent, processed) from disk_error
    sidecars = checkpoint()
    yield SidecarsWritten(sidecars)
    n_fail, n_an, n_pe, n_ve, n_empty = count_files(done, thr)
    yield JobFinished(JobSummary(
        total=len(scan.files), processed=processed, failed=n_fail, animals=n_an, persons=n_pe,
        vehicles=n_ve, empty=n_empty, elapsed_s=time.monotonic() - t0, output_dir=ws.out_dir,
        sidecars=sidecars, cancelled=cancelled, random_weights=layer.random_weights, layer_id=layer_id,
        warnings=tuple(warnings),
    ))


def predict_file(folder: Path, f: MediaFile, detector: object, classifier: object, opts: PredictOptions,
                 img: DecodedImage | ImageReadError | None = None) -> Prediction:
    """One file's prediction, or its failure entry: a bad file never ends the run (``img``: decoded ahead)."""
    path = folder / f.rel_path
    try:
        if f.kind != "image":
            return predict_video(path, f.rel_path, detector, classifier, opts)  # type: ignore[arg-type]
        if img is None:
            img = _decode(path, int(getattr(detector, "input_size", 640)))
        if isinstance(img, ImageReadError):
            raise img
        return predict_image(path, f.rel_path, img, detector, classifier, opts)  # type: ignore[arg-type]
    except (WildlifeError, OSError) as exc:
        logger.info("failed: %s: %s", f.rel_path, exc)
        return failed(f.rel_path, f.kind, str(exc) or type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - never the end of the run: this file's failure entry
        logger.exception("unexpected error processing %s", f.rel_path)
        return failed(f.rel_path, f.kind, f"unexpected error ({type(exc).__name__}: {exc})")


def _iter_predict(
    folder: Path,
    todo: list[MediaFile],
    detector: object,
    classifier: object,
    opts: PredictOptions,
    config: JobConfig,
    cancel: CancelToken,
) -> Iterator[tuple[MediaFile, Prediction]]:
    """Predict each file in order on a thread pool (bounded lookahead); results come back in order.

    When the cores allow more than one single-session inference at a time (``cpu_count //
    intra_threads >= 2``, e.g. 2 cores and the default 1 inference thread), the workers run the
    whole prediction (decode, letterbox, inference, NMS, crops): ``InferenceSession.run``
    releases the GIL, so two images are in inference at once and both cores stay busy; merely
    decoding ahead of one single-threaded inference left the second core mostly idle (see
    ``benchmarks/README.md``). Otherwise the workers only decode ahead of inference here.
    """
    target = int(getattr(detector, "input_size", 640))
    intra = config.intra_threads or default_intra_threads()
    slots = max(1, (os.cpu_count() or 1) // max(1, intra))
    whole = slots >= 2
    workers = max(1, config.decode_workers, slots if whole else 1)
    lookahead = max(2, 2 * workers)

    def predict(f: MediaFile, img: DecodedImage | ImageReadError | None) -> Prediction:
        return predict_file(folder, f, detector, classifier, opts, img)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="predict" if whole else "decode") as pool:
        pending: deque[tuple[MediaFile, Future[Prediction] | Future[DecodedImage | ImageReadError] | None]] = deque()
        it = iter(todo)

        def refill() -> None:
            while len(pending) < lookahead:
                nxt = next(it, None)
                if nxt is None:
                    return
                if whole:
                    pending.append((nxt, pool.submit(predict, nxt, None)))
                elif nxt.kind == "image":
                    pending.append((nxt, pool.submit(_decode, folder / nxt.rel_path, target)))
                else:
                    pending.append((nxt, None))

        try:
            refill()
            while pending:
                cancel.checkpoint()
                f, fut = pending.popleft()
                refill()
                if whole:
                    assert fut is not None
                    pred = fut.result()
                else:
                    img = None if fut is None else fut.result()
                    assert not isinstance(img, Prediction)  # decode-ahead futures hold images
                    pred = predict(f, img)
                assert isinstance(pred, Prediction)
                yield f, pred
        finally:
            for _, fut in pending:
                if fut is not None:
                    fut.cancel()
