"""Opening a folder, loading/importing its results, exporting, and making its review session.

Threading contract: a GUI-thread QObject; the slow parts (scan, import, load, export) run on
the global pool through :func:`workers.run_in_pool` and report back by signals on the GUI
thread. A result for a folder the user already left is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.paths import AppPaths
from .interpreter import bulk_load
from .item_models.thumbnail_model import index_files
from .view_state import Thresholds
from .workers import run_in_pool

#: Work that competes for the GIL (scan, results load) starts this long after the GUI changed,
#: so the repaint it caused is done first.
PAINT_FIRST_MS: Final[int] = 30

@dataclass(frozen=True)
class ImportSummary:
    """What File ▸ Import results… brought in, for the window's confirmation."""

    file: str  # the results file's name
    detector: str  # the detector named in it
    files: int  # files of this folder with imported results
    detections: int
    missing: int  # files named in the results file but not in the folder
    unmatched: int  # files in the folder the results file does not mention
    warnings: tuple[str, ...] = ()


_Loaded = tuple[Any, dict[str, Any], tuple[Any, ...], dict[str, Any], Any, frozenset[str], Any]
_NOTHING: _Loaded = (None, {}, (), {}, None, frozenset(), None)


def _derive(res: Any, digests: dict[str, Any]) -> _Loaded:
    """(results, sequences, decisions, digests, summary, labels, corrections) of ``res``; pool thread.

    Everything the GUI thread would otherwise compute per file is made here. ``digests`` holds
    the already-known ``PredictionDigest`` of unchanged predictions; the others are made.
    """
    from ..formats.decisions import load_decisions
    from ..pipeline.journal import STATE_DIRNAME
    from ..pipeline.results import summarize
    from ..pipeline.sequences import assign_sequences
    from .view_state import PredictionDigest

    if res is None:
        return _NOTHING
    from ..formats.corrections import CorrectionError, load_corrections
    from ..pipeline.sequences import camera_location

    try:  # the cameras' time offsets (review time-offset) move sequences here as in every export
        corrections = load_corrections(res.output_dir / STATE_DIRNAME)
    except CorrectionError:
        corrections = None
    timed = corrections.apply(res.predictions, camera_location) if corrections else res.predictions
    seqs = assign_sequences((r, p.meta.datetime) for r, p in timed.items())
    out = {r: d if (d := digests.get(r)) is not None else PredictionDigest.of(p) for r, p in res.predictions.items()}
    labels = frozenset(lab for d in out.values() if d.best is not None and (lab := d.best.top_label))
    return res, seqs, load_decisions(res.output_dir / STATE_DIRNAME), out, summarize(res), labels, corrections


