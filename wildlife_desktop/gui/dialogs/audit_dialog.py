"""Review > Empty-image audit…: confirm a sample of "empty" images per camera; miss rate and threshold.

What ``review audit`` does, in the window: ``review.audit.audit_sample`` draws up to N images per
camera among those without a box at the detection threshold (seeded; the kept sample is reused,
``review.audit_store``), they are shown one at a time for *Really empty* (E) or *Missed an animal*
(A), each answer a file-level ``empty`` / ``missed`` decision (``source="audit"``) appended
through ``formats.decisions.DecisionLog``. After each answer ``review.audit.audit_report`` gives
per camera the miss rate, its 95 % Wilson interval and the suggested threshold for the target
recall, written to ``.wildlife/audit.json`` (the outputs' methods metadata). *Adopt* emits
``sig_adopt_threshold``: the window sets the folder's detection threshold for the model.
Sampling, the report and image decoding run on the pool.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import WildlifeError
from ...core.records import Prediction
from ...formats.decisions import DecisionLog, ReviewDecision
from ...review.audit import AuditReport, CameraAudit
from ..workers import run_in_pool

IMAGE_PX = 560
COLUMNS = ("Camera", "Empty images", "Answered", "Missed", "Miss rate (95 % CI)", "Recall", "Suggested threshold", "")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _load_image(path: Path) -> QImage | None:
    """The image scaled to ``IMAGE_PX``; None when unreadable. Off the GUI thread."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (IMAGE_PX, IMAGE_PX))
            im = im.convert("RGB")
            im.thumbnail((IMAGE_PX, IMAGE_PX))
            data = im.tobytes("raw", "RGB")
            return QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _report(predictions: Mapping[str, Prediction], locations: Mapping[str, str], sample: Mapping[str, Any],
            state_dir: Path, *, threshold: float, recall: float, seed: int, per_camera: int) -> AuditReport:
    from ...formats.decisions import load_decisions
    from ...review.audit import audit_report
    from ...review.audit_store import save_audit

    rep = audit_report(predictions, locations, sample, load_decisions(state_dir), threshold=threshold,
                       target_recall=recall, seed=seed, per_camera=per_camera)
    save_audit(state_dir, sample, rep)
    return rep


def _start(predictions: Mapping[str, Prediction], locations: Mapping[str, str], state_dir: Path, *,
           threshold: float, recall: float, seed: int, per_camera: int) -> tuple[dict[str, tuple[str, ...]],
                                                                               list[str], AuditReport]:
    """(sample, files still to answer, report) on the pool."""
    from ...formats.decisions import latest_decisions, load_decisions
    from ...review.audit import audit_sample
    from ...review.audit_store import saved_sample

    sample = saved_sample(state_dir, seed=seed, per_camera=per_camera, threshold=threshold)
    if sample is None:
        sample = audit_sample(predictions, locations, threshold=threshold, per_camera=per_camera, seed=seed)
    answered = {d.file for d in latest_decisions(load_decisions(state_dir)).values()
                if not d.detection_id and d.decision in ("empty", "missed")}
    pending = [r for files in sample.values() for r in files if r not in answered]
    rep = _report(predictions, locations, sample, state_dir, threshold=threshold, recall=recall, seed=seed,
                  per_camera=per_camera)
    return sample, pending, rep


