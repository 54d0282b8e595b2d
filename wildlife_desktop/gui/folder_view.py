"""The window's reactions to the open folder: scanned files, a folder that cannot be opened, results
loaded, threshold changes, the current file's preview, thumbnails wanted by the grid, and the grid's review index.

Each takes the main window (its ``controller``, ``model``, ``grid``, ``review``, ``thumbs``...);
the window connects the signals to them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QPixmap

from .workers import run_in_pool


def on_scanned(win: Any, files: list[Any], index_of: dict[str, int]) -> None:
    folder = win.controller.folder
    win.model.set_files(folder, files, index_of)
    win.grid.refresh_filters()
    win.grid.select_row(0)
    win.statusBar().showMessage(win.tr("%n file(s) in {0}", "", len(files)).format(folder))
    if not files:
        win.grid.set_message(win.tr(
            "No images or videos in this folder.\n\n{0}\n\nOpen the folder that holds the camera's "
            "pictures (JPEG, PNG, TIFF or videos; subfolders are included).").format(folder))
        win.review.canvas.set_pixmap(None, win.tr("This folder has no images"))


def on_folder_problem(win: Any, message: str) -> None:
    """A missing folder, a file instead of a folder, an unreadable card: said where the eye is."""
    folder = win.controller.folder
    win.grid.set_message(win.tr("Cannot open this folder.\n\n{0}\n\nChoose another one in the folder "
                                "list or with File ▸ Open folder…").format(message))
    win.review.canvas.set_pixmap(None, win.tr("No folder open"))
    win.source.set_source(win.tr("No results: {0} cannot be opened").format(folder))
    win.statusBar().showMessage(message)
    win.runs.update_banner()


def on_results_loaded(win: Any, imported: bool) -> None:
    """Results loaded (opened, imported, run): thresholds, source strip, grid, review pane, banner."""
    c = win.controller
    win.folder_thresholds.restore()
    win.source_status.show_source()
    if not win._sidecar_timer.isActive():  # a run's last checkpoint or an import wrote them just now
        win.source.set_sidecars("")
    if imported and c.last_import is not None:
        win.notice.set_message(win.source_status.import_text(c.last_import))
    if c.results is not None:
        win._thresholds_timer.stop()
        win.model.thresholds = win.review.thresholds
        win.model.replace_results(c.results.predictions, c.digests, c.labels)
        win.model.set_reviewed(c.reviewed_files())
        win.model.set_sequences(dict(c.sequences))
        win._refresh_review_index()
        win.grid.refresh_filters()
        if imported:  # demo/import: land on the first detection
            win.grid.select_row(win.model.first_row_with_detection())
        win._on_grid_current_changed(win.grid.current_rel_path() or "")
    win.verifier.close_session()
    if win.stack.currentWidget() is win.verify:
        win.show_verify()
    if c.folder is not None:
        win.folders.model.set_summary(c.folder, c.summary)
    win.runs.update_banner()
    if not win.engine.running:
        win.runs.show_idle_progress()


def throttle_thresholds(win: Any) -> None:
    """A slider moved: the grid follows at most once per ``win._thresholds_timer`` interval."""
    if not win._thresholds_timer.isActive():
        win._thresholds_timer.start()


def apply_thresholds(win: Any) -> None:
    """The grid (and an open Verify queue) follow the review pane's thresholds."""
    if win.review.thresholds != win.model.thresholds:
        win.model.set_thresholds(win.review.thresholds)
        win.grid.refresh_filters()
    win.verifier.follow_detection_threshold()  # an open Verify queue follows the Detection slider


def refresh_review_index(win: Any) -> None:
    """Per-file verified labels and review states for the grid's filters (on the pool)."""
    from . import review_settings
    from .view_state import file_reviews

    history, reviewer, folder = tuple(win.controller.decisions), review_settings.stored_reviewer(), win.folder

    def done(reviews: dict[str, Any]) -> None:
        if folder == win.folder:
            win.model.set_review_index(reviews)
            win.grid.refresh_filters()

    run_in_pool(lambda: file_reviews(history, reviewer), done, None, win)


def request_thumbnail(win: Any, rel_path: str) -> None:
    row = win.model.row_of(rel_path)
    media = win.model.media_at(row) if row is not None else None
    if media is not None:
        win.thumbs.request(rel_path, media.size, media.mtime_ns)


def show_current(win: Any, rel_path: str) -> None:
    """The grid's current file in the review pane: boxes, verified labels, sequence, counts, preview."""
    if not rel_path or win.folder is None:
        return
    row = win.model.row_of(rel_path)
    media = win.model.media_at(row) if row is not None else None
    pos = win.tr("{0} / {1}").format((row or 0) + 1, win.model.rowCount())
    pred = win.model.prediction(rel_path)
    win.review.show_file(rel_path, pred, pos)
    win.review.set_verified(*win.controller.verified_for(rel_path, pred))
    win.review.show_sequence(rel_path, win.controller.sequences, lambda rel: _datetime_of(win, rel))
    win.counts.show(rel_path)
    # The file's own EXIF when the results lack its time or camera (a results file may not carry them).
    win.controller.load_preview(rel_path, media.kind if media else "image", with_meta=pred is None or not (
        pred.meta.datetime and (pred.meta.make or pred.meta.model)))


def _datetime_of(win: Any, rel_path: str) -> str | None:
    pred = win.model.prediction(rel_path)
    return win.controller.corrected_time(rel_path, pred.meta.datetime) if pred is not None else None


def show_preview_image(win: Any, rel_path: str, image: Any, error: str) -> None:
    pix = QPixmap.fromImage(image) if image is not None else None
    win.review.set_image(rel_path, pix, win.tr("Cannot show this file: {0}").format(error) if error else "")


def refresh_privacy(win: Any) -> None:
    """Re-decode what was blurred with other boxes than it needs now (pipeline/privacy.py)."""
    win.model.invalidate_thumbnails(win.privacy.stale)
    if win.verify.loader.refresh_blur() and win.stack.currentWidget() is win.verify:
        win.verify.queue_rebuilt()
    rel, used = win.controller.preview_blur
    if rel and rel == win.grid.current_rel_path() and win.privacy.boxes_for(rel) != used:
        win._on_grid_current_changed(rel)


def recheck_thumbnail(win: Any, rel_path: str) -> None:
    """A thumbnail decoded while its boxes changed (results came meanwhile) is decoded again."""
    if win.privacy.stale(rel_path):
        win.model.invalidate_thumbnails(lambda r: r == rel_path)
