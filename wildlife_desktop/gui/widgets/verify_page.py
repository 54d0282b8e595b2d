"""The Verify page: one crop large, decided with single keys (AddaxAI crop cards, Timelapse coding).

Keys come only from the key map (``review.keymap`` via ``gui.shortcuts``): ``keyPressEvent``
turns the event into a key string and the map into a :class:`ReviewAction`, which the Qt-free
:class:`ReviewSession` carries out. RELABEL opens the type-ahead popup and HELP the overlay
(the two actions the session reports back as not handled).

Crops are decoded off the GUI thread by :class:`CropLoader`; the page prefetches the next
crops of the queue, so after a key press the next crop is usually already in memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QFont, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ...formats.bundle import SequenceInfo
from ...review.actions import ReviewAction
from ...review.keymap import help_rows, load_keymap
from ...review.queue import QueueFilter, QueueItem, QueueReason
from ...review.session import ReviewSession
from ..crop_loader import CropLoader
from ..shortcuts import action_for_event
from ..style import label_color
from .crop_view import CropViewWidget
from .decision_bar import DecisionBarWidget
from .help_overlay import HelpOverlayWidget
from .label_search_popup import LabelSearchPopupWidget
from .sequence_strip import MAX_FRAMES, SequenceStripWidget
from .verify_filter_bar import VerifyFilterBarWidget

PREFETCH = 2
#: Queues this long are filtered on the pool (the GUI thread only swaps the answer in).
ASYNC_FILTER_MIN_ITEMS = 20_000
_NAVIGATION = frozenset({ReviewAction.SKIP, ReviewAction.BACK})


def item_key(item: QueueItem) -> str:
    return f"{item.file}#{item.detection_id}"


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class VerifyPageWidget(QWidget):
    """Keyboard verification of the review queue. Signals:

    * ``sig_decisions_changed()`` after every key that changed a decision (not skip/back);
    * ``sig_accept_threshold_changed(float)`` when the user edits "ask me below";
    * ``sig_thresholds_dialog_requested()`` (the "Thresholds…" link).
    """

    sig_decisions_changed = Signal()
    sig_accept_threshold_changed = Signal(float)
    sig_next_step = Signal(str)  # "export" | "thresholds" | "finetune", from the "All crops verified" screen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: ReviewSession | None = None
        self.keymap = load_keymap()
        self._sequences: dict[str, SequenceInfo] = {}
        self._by_seq: dict[tuple[str, str], list[str]] = {}
        self.loader = CropLoader(self)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.label_title = QLabel(self)
        big = QFont(self.font())
        big.setBold(True)
        big.setPointSizeF(big.pointSizeF() * 1.8)
        self.label_title.setFont(big)
        self.reasons_label = QLabel(self)
        self.decided_label = QLabel(self)
        dec_font = QFont(self.font())
        dec_font.setBold(True)
        dec_font.setPointSizeF(dec_font.pointSizeF() * 1.2)
        self.decided_label.setFont(dec_font)
        # The smoothing suggestion of the current crop (never applied without the key).
        self.suggestion_label = QLabel(self)
        self.suggestion_label.setObjectName("verifySuggestion")
        self.suggestion_label.setWordWrap(True)
        self._filter_generation = 0
        self.filter_pending = False
        self.progress_label = QLabel(self)
        self.progress_label.setFont(dec_font)
        self.eta_label = QLabel(self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(8)
        self.filter_bar = VerifyFilterBarWidget(self)
        # Once every crop is decided: what to do next, one click each (no key steals focus).
        self.next_steps = QWidget(self)
        self.next_steps.setObjectName("verifyNextSteps")
        steps = QHBoxLayout(self.next_steps)
        steps.setContentsMargins(0, 0, 0, 0)
        self.next_buttons: dict[str, QPushButton] = {}
        for key, text, tip in (
                ("export", self.tr("Export sidecars and CSV"), self.tr("Write recognitions.json, COCO and CSV "
                                                                        "with your decisions (Ctrl+E)")),
                ("thresholds", self.tr("Thresholds from review…"), self.tr("Suggest an accept threshold from "
                                                                           "what you decided")),
                ("finetune", self.tr("Fine-tune classifier…"), self.tr("Train the classifier on your verified "
                                                                       "crops"))):
            b = QPushButton(text, self.next_steps)
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, k=key: self.sig_next_step.emit(k))
            steps.addWidget(b)
            self.next_buttons[key] = b
        steps.addStretch(1)
        self.next_steps.hide()

        self.crop_view = CropViewWidget(self, min_size=QSize(320, 240))
        self.frame_view = CropViewWidget(self, min_size=QSize(240, 160))
        self.file_label = QLabel(self)
        self.file_label.setWordWrap(True)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sequence_label = QLabel(self)
        self.sequence_strip = SequenceStripWidget(self, side=72)
        self.decision_bar = DecisionBarWidget(self)
        self.help_overlay = HelpOverlayWidget(self)
        self.label_popup = LabelSearchPopupWidget(self)

        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.label_title)
        titles.addWidget(self.reasons_label)
        titles.addWidget(self.suggestion_label)
        head.addLayout(titles, 1)
        stats = QVBoxLayout()
        stats.addWidget(self.progress_label, 0, Qt.AlignmentFlag.AlignRight)
        stats.addWidget(self.eta_label, 0, Qt.AlignmentFlag.AlignRight)
        stats.addWidget(self.decided_label, 0, Qt.AlignmentFlag.AlignRight)
        head.addLayout(stats)
        side = QVBoxLayout()
        side.addWidget(QLabel(self.tr("Whole frame"), self))
        side.addWidget(self.frame_view, 2)
        side.addWidget(self.file_label)
        side.addWidget(self.sequence_label)
        side.addWidget(self.sequence_strip)
        side.addStretch(1)
        side_w = QWidget(self)
        side_w.setLayout(side)
        side_w.setMaximumWidth(520)
        body = QHBoxLayout()
        body.addWidget(self.crop_view, 3)
        body.addWidget(side_w, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.filter_bar)
        lay.addLayout(head)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.next_steps)
        lay.addLayout(body, 1)
        lay.addWidget(self.decision_bar)

        self.loader.sig_ready.connect(self._on_loader_ready)
        self.loader.sig_thumbnail_ready.connect(self._on_loader_thumbnail_ready)
        self.decision_bar.sig_action_requested.connect(self.run_action)
        self.label_popup.sig_label_chosen.connect(self._on_popup_label_chosen)
        self.label_popup.sig_cancelled.connect(self._on_popup_cancelled)
        self.help_overlay.sig_closed.connect(self._on_popup_cancelled)
        self.filter_bar.sig_filter_changed.connect(self._on_filter_bar_filter_changed)
        self.filter_bar.sig_accept_changed.connect(self._on_filter_bar_accept_changed)
        self.set_keymap(self.keymap)
        self._show_current()

    # ---- public ------------------------------------------------------------------------
    def set_keymap(self, keymap: Mapping[str, ReviewAction]) -> None:
        self.keymap = dict(keymap)
        quick = self.session.quick_labels() if self.session is not None else ()
        self.decision_bar.set_keymap(self.keymap, quick)
        self.help_overlay.set_rows(help_rows(self.keymap, quick))

    def set_session(self, session: ReviewSession | None, folder: Path | None,
                    sequences: Mapping[str, SequenceInfo] | None = None) -> None:
        """Review ``session`` over ``folder`` (images are read from there)."""
        if folder != self.loader.folder:
            self.loader.set_folder(folder)
        self.session = session
        self._filter_generation += 1  # a filter on its way belongs to the old session
        self.filter_pending = False
        self._sequences = dict(sequences or {})
        self._by_seq = {}
        for rel, seq in sorted(self._sequences.items(), key=lambda kv: (kv[1].seq_id, kv[1].frame_num)):
            self._by_seq.setdefault((seq.location, seq.seq_id), []).append(rel)
        if session is not None:
            self.filter_bar.set_items(session.items, session.thresholds.accept, folder.name if folder else "",
                                      {d.label for d in session.decisions() if d.label})
        self.set_keymap(self.keymap)
        self._show_current()

    def queue_rebuilt(self) -> None:
        """The session's queue was rebuilt (new thresholds): show it; the filters stay as chosen."""
        self._show_current()

    def run_action(self, action: ReviewAction) -> bool:
        """Carry out ``action`` (what a key press does); True when something changed."""
        if action is ReviewAction.HELP:
            self.help_overlay.open()
            return False
        s = self.session
        if s is None:
            return False
        if action is ReviewAction.RELABEL:
            if s.current is not None:
                self.label_popup.open(s.search_labels, s.labels)
                self._place_popup()
            return False
        changed = s.handle(action)
        if changed:
            self._show_current()
            if action not in _NAVIGATION:
                self.sig_decisions_changed.emit()
        return changed

    def current_key(self) -> str:
        cur = self.session.current if self.session is not None else None
        return item_key(cur) if cur is not None else ""

    # ---- keys --------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = action_for_event(self.keymap, event)
        if action is None:
            super().keyPressEvent(event)
            return
        event.accept()
        self.run_action(action)

    # ---- slots -------------------------------------------------------------------------
    @Slot(str)
    def _on_popup_label_chosen(self, label: str) -> None:
        self.setFocus(Qt.FocusReason.PopupFocusReason)
        if self.session is not None and self.session.handle(ReviewAction.RELABEL, label):
            self._show_current()
            self.sig_decisions_changed.emit()

    @Slot()
    def _on_popup_cancelled(self) -> None:
        self.setFocus(Qt.FocusReason.PopupFocusReason)

    @Slot(object)
    def _on_filter_bar_filter_changed(self, flt: QueueFilter) -> None:
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.apply_filter(flt)

    def apply_filter(self, flt: QueueFilter) -> None:
        """Filter the queue: at once for a short queue, on the pool for a season's (see the module docstring)."""
        s = self.session
        self._filter_generation += 1
        if s is None:
            return
        if len(s.all_items) < ASYNC_FILTER_MIN_ITEMS:
            self.filter_pending = False
            s.set_filter(flt)
            self._show_current()
            return
        from ..workers import run_in_pool

        gen = self._filter_generation
        self.filter_pending = True
        self.reasons_label.setText(self.tr("Filtering {0} crops…").format(len(s.all_items)))

        def done(items: tuple[QueueItem, ...]) -> None:
            if gen == self._filter_generation and s is self.session:
                self.filter_pending = False
                s.set_filter(flt, items)
                self._show_current()

        run_in_pool(lambda: s.filter_items(flt), done, None, self)

    @Slot(float)
    def _on_filter_bar_accept_changed(self, value: float) -> None:
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.sig_accept_threshold_changed.emit(value)

    @Slot(str)
    def _on_loader_ready(self, key: str) -> None:
        if key == self.current_key():
            self._show_images()

    @Slot(str)
    def _on_loader_thumbnail_ready(self, _rel_path: str) -> None:
        self._show_sequence()

    # ---- display -----------------------------------------------------------------------
    def _upcoming(self, n: int) -> list[QueueItem]:
        """The next ``n`` undecided items after the cursor (where accept/reject will land)."""
        s = self.session
        if s is None:
            return []
        out = []
        for it in s.items[s.position + 1:]:
            if s.decision_for(it) is None:
                out.append(it)
                if len(out) == n:
                    break
        return out

    def _show_current(self) -> None:
        s = self.session
        cur = s.current if s is not None else None
        self._update_progress()
        if cur is None:
            done = s is not None and s.progress().total > 0
            self.label_title.setText(self.tr("All crops verified") if done else self.tr("Nothing to verify"))
            if done:
                self.reasons_label.setText(self.tr("Next: export your decisions, adjust the thresholds from "
                                                   "them, or fine-tune the classifier. Back revisits a crop."))
            elif s is not None:
                self.reasons_label.setText(self.tr("Nothing in the queue: lower the Detection threshold or "
                                                   "\"Ask me below\", or change the filters."))
            else:
                self.reasons_label.setText(self.tr("Open a folder with results first."))
            self.next_steps.setVisible(done)
            self.decided_label.clear()
            self.suggestion_label.clear()
            self.crop_view.set_image("", None, self.tr("Nothing to show"))
            self.frame_view.set_image("", None, "")
            self.frame_view.set_box(None)
            self.file_label.clear()
            self.sequence_label.clear()
            self.sequence_strip.set_frames([])
            return
        self.next_steps.hide()
        det = cur.detection
        conf = det.top_label_confidence if det.top_label_confidence is not None else det.confidence
        self.label_title.setText(self.tr("{0}   {1:.0f} %").format(cur.model_label, conf * 100))
        reasons = {QueueReason.LOW_CONFIDENCE: self.tr("low confidence"),
                   QueueReason.DISAGREEMENT: self.tr("detector and classifier disagree"),
                   QueueReason.SEQUENCE: self.tr("differs from the rest of its sequence")}
        detail = self.tr("detector {0:.0f} %").format(det.confidence * 100)
        self.reasons_label.setText(self.tr("Why you see it: {0}  ·  {1}").format(
            ", ".join(reasons[r] for r in cur.reasons), detail))
        self.decided_label.setText(self._decision_text(cur))
        self.suggestion_label.setText(self.suggestion_text(cur))
        # A camera file name has no spaces: break points after _ - . / let it wrap, not widen the panel.
        shown = re.sub(r"([_\-./])", "\\1\u200b", cur.file)
        self.file_label.setText(shown + (f"\n{cur.datetime}" if cur.datetime else ""))
        self.file_label.setToolTip(cur.file)
        self.frame_view.set_box(det.bbox, label_color(cur.model_label))
        assert s is not None
        for it in (cur, *self._upcoming(PREFETCH)):
            self.loader.request(item_key(it), it.file, it.detection.bbox, it.detection.frame)
        if s.position > 0:  # "back" should be instant too
            prev = s.items[s.position - 1]
            self.loader.request(item_key(prev), prev.file, prev.detection.bbox, prev.detection.frame)
        self._show_images()
        self._show_sequence()

    def suggestion_text(self, item: QueueItem) -> str:
        """E.g. "Suggestion: zebra – 5 of 6 frames in this event (G)"; "" without a suggestion."""
        s = self.session
        sugg = s.suggestion_for(item) if s is not None else None
        if sugg is None:
            return ""
        keys = [k for k, a in self.keymap.items() if a is ReviewAction.ACCEPT_SUGGESTION]
        key = f" ({keys[0]})" if keys else ""
        if sugg.level == "sequence":
            seq = self._sequences.get(item.file)
            n = seq.seq_num_frames if seq is not None else 0
            why = (self.tr("{0} of {1} frames in this event").format(sugg.support, n) if 0 < sugg.support <= n
                   else self.tr("{0} boxes in this event").format(sugg.support))
        else:
            why = self.tr("{0} other boxes in this image").format(sugg.support)
        return self.tr("Suggestion: {0} – {1}{2}").format(sugg.suggested, why, key)

    def _decision_text(self, item: QueueItem) -> str:
        s = self.session
        d = s.decision_for(item) if s is not None else None
        if d is None:
            return ""
        names = {"accept": self.tr("✔ verified {0}"), "relabel": self.tr("✔ relabelled {0}"),
                 "unknown": self.tr("✔ unknown"), "reject": self.tr("✘ false detection"),
                 "empty": self.tr("✘ image empty")}
        return names.get(d.decision, d.decision).format(d.label or item.model_label)

    def _show_images(self) -> None:
        s = self.session
        cur = s.current if s is not None else None
        if cur is None:
            return
        key = item_key(cur)
        images = self.loader.get(key)
        if images is None:
            self.crop_view.set_image("", None, self.tr("Loading…"))
            self.frame_view.set_image("", None, "")
            return
        crop = QPixmap.fromImage(images.crop) if images.crop is not None else None
        frame = QPixmap.fromImage(images.frame) if images.frame is not None else None
        self.crop_view.set_image(key, crop, self.tr("Cannot show this crop: {0}").format(images.error))
        self.frame_view.set_image(key, frame, "")

    def _show_sequence(self) -> None:
        s = self.session
        cur = s.current if s is not None else None
        seq = self._sequences.get(cur.file) if cur is not None else None
        if cur is None or seq is None or seq.seq_num_frames < 2:
            self.sequence_label.setText(self.tr("Single frame (no sequence)") if cur is not None else "")
            self.sequence_strip.set_frames([])
            return
        self.sequence_label.setText(self.tr("Sequence: frame {0} of {1}").format(
            seq.frame_num + 1, seq.seq_num_frames))
        members = self._by_seq.get((seq.location, seq.seq_id), [])
        i = members.index(cur.file) if cur.file in members else 0
        start = max(0, min(i - MAX_FRAMES // 2, len(members) - MAX_FRAMES))
        frames = []
        for rel in members[start:start + MAX_FRAMES]:
            self.loader.request_thumbnail(rel)
            img = self.loader.thumbnail(rel)
            frames.append((rel, QPixmap.fromImage(img) if img is not None else None, rel == cur.file))
        self.sequence_strip.set_frames(frames)

    def _update_progress(self) -> None:
        s = self.session
        if s is None:
            self.progress_label.setText("")
            self.eta_label.setText("")
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            return
        p = s.progress()
        self.progress_label.setText(self.tr("{0} done / {1} remaining").format(p.done, p.remaining))
        if p.remaining == 0:  # nothing left: "ETA 0 s" says nothing
            self.eta_label.setText(self.tr("{0:.1f} s per crop").format(p.pace_s) if p.pace_s else "")
        elif p.pace_s is None or p.eta_s is None:
            self.eta_label.setText(self.tr("ETA after a few decisions"))
        else:
            self.eta_label.setText(self.tr("ETA {0} at your pace ({1:.1f} s per crop)").format(
                format_duration(p.eta_s), p.pace_s))
        self.progress_bar.setRange(0, max(1, p.total))
        self.progress_bar.setValue(p.done)

    def _place_popup(self) -> None:
        w = min(480, self.width() - 40)
        h = min(300, self.height() - 40)
        self.label_popup.setGeometry((self.width() - w) // 2, (self.height() - h) // 3, w, h)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.help_overlay.setGeometry(self.rect())
        if self.label_popup.isVisible():
            self._place_popup()