class FolderController(QObject):
    """Signals: ``sig_scanned(list[MediaFile], dict[rel_path, position])``, ``sig_results_loaded(bool imported)``,
    ``sig_exported(tuple[Path, ...])``, ``sig_failed(str)``, ``sig_preview_image``/``sig_preview_meta``,
    ``sig_folder_problem(str)`` (the folder cannot be opened: missing, a file, unreadable),
    ``sig_sidecars_written(tuple[Path, ...])`` (the debounced rewrite after review)."""

    sig_scanned = Signal(object, object)
    sig_results_loaded = Signal(bool)
    sig_exported = Signal(tuple)
    sig_failed = Signal(str)
    sig_preview_image = Signal(str, object, str)  # rel_path, QImage | None, error
    sig_preview_meta = Signal(str, object)  # rel_path, MediaMeta | None
    sig_folder_problem = Signal(str)
    sig_sidecars_written = Signal(tuple)

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.folder: Path | None = None
        self.results: Any = None  # pipeline.results.FolderResults of the open folder
        self.sequences: dict[str, Any] = {}
        self.decisions: tuple[Any, ...] = ()  # formats.decisions history of the open folder
        self.digests: dict[str, Any] = {}  # rel_path -> view_state.PredictionDigest (made on the pool)
        self.summary: Any = None  # pipeline.results.FolderSummary of the loaded results (folder badge)
        self.labels: frozenset[str] = frozenset()  # classifier labels of the files' best boxes
        self.corrections: Any = None  # formats.corrections.Corrections of the loaded results (None: none)
        self.files: tuple[Any, ...] | None = None  # the scan shown in the grid (MediaFile, ...)
        self.results_loaded = False
        self.problem = ""  # why the open folder cannot be shown ("" when it can)
        self.writable = True  # False: a read-only folder (card); outputs go to the app's data folder
        self.last_import: ImportSummary | None = None  # the newest import of this folder
        self._load_generation = 0  # the newest results load; an older one's result is dropped
        self.blur_boxes: Callable[[str], tuple[Any, ...]] | None = None  # rel_path -> boxes hidden in the preview
        self.preview_blur: tuple[str, tuple[Any, ...]] = ("", ())  # the last preview asked: file, boxes hidden

    def open(self, folder: Path, import_json: Path | None = None) -> None:
        """Scan ``folder`` off the GUI thread, then load (or first import) its results."""
        from ..pipeline.scan import scan_folder

        folder = Path(folder)
        self.folder, self.results, self.sequences, self.decisions = folder, None, {}, ()
        self.digests, self.summary, self.files, self.labels = {}, None, None, frozenset()
        self.corrections = None
        self.results_loaded, self.problem, self.writable, self.last_import = False, "", True, None
        self._load_generation += 1  # a load still running for the previous open is stale

        def scan() -> tuple[Any, dict[str, int], bool]:
            from ..core.atomic import is_writable_dir

            found = scan_folder(folder)
            # 30 ms for 100k files: not on the GUI thread; nor the write probe (a slow card)
            return found, index_files(found.files), is_writable_dir(folder)

        def failed(exc: BaseException) -> None:
            if folder == self.folder:
                self.problem = str(exc) or type(exc).__name__
                self.sig_folder_problem.emit(self.problem)

        def done(out: tuple[Any, dict[str, int], bool]) -> None:
            found, index_of, writable = out
            if folder == self.folder:
                self.files, self.writable = found.files, writable
                self.sig_scanned.emit(list(found.files), index_of)
                # The first paint of the new grid goes first, without a pool thread's Python competing
                # for the GIL (docs/architecture.md, "The GUI thread and the GIL").
                QTimer.singleShot(PAINT_FIRST_MS, self, lambda: self._load_if_current(folder, import_json))

        # Same for the window's own repaint (folder tree, cleared panes) before the scan starts.
        QTimer.singleShot(PAINT_FIRST_MS, self, lambda: run_in_pool(scan, done, failed, self))

    def _load_if_current(self, folder: Path, import_json: Path | None) -> None:
        if folder == self.folder:
            self.load_results(import_json)

    def load_results(self, import_json: Path | None = None) -> None:
        """Load (or first import) the folder's results on the pool; ``sig_results_loaded`` when done.

        The folder is not rescanned: the results are restricted to the files the grid shows.
        """
        from ..pipeline.importer import import_results
        from ..pipeline.results import load_results

        folder, paths, files = self.folder, self.paths, self.files
        if folder is None:
            return

        def work() -> _Loaded:
            if import_json is None:
                return _derive(load_results(folder, paths, files=files), {})
            report = import_results(folder, import_json, paths)
            res = report.results
            # read on the GUI thread once sig_results_loaded says so
            self.last_import = ImportSummary(
                import_json.name, res.layer.detector, report.imported,
                sum(len(p.detections) for p in res.predictions.values()), len(report.missing), report.unmatched,
                tuple(report.warnings))
            return _derive(res, {})

        self._run_load(folder, work, imported=import_json is not None)

    def apply_run(self, layer_id: str, already_done: int, predictions: list[Any]) -> None:
        """Show a finished run's results from the predictions the engine delivered.

        The job journals exactly these predictions, so reloading the journal (seconds of
        pure-Python parsing on a big folder, holding the GIL the GUI thread needs) is only
        done when the run added to a layer whose other entries are not loaded here.
        """
        from ..pipeline.journal import Workspace
        from ..pipeline.results import FolderResults

        folder, paths, files, old = self.folder, self.paths, self.files, self.results
        if folder is None:
            return
        same_layer = old is not None and old.layer_id == layer_id
        if files is None or not (same_layer or already_done == 0):
            self.load_results()
            return
        base = dict(old.predictions) if same_layer else {}
        old_digests = self.digests if same_layer else {}

        def work() -> _Loaded:
            ws = Workspace.locate(folder, paths, create=False)
            if ws is None:
                return _NOTHING
            known = {f.rel_path for f in files}
            preds = base
            fresh = {p.rel_path: p for p in predictions if p.rel_path in known}
            preds.update(fresh)
            res = FolderResults(ws.folder, ws.out_dir, layer_id, ws.layer_info(layer_id), preds, len(files))
            keep = {r: d for r, d in old_digests.items() if r not in fresh}
            return _derive(res, keep)

        self._run_load(folder, work, imported=False)

    def _run_load(self, folder: Path, work: Callable[[], _Loaded], *, imported: bool) -> None:
        def load() -> _Loaded:
            with bulk_load():  # no GC pause while ~10 objects per file are built (interpreter.py)
                return work()

        self._load_generation += 1
        generation = self._load_generation

        def done(out: _Loaded) -> None:
            if generation == self._load_generation and folder == self.folder:
                (self.results, self.sequences, self.decisions, self.digests, self.summary, self.labels,
                 self.corrections) = out
                self.results_loaded = True
                self.sig_results_loaded.emit(imported)

        run_in_pool(load, done, self._on_error, self)

    def corrected_time(self, rel_path: str, value: str | None) -> str | None:
        """A capture time of ``rel_path`` with its camera's time offset (what sequences and exports use)."""
        from ..pipeline.sequences import camera_location

        c = self.corrections
        return c.shift(value, camera_location(rel_path)) if c and value else value

    def typical_threshold(self) -> float | None:
        """The detector's usual display threshold (from the model pack), when results are loaded."""
        layer = getattr(self.results, "layer", None)
        value = getattr(layer, "typical_threshold", None)
        return float(value) if value is not None else None

    def reviewed_files(self) -> set[str]:
        """Files with at least one effective decision (the grid's "reviewed" badge and filter)."""
        from ..formats.decisions import latest_decisions

        return {d.file for d in latest_decisions(self.decisions).values()}

    def make_session(self, reviewer: str, *, accept: float, ignore: float, labels: tuple[str, ...] = (),
                     quick_labels: tuple[str, ...] | None = None,
                     clock: Callable[[], float] | None = None) -> Any:
        """A ``ReviewSession`` over the loaded results (None without results)."""
        from ..review.queue import QueueThresholds
        from ..review.session import ReviewSession

        if self.results is None:
            return None
        layer = getattr(self.results, "layer", None)
        all_labels = tuple(dict.fromkeys((*(getattr(layer, "classifier_labels", ()) or ()), *labels,
                                          *(quick_labels or ()))))
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        return ReviewSession.from_results(self.results, reviewer=reviewer, sequences=self.sequences,
                                          thresholds=QueueThresholds(accept=accept, ignore=ignore),
                                          labels=all_labels, quick_labels=quick_labels, **extra)

    def export(self, thresholds: Thresholds) -> None:
        """Rewrite the three sidecars (decisions merged by ``export_folder``) off the GUI thread."""
        from ..pipeline.results import export_folder

        folder, paths = self.folder, self.paths
        if folder is None:
            return
        run_in_pool(lambda: export_folder(folder, detection_threshold=thresholds.detection,
                                          classification_threshold=thresholds.classification, paths=paths),
                    lambda out: self.sig_exported.emit(tuple(out)), self._on_error, self)

    def write_sidecars(self, thresholds: Thresholds) -> None:
        """Rewrite the sidecars of the loaded results with the newest decisions, off the GUI thread.

        From the predictions already in memory (no journal reload, no rescan); the decisions are
        read under the folder's sidecar lock (``write_layer_sidecars``), so a concurrent writer
        never leaves sidecars missing one. ``sig_sidecars_written`` when done.
        """
        from ..pipeline.results import write_layer_sidecars

        res, folder = self.results, self.folder
        if res is None or folder is None:
            return

        def work() -> tuple[Path, ...]:
            return write_layer_sidecars(res.output_dir, res.layer, res.predictions,
                                        detection_threshold=thresholds.detection,
                                        classification_threshold=thresholds.classification)

        def done(out: tuple[Path, ...]) -> None:
            if folder == self.folder:
                self.sig_sidecars_written.emit(tuple(out))

        run_in_pool(work, done, self._on_error, self)

    def verified_for(self, rel_path: str, prediction: Any) -> tuple[dict[int, Any], bool]:
        """Effective decisions per detection index of one file, and whether it is verified empty."""
        from ..formats.bundle import detection_id
        from ..formats.decisions import latest_decisions, match_file

        mine = [d for d in latest_decisions(self.decisions).values() if d.file == rel_path]
        if prediction is None or not mine:
            return {}, False
        return match_file(prediction, [detection_id(rel_path, d) for d in prediction.detections], mine)

    def load_preview(self, rel_path: str, kind: str, *, with_meta: bool) -> None:
        """Decode one file for the review pane off the GUI thread (and its EXIF when not known)."""
        from .image_io import load_review_image, load_review_meta

        if self.folder is None:
            return
        path = self.folder / rel_path
        blur = self.blur_boxes(rel_path) if self.blur_boxes is not None else ()  # gui/privacy.py
        self.preview_blur = (rel_path, blur)
        if with_meta:
            run_in_pool(lambda: load_review_meta(path), lambda meta: self.sig_preview_meta.emit(rel_path, meta),
                        None, self)
        run_in_pool(lambda: load_review_image(path, kind, blur),
                    lambda img: self.sig_preview_image.emit(rel_path, img, ""),
                    lambda exc: self.sig_preview_image.emit(rel_path, None, str(exc)), self)

    def _on_error(self, exc: BaseException) -> None:
        self.sig_failed.emit(str(exc))
