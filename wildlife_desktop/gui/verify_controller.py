"""Review sessions for the Verify page: open one per folder, follow its decisions, thresholds.

Threading contract: GUI thread only; a session's methods are quick (one appended line per
decision, whatever the history's size), so nothing here needs the pool. Decisions other writers
made meanwhile (a ``decisions import``, another window) come in with each save and whenever the
Verify page is shown again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from . import review_settings
from .dialogs.quick_labels_dialog import QuickLabelsDialog
from .dialogs.threshold_dialog import ThresholdDialog
from .folder_controller import FolderController
from .widgets.verify_page import VerifyPageWidget

DEFAULT_ACCEPT = 0.98


class VerifyController(QObject):
    """Signals: ``sig_reviewed_changed(set[str])`` (files with decisions), ``sig_status(str)``."""

    sig_reviewed_changed = Signal(set)
    sig_status = Signal(str)

    def __init__(self, page: VerifyPageWidget, folders: FolderController, ignore_threshold: Callable[[], float],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.page, self.folders, self._ignore, self._window = page, folders, ignore_threshold, parent
        self.accept = DEFAULT_ACCEPT
        self.threshold_dialog: ThresholdDialog | None = None
        self.quick_labels_dialog: QuickLabelsDialog | None = None
        page.sig_decisions_changed.connect(self._on_page_decisions_changed)
        page.sig_accept_threshold_changed.connect(self.set_accept_threshold)

    def ensure_session(self) -> None:
        """Open a session on the folder's results unless one is open (asks the reviewer's name once).

        An open session takes in what other writers appended since its last save.
        """
        session = self.page.session
        if session is None and self.folders.results is not None:
            self.open_session()
        elif session is not None and session.reload():
            self.page.set_session(session, self.folders.folder, self.folders.sequences)
            self._on_page_decisions_changed()

    def open_session(self) -> None:
        reviewer = review_settings.ask_reviewer(self._window)
        if not reviewer:
            self.sig_status.emit(self.tr("Verification needs a reviewer name."))
            return
        session = self.folders.make_session(
            reviewer, accept=self.accept, ignore=self._ignore(), labels=review_settings.saved_labels(),
            quick_labels=review_settings.saved_quick_labels())
        self.page.set_session(session, self.folders.folder, self.folders.sequences)
        if session is not None and session.warnings:  # damaged records were skipped: say so once
            self.sig_status.emit(session.warnings[0])

    def close_session(self) -> None:
        self.page.set_session(None, self.folders.folder)

    @Slot(float)
    def set_accept_threshold(self, accept: float) -> None:
        """A new accept threshold rebuilds the queue of the open session (its undo history stays)."""
        from ..review.queue import QueueThresholds

        self.accept = accept
        self.page.filter_bar.set_accept(accept)
        session = self.page.session
        if session is not None:
            session.set_thresholds(QueueThresholds(accept=accept, ignore=self._ignore()))
            self.page.queue_rebuilt()

    def follow_detection_threshold(self) -> None:
        """The Detection slider moved: the open session's queue follows it (decisions and undo stay).

        Detections below the Detection threshold are not asked about, as in the grid; lowering it
        brings the weaker ones into the queue at once, not only after "Ask me below" is edited.
        """
        from ..review.queue import QueueThresholds

        session, ignore = self.page.session, self._ignore()
        if session is None or abs(session.thresholds.ignore - ignore) < 1e-9:
            return
        session.set_thresholds(QueueThresholds(accept=session.thresholds.accept, ignore=ignore))
        self.page.queue_rebuilt()

    @Slot()
    def show_threshold_dialog(self) -> None:
        if self.threshold_dialog is not None:  # one dialog at a time on the window, not one per open
            self.threshold_dialog.deleteLater()
        self.threshold_dialog = ThresholdDialog(self.folders.decisions, self.accept, self._window)
        self.threshold_dialog.sig_adopted.connect(self.set_accept_threshold)
        self.threshold_dialog.open()

    @Slot()
    def edit_quick_labels(self) -> None:
        """Let the reviewer fix the labels of keys 1-9 (kept in settings; the open session follows at once)."""
        session = self.page.session
        current = session.quick_labels() if session is not None else (review_settings.saved_quick_labels() or ())
        known = (*(session.labels if session is not None else ()), *review_settings.saved_labels())
        if self.quick_labels_dialog is not None:  # one dialog at a time on the window, not one per open
            self.quick_labels_dialog.deleteLater()
        self.quick_labels_dialog = QuickLabelsDialog(current, known, self._window)
        self.quick_labels_dialog.sig_chosen.connect(self._on_quick_labels_chosen)
        self.quick_labels_dialog.open()

    @Slot(tuple)
    def _on_quick_labels_chosen(self, labels: tuple[str, ...]) -> None:
        review_settings.set_quick_labels(labels)
        review_settings.remember_labels(labels)
        if self.page.session is not None:  # no new session: the undo history stays
            self.page.session.set_quick_labels(labels or None)
            self.page.set_keymap(self.page.keymap)

    @Slot()
    def change_reviewer(self) -> None:
        if review_settings.ask_reviewer(self._window, change=True) and self.page.session is not None:
            self.open_session()

    @Slot()
    def _on_page_decisions_changed(self) -> None:
        session = self.page.session
        if session is None:
            return
        history = session.history()
        self.folders.decisions = history
        self.sig_reviewed_changed.emit(session.reviewed_files())  # not a pass over the whole history
        # the key press's own records are the newest (a sequence step shares one label)
        review_settings.remember_labels(d.label for d in history[-20:] if d.decision == "relabel")
