"""GUI-thread stalls of the main window (issue 3): open, scroll, threshold slider, a run, 100k rows.

Run from the repository root (no display needed; ~1-2 min on 2 cores)::

    python benchmarks/gui_responsiveness.py              # 10,000 files
    python benchmarks/gui_responsiveness.py --files 2000 --run-files 50   # quicker

A 5 ms ``QTimer`` heartbeat runs on the GUI thread during each scenario; every gap between two
ticks minus the 5 ms period is time the GUI thread could not handle events (a "stall"). The
table gives the longest stall and the 99th percentile. Scenarios:

* ``open``: ``MainWindow.open_folder`` on N files whose results were imported beforehand
  (synthetic MegaDetector 1.5 file) until the grid is populated and the results are shown.
* ``scroll``: the grid's scroll bar stepped from top to bottom, one page step per 16 ms.
* ``slider``: the detection-threshold slider moved 0 → 100 % one step per 16 ms (a drag),
  with the grid sorted by confidence.
* ``run``: a detection run with the random-weight YOLOv10n twin on ``--run-files`` files, until
  the finished run's results are shown again.
* ``open100k``: 100k rows into the grid model only (as ``test_huge_folder_is_virtualised``),
  with the row index made beforehand as the app makes it on the pool with the scan.
* ``filter100k:<kind>`` (issue 14): on those 100k rows with synthetic results, events and review
  states, one change of each season filter of the grid (label, review state, camera, confidence
  band, then the sort by event) through the grid's controls, until the rows are swapped in.
* ``verify100k``: the Verify page on a queue of 100k crops (the big folder's files, 10 boxes
  each), the filter bar's label changed until the filtered queue is shown.
* ``cropgrid100k``: the crop grid over those 100k crops scrolled top to bottom in 400 steps,
  one per 16 ms, crops cut on the pool from the real JPEGs meanwhile.

Everything goes to a temporary folder (hard links, else symlinks, to the sample JPEGs) and a
temporary ``WILDLIFE_DESKTOP_HOME``; nothing is written into ``../shared``. Benchmarks are
not tests: nothing here asserts a time. Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")
SAMPLE_DIRS = (SHARED / "samples" / "caltech_cct", SHARED / "samples" / "lila_test_images")
TWIN = SHARED / "models" / "twins" / "twin-yolov10n-640-random.onnx"
HEARTBEAT_MS = 5
BUDGET_MS = 50.0


def sample_jpegs() -> list[Path]:
    out: list[Path] = []
    for d in SAMPLE_DIRS:
        out.extend(sorted(p for p in d.glob("*") if p.suffix.lower() in (".jpg", ".jpeg")))
    if not out:
        raise SystemExit(f"no sample JPEGs under {SAMPLE_DIRS}")
    return out


def link_folder(dest: Path, n: int, per_dir: int = 1000) -> list[str]:
    """``n`` files in camera subfolders of ``dest``: hard links, else symlinks, else copies."""
    import shutil

    srcs = sample_jpegs()
    rels: list[str] = []
    for i in range(n):
        rel = f"cam{i // per_dir:02d}/IMG_{i:06d}.jpg"
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        src = srcs[i % len(srcs)]
        try:
            os.link(src, target)
        except OSError:
            try:
                target.symlink_to(src)
            except OSError:
                shutil.copy2(src, target)
        rels.append(rel)
    return rels


def write_md_results(path: Path, rels: list[str], seed: int = 3) -> Path:
    """A synthetic MegaDetector 1.5 results file: 0-3 boxes per file, a few failures."""
    rng = random.Random(seed)
    images: list[dict[str, Any]] = []
    for i, rel in enumerate(rels):
        entry: dict[str, Any] = {"file": rel, "width": 2048, "height": 1536,
                                 "datetime": f"2024:05:{1 + i // 2000 % 28:02d} {i // 3600 % 24:02d}:"
                                             f"{i // 60 % 60:02d}:{i % 60:02d}"}
        if rng.random() < 0.01:
            entry["failure"], entry["detections"] = "Failure image access", None
        else:
            dets = []
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                x, y = rng.random() * 0.7, rng.random() * 0.7
                dets.append({"category": rng.choice("1112"), "conf": round(rng.random(), 3),
                             "bbox": [round(x, 4), round(y, 4), 0.2, 0.2]})
            entry["detections"] = dets
        images.append(entry)
    data = {"info": {"format_version": "1.5", "detector": "md_v5a.0.0.pt",
                     "detector_metadata": {"megadetector_version": "v5a.0.0",
                                           "typical_detection_threshold": 0.2,
                                           "conservative_detection_threshold": 0.05}},
            "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
            "images": images}
    path.write_text(json.dumps(data))
    return path


class Heartbeat:
    """A 5 ms timer on the GUI thread; gaps between ticks minus the period are stalls."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        self.ticks.append(time.perf_counter())
        stalls = [max(0.0, (b - a) * 1000.0 - HEARTBEAT_MS) for a, b in zip(self.ticks, self.ticks[1:], strict=False)]
        stalls.sort()
        p99 = stalls[min(len(stalls) - 1, int(0.99 * len(stalls)))] if stalls else 0.0
        return {"max_ms": round(stalls[-1] if stalls else 0.0, 1), "p99_ms": round(p99, 1),
                "over_50ms": sum(1 for s in stalls if s > BUDGET_MS), "ticks": len(stalls),
                "median_ms": round(statistics.median(stalls), 2) if stalls else 0.0}