class AuditDialog(QDialog):
    """See the module docstring."""

    sig_adopt_threshold = Signal(float)
    sig_decisions_changed = Signal()

    def __init__(self, folder: Path, predictions: Mapping[str, Prediction], locations: Mapping[str, str],
                 state_dir: Path, reviewer: str, threshold: float, *, seed: int = 0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Empty-image audit"))
        self.resize(860, 760)
        self._folder, self._preds, self._locs = Path(folder), predictions, dict(locations)
        self._state_dir, self._reviewer, self.threshold, self.seed = Path(state_dir), reviewer, threshold, seed
        self._log = DecisionLog(self._state_dir)
        self.sample: dict[str, tuple[str, ...]] = {}
        self.pending: list[str] = []
        self.report: AuditReport | None = None
        self.current: str | None = None
        self.busy = False
        self.adopt_buttons: dict[str, QPushButton] = {}

        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.per_camera = QSpinBox()
        self.per_camera.setRange(1, 1000)
        self.per_camera.setValue(20)
        self.recall = QDoubleSpinBox()
        self.recall.setRange(0.5, 0.999)
        self.recall.setDecimals(3)
        self.recall.setSingleStep(0.01)
        self.recall.setValue(0.95)
        self.start_button = QPushButton(self.tr("Start"))
        self.start_button.clicked.connect(self.start)
        row = QHBoxLayout()
        row.addWidget(self.per_camera)
        row.addWidget(QLabel(self.tr("Target recall")))
        row.addWidget(self.recall)
        row.addWidget(self.start_button)
        row.addStretch(1)
        form.addRow(self.tr("Images per camera"), row)
        form.addRow(self.tr("Detection threshold"), QLabel(f"{threshold:g}"))
        lay.addLayout(form)
        self.status = QLabel(self.tr("Images without a box at the detection threshold are drawn at random per "
                                     "camera for you to confirm. Choose how many, then Start."))
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(300)
        lay.addWidget(self.image, 1)
        answers = QHBoxLayout()
        self.empty_button = QPushButton(self.tr("Really empty (E)"))
        self.missed_button = QPushButton(self.tr("Missed an animal (A)"))
        self.empty_button.clicked.connect(lambda: self.answer("empty"))
        self.missed_button.clicked.connect(lambda: self.answer("missed"))
        for b in (self.empty_button, self.missed_button):
            b.setEnabled(False)
            answers.addWidget(b)
        lay.addLayout(answers)
        for key, what in (("E", "empty"), ("A", "missed")):
            QShortcut(QKeySequence(key), self, activated=lambda w=what: self.answer(w))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.setMinimumHeight(140)
        lay.addWidget(self.table)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        lay.addWidget(box)

    # ---- sampling ----------------------------------------------------------------------
    def start(self) -> None:
        """Draw (or reuse) the sample on the pool, then show the first unanswered image."""
        if self.busy:
            return
        self.busy = True
        self.start_button.setEnabled(False)
        preds, locs, sd = self._preds, self._locs, self._state_dir
        kw = {"threshold": self.threshold, "recall": self.recall.value(), "seed": self.seed,
              "per_camera": self.per_camera.value()}
        run_in_pool(lambda: _start(preds, locs, sd, **kw), self._on_started, self._on_error, self)

    def _on_error(self, exc: BaseException) -> None:
        self.busy = False
        self.start_button.setEnabled(True)
        self.status.setText(str(exc) if isinstance(exc, WildlifeError) else
                            self.tr("The audit failed (see the log)."))

    def _on_started(self, out: Any) -> None:
        self.busy = False
        self.start_button.setEnabled(True)
        self.sample, self.pending, rep = out
        self._show_report(rep)
        self._next()

    # ---- one image at a time -----------------------------------------------------------
    def _next(self) -> None:
        self.current = self.pending[0] if self.pending else None
        for b in (self.empty_button, self.missed_button):
            b.setEnabled(self.current is not None)
        total = sum(len(v) for v in self.sample.values())
        if self.current is None:
            self.image.clear()
            self.status.setText(self.tr("All {0} sampled image(s) answered. Adopt a suggested threshold below, "
                                        "or close.").format(total))
            return
        loc = self._locs.get(self.current, "")
        self.status.setText(self.tr("{0} — camera {1}: {2} of {3} left. Is there an animal?").format(
            self.current, loc, len(self.pending), total))
        self.image.setText(self.tr("Loading…"))
        rel, path = self.current, self._folder / self.current
        run_in_pool(lambda: _load_image(path), lambda img: self._on_image(rel, img), None, self)

    def _on_image(self, rel: str, img: QImage | None) -> None:
        if rel != self.current:
            return  # answered meanwhile
        if img is None:
            self.image.setText(self.tr("Cannot show {0}").format(rel))
        else:
            self.image.setPixmap(QPixmap.fromImage(img))

    def answer(self, what: str) -> None:
        """Record ``empty`` or ``missed`` for the shown image, then show the next one."""
        rel = self.current
        if rel is None or self.busy:
            return
        rec = ReviewDecision(rel, "", "empty" if what == "empty" else "missed", "", self._reviewer, _now(),
                             source="audit")
        try:
            self._log.append([rec])
        except WildlifeError as exc:
            self.status.setText(str(exc))
            return
        self.pending.remove(rel)
        self.sig_decisions_changed.emit()
        self._refresh_report()
        self._next()

    def _refresh_report(self) -> None:
        preds, locs, sd, sample = self._preds, self._locs, self._state_dir, dict(self.sample)
        kw = {"threshold": self.threshold, "recall": self.recall.value(), "seed": self.seed,
              "per_camera": self.per_camera.value()}
        self.busy = True
        run_in_pool(lambda: _report(preds, locs, sample, sd, **kw), self._on_report, self._on_error, self)

    def _on_report(self, rep: AuditReport) -> None:
        self.busy = False
        self._show_report(rep)

    # ---- figures -----------------------------------------------------------------------
    def _show_report(self, rep: AuditReport) -> None:
        self.report = rep
        self.adopt_buttons = {}
        self.table.setRowCount(len(rep.cameras))
        for row, cam in enumerate(rep.cameras):
            for col, text in enumerate(self._cells(cam)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, col, item)
            if cam.suggested_threshold is not None:
                b = QPushButton(self.tr("Adopt {0:g}").format(cam.suggested_threshold))
                b.setToolTip(self.tr("Use this detection threshold for the folder (~{0:.0f} more images to review)")
                             .format(cam.extra_images_to_review or 0))
                b.clicked.connect(lambda _=False, t=cam.suggested_threshold: self.sig_adopt_threshold.emit(float(t)))
                self.table.setCellWidget(row, len(COLUMNS) - 1, b)
                self.adopt_buttons[cam.location] = b
            else:
                self.table.removeCellWidget(row, len(COLUMNS) - 1)
        self.table.resizeColumnsToContents()

    def _cells(self, cam: CameraAudit) -> tuple[str, ...]:
        if cam.miss_rate is None:
            rate = self.tr("no answers yet")
        else:
            rate = f"{cam.miss_rate:.1%} ({cam.miss_rate_low:.1%}–{cam.miss_rate_high:.1%})"
        recall = f"{cam.estimated_recall:.1%}" if cam.estimated_recall is not None else "—"
        if cam.suggested_threshold is not None:
            suggested = f"{cam.suggested_threshold:g}"
        elif cam.answered:
            suggested = self.tr("the current one meets the target") if not cam.missed or (
                cam.estimated_recall or 0) >= self.recall.value() else self.tr("none found")
        else:
            suggested = "—"
        return (cam.location, str(cam.empty_images), f"{cam.answered} / {cam.sampled}", str(cam.missed), rate,
                recall, suggested, "")