def spin_until(done: Callable[[], bool], timeout_s: float) -> float:
    """Run the event loop until ``done()``; returns the seconds it took."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    t0 = time.perf_counter()
    check = QTimer()
    check.setInterval(2)

    def poll() -> None:
        if done() or time.perf_counter() - t0 > timeout_s:
            loop.quit()

    check.timeout.connect(poll)
    check.start()
    loop.exec()
    check.stop()
    if not done():
        raise SystemExit(f"timed out after {timeout_s:.0f} s")
    return time.perf_counter() - t0


def measure(name: str, action: Callable[[], None], done: Callable[[], bool], timeout_s: float,
            settle_ms: int = 200) -> dict[str, Any]:
    hb = Heartbeat()
    hb.start()
    t0 = time.perf_counter()
    action()
    spin_until(done, timeout_s)
    elapsed = time.perf_counter() - t0
    spin_until(_after(settle_ms / 1000.0), 5)  # stalls just after "done" (repaints, pool callbacks)
    row = {"scenario": name, "seconds": round(elapsed, 2), **hb.stop()}
    print(f"  {name}: {row}", flush=True)
    return row


def _after(seconds: float) -> Callable[[], bool]:
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0 >= seconds


class Stepper:
    """Calls ``step(i)`` for i in 0..n-1 every ``period_ms`` from the event loop."""

    def __init__(self, n: int, step: Callable[[int], None], period_ms: int = 16) -> None:
        from PySide6.QtCore import QTimer

        self.n, self.i, self._step = n, 0, step
        self.timer = QTimer()
        self.timer.setInterval(period_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.timer.start()

    def _tick(self) -> None:
        if self.i >= self.n:
            self.timer.stop()
            return
        self._step(self.i)
        self.i += 1

    def finished(self) -> bool:
        return self.i >= self.n


SPECIES = ("zebra", "impala", "wildebeest", "gazelle", "lion", "hyena", "elephant", "bird")


def _season_files(n: int) -> tuple[Any, ...]:
    """``n`` files with one labelled box each, events, and a review state on every third file."""
    from wildlife_desktop.core.records import BBox, Classification, Detection, MediaFile, MediaMeta, Prediction
    from wildlife_desktop.gui.view_state import FileReview, PredictionDigest
    from wildlife_desktop.pipeline.sequences import assign_sequences

    rng = random.Random(5)
    files = [MediaFile(f"cam{i // 5000:02d}/IMG_{i:06d}.JPG", 1000, i, "image") for i in range(n)]
    preds = {}
    for i, f in enumerate(files):
        t = f"2024-{1 + i // 20000:02d}-{1 + i // 700 % 28:02d} {i // 60 % 24:02d}:{i % 60:02d}:00"
        det = Detection("1", round(rng.random(), 3), BBox(0.1, 0.1, 0.2, 0.2),
                        (Classification(rng.choice(SPECIES), round(rng.random(), 3)),))
        preds[f.rel_path] = Prediction(f.rel_path, "image", MediaMeta(datetime=t), (det,))
    digests = {r: PredictionDigest.of(p) for r, p in preds.items()}
    seqs = assign_sequences((r, p.meta.datetime) for r, p in preds.items())
    states = (frozenset({"verified", "mine"}), frozenset({"rejected", "disagreement"}),
              frozenset({"verified", "relabelled", "disagreement"}))
    reviews = {f.rel_path: FileReview(frozenset({rng.choice(SPECIES)}), rng.choice(states)) for f in files[::3]}
    return files, preds, digests, seqs, reviews


def season_filters(win: Any, n: int, bulk_load: Callable[[], Any]) -> list[dict[str, Any]]:
    """Grid filter changes on ``n`` files with results, events and review states (issue 14)."""
    from wildlife_desktop.gui.item_models.thumbnail_model import SortKey, index_files

    with bulk_load():
        files, preds, digests, seqs, reviews = _season_files(n)
        index_of = index_files(files)
    model, grid = win.model, win.grid
    model.clear()
    model.set_files(Path("/nonexistent"), files, index_of)
    model.replace_results(preds, digests, set(SPECIES))
    model.set_sequences(seqs)
    model.set_review_index(reviews)
    grid.refresh_filters()
    grid.more_button.setChecked(True)
    spin_until(_after(0.5), 30)
    out = []
    idle = lambda: not model.relayout_pending()  # noqa: E731
    for kind, change in (
            ("label", lambda: grid.filter_combo.setCurrentIndex(grid.filter_combo.findData("label:zebra"))),
            ("state", lambda: grid.state_combo.setCurrentIndex(grid.state_combo.findData("verified"))),
            ("camera", lambda: grid.place_combo.setCurrentIndex(grid.place_combo.findData("cam07"))),
            ("confidence", lambda: grid.conf_combo.setCurrentIndex(1)),
            ("sort_event", lambda: grid.sort_combo.setCurrentIndex(grid.sort_combo.findData(int(SortKey.EVENT)))),
            ("clear", lambda: [c.setCurrentIndex(0) for c in (grid.filter_combo, grid.state_combo, grid.place_combo,
                                                               grid.conf_combo)])):
        row = measure(f"filter100k:{kind}", change, idle, 60)
        row["rows"] = model.rowCount()
        out.append(row)
    return out


def _season_session(rels: list[str], tmp: Path) -> tuple[Any, Any]:
    """A review session over ~100k crops: ``100000 // len(rels)`` labelled boxes on each file."""
    from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
    from wildlife_desktop.pipeline.sequences import assign_sequences
    from wildlife_desktop.review.queue import QueueThresholds
    from wildlife_desktop.review.session import ReviewSession

    rng = random.Random(6)
    per_file = max(1, 100_000 // max(1, len(rels)))
    preds = {}
    for i, rel in enumerate(rels):
        dets = tuple(Detection("1", round(0.3 + 0.6 * rng.random(), 3),
                               BBox(0.08 * k, 0.1 + 0.05 * (k % 3), 0.15, 0.2),
                               (Classification(rng.choice(SPECIES), round(0.3 + 0.6 * rng.random(), 3)),))
                     for k in range(per_file))
        preds[rel] = Prediction(rel, "image", MediaMeta(datetime=f"2024-05-{1 + i // 400 % 28:02d} "
                                                                 f"{i // 60 % 24:02d}:{i % 60:02d}:00"), dets)
    seqs = assign_sequences((r, p.meta.datetime) for r, p in preds.items())
    t0 = time.perf_counter()
    session = ReviewSession(preds, tmp / "season_state", reviewer="bench", sequences=seqs,
                            thresholds=QueueThresholds(accept=0.99, ignore=0.1))
    print(f"  session over {len(session.items)} crops in {time.perf_counter() - t0:.1f} s", flush=True)
    return session, seqs


def season_review(win: Any, big: Path, rels: list[str], skip: set[str], tmp: Path,
                  bulk_load: Callable[[], Any]) -> list[dict[str, Any]]:
    """The Verify filter and the crop grid on a queue of 100k crops (10 boxes on each file of ``big``)."""
    from wildlife_desktop.gui.dialogs.crop_grid_dialog import CropGridDialog

    with bulk_load():
        session, seqs = _season_session(rels, tmp)
    out = []
    if "verify100k" not in skip:
        page = win.verify
        win.stack.setCurrentWidget(page)
        page.set_session(session, big, seqs)
        spin_until(_after(0.5), 30)
        combo = page.filter_bar.class_combo
        row = measure("verify100k", lambda: combo.setCurrentIndex(combo.findData("zebra")),
                      lambda: not page.filter_pending, 60)
        row["crops"], row["shown"] = len(session.all_items), len(session.items)
        out.append(row)
        combo.setCurrentIndex(0)
        spin_until(lambda: not page.filter_pending, 60)
    if "cropgrid100k" not in skip:
        dialog = CropGridDialog(session, big, win)
        dialog.show()
        spin_until(lambda: dialog.model.rowCount() == len(session.items), 60)
        spin_until(_after(1.0), 30)
        bar = dialog.view.verticalScrollBar()
        steps = 400
        stepper = Stepper(steps, lambda i: bar.setValue(bar.maximum() * (i + 1) // steps))
        row = measure("cropgrid100k", stepper.start, stepper.finished, 600, settle_ms=500)
        row["crops"], row["decoded"] = dialog.model.rowCount(), dialog.model.decoded
        out.append(row)
        dialog.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000, help="files in the opened folder (default 10000)")
    ap.add_argument("--run-files", type=int, default=200, help="files in the run scenario (default 200)")
    ap.add_argument("--huge", type=int, default=100_000, help="rows for the grid-only open (default 100000)")
    ap.add_argument("--stock-interpreter", action="store_true",
                    help="baseline: skip gui.interpreter.configure() (5 ms GIL switch interval)")
    ap.add_argument("--skip", default="", help="comma-separated scenarios to skip")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    tmp = Path(tempfile.mkdtemp(prefix="wd_guibench_"))
    os.environ["WILDLIFE_DESKTOP_HOME"] = str(tmp / "home")
    os.environ["HOME"] = str(tmp / "user_home")
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "user_home" / ".config")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qsettings"))

    from wildlife_desktop.core.paths import AppPaths
    from wildlife_desktop.core.records import MediaFile
    from wildlife_desktop.gui import interpreter
    from wildlife_desktop.gui.item_models.thumbnail_model import SortKey, index_files
    from wildlife_desktop.gui.main_window import MainWindow
    from wildlife_desktop.pipeline.importer import import_results
    from wildlife_desktop.runtime.store import ModelStore

    paths = AppPaths.default().ensure()
    ModelStore(paths).import_onnx(TWIN, family="yolov10", labels=("animal", "person", "vehicle"))

    print(f"preparing {args.files} files + results in {tmp} …", flush=True)
    big = tmp / "cards" / "big"
    rels = link_folder(big, args.files)
    t0 = time.perf_counter()
    import_results(big, write_md_results(tmp / "md_results.json", rels), paths)
    print(f"  imported synthetic MD results in {time.perf_counter() - t0:.1f} s", flush=True)
    small = tmp / "cards" / "run"
    link_folder(small, args.run_files)

    win = MainWindow(paths)
    if not args.stock_interpreter:
        interpreter.configure()  # as the app does at start-up
    win.resize(1366, 768)
    win.show()
    spin_until(_after(0.3), 5)
    rows: list[dict[str, Any]] = []

    # (a) open the big folder (results present) until the grid shows it with its results
    if "open" not in skip:
        rows.append(measure("open", lambda: win.open_folder(big),
                            lambda: win.folder == big and win._results_loaded
                            and win.model.rowCount() == args.files and win.model.done_count() > 0, 120))
    else:
        win.open_folder(big)
        spin_until(lambda: win._results_loaded, 120)

    # (b) scroll top → bottom
    if "scroll" not in skip:
        bar = win.grid.view.verticalScrollBar()
        bar.setValue(0)
        steps = max(1, bar.maximum() // max(1, bar.pageStep()) + 1)
        stepper = Stepper(steps, lambda i: bar.setValue(min(bar.maximum(), (i + 1) * bar.pageStep())))
        row = measure("scroll", stepper.start, stepper.finished, 600)
        row["steps"] = steps
        rows.append(row)

    # (c) detection-threshold slider drag 0 → 100 with the grid sorted by confidence
    if "slider" not in skip:
        win.grid.sort_combo.setCurrentIndex(win.grid.sort_combo.findData(int(SortKey.CONFIDENCE)))
        spin_until(_after(0.3), 30)
        slider = win.review.det_slider
        slider.setValue(0)
        spin_until(_after(0.3), 30)
        stepper = Stepper(101, lambda i: slider.setValue(i))
        rows.append(measure("slider", stepper.start, stepper.finished, 600, settle_ms=500))
        win.grid.sort_combo.setCurrentIndex(win.grid.sort_combo.findData(int(SortKey.NAME)))
        slider.setValue(20)
        spin_until(_after(0.5), 30)

    # (d) a run with the twin on the small folder, until its results are shown again
    if "run" not in skip:
        win.open_folder(small)
        spin_until(lambda: win.folder == small and win._results_loaded, 60)
        spin_until(_after(0.3), 5)
        state = {"finished": False}
        win.engine.sig_finished.connect(lambda _s: state.update(finished=True))

        def start() -> None:
            if not win.start_run():
                raise SystemExit("cannot start the run (no detector?)")
            win.controller.results_loaded = False

        row = measure("run", start, lambda: state["finished"] and win.controller.results_loaded
                      and not win.engine.running, 900, settle_ms=500)
        row["files"] = args.run_files
        rows.append(row)

    # (e) 100k rows into the grid model (no scan, no results), until laid out and painted
    if "open100k" not in skip:
        files = [MediaFile(f"cam{i // 5000:02d}/IMG_{i:06d}.JPG", 1000, i, "image") for i in range(args.huge)]
        index_of = index_files(files)  # the app makes it on the pool, with the scan
        win.model.clear()
        spin_until(_after(0.2), 5)

        def load_huge() -> None:
            win.thumbs.reset(Path("/nonexistent"))
            win.model.set_files(Path("/nonexistent"), files, index_of)
            win.grid.select_row(0)
            win.grid.view.repaint()

        row = measure("open100k", load_huge, lambda: win.model.rowCount() == args.huge, 30)
        bar = win.grid.view.verticalScrollBar()
        t1 = time.perf_counter()
        bar.setValue(bar.maximum() // 2)
        win.grid.view.repaint()
        row["jump_mid_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        rows.append(row)

    # Synthetic season data is built in interpreter.bulk_load(), as the app loads results (GC frozen after).
    if "filter100k" not in skip:
        rows.extend(season_filters(win, args.huge, interpreter.bulk_load))
    if "verify100k" not in skip or "cropgrid100k" not in skip:
        rows.extend(season_review(win, big, rels, skip, tmp, interpreter.bulk_load))

    win.close()
    app.processEvents()

    print()
    print(f"| scenario | wall s | max stall ms | p99 stall ms | stalls > {BUDGET_MS:.0f} ms | ticks |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['scenario']} | {r['seconds']} | {r['max_ms']} | {r['p99_ms']} | {r['over_50ms']} | {r['ticks']} |")
    print(json.dumps({"files": args.files, "run_files": args.run_files, "huge": args.huge,
                      "scenarios": {r.pop("scenario"): r for r in rows}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
