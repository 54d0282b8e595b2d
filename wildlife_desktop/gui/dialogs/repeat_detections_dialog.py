"""Review > Repeat detections…: one card per cluster of boxes that recur at the same place.

The clusters (``review.rde``) and their example crops are computed on the pool; the GUI thread
only builds the cards. *Suppress* appends the cluster's reject records (``reason``
``repeat-detection``) through ``formats.decisions.DecisionLog``, *Restore* the ``clear`` records
that undo it; both are one appended batch, and ``sig_decisions_changed`` lets the window rewrite
the sidecars. Boxes a person decided on are never touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import WildlifeError
from ...core.records import Prediction
from ...formats.bundle import SequenceInfo
from ...formats.decisions import DecisionLog
from ...review.rde import ClusterBox, RdeOptions, RepeatCluster, find_repeat_clusters, restore_records, suppress_records
from ..workers import run_in_pool

CROP_PX = 96


def crop_image(folder: Path, box: ClusterBox, size: int = CROP_PX) -> QImage | None:
    """The box's region (with a margin) as a ``size`` square ``QImage``; None when unreadable. Off the GUI thread."""
    try:
        with Image.open(Path(folder) / box.file) as im:
            im.draft("RGB", (im.width // 4 or 1, im.height // 4 or 1))
            im = im.convert("RGB")
            w, h = im.size
            b = box.bbox
            pad = 0.5 * max(b.w * w, b.h * h)
            cx, cy = (b.x + b.w / 2) * w, (b.y + b.h / 2) * h
            part = im.crop((int(max(0, cx - pad)), int(max(0, cy - pad)), int(min(w, cx + pad)) or 1,
                            int(min(h, cy + pad)) or 1))
            part.thumbnail((size, size))
            data = part.tobytes("raw", "RGB")
            return QImage(data, part.width, part.height, 3 * part.width, QImage.Format.Format_RGB888).copy()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _compute(predictions: Mapping[str, Prediction], sequences: Mapping[str, SequenceInfo], state_dir: Path,
             folder: Path, options: RdeOptions) -> tuple[tuple[RepeatCluster, ...], dict[tuple[str, str], QImage]]:
    from ...formats.decisions import load_decisions

    clusters = find_repeat_clusters(predictions, sequences, load_decisions(state_dir), options)
    crops: dict[tuple[str, str], QImage] = {}
    for c in clusters:
        for b in c.examples:
            img = crop_image(folder, b)
            if img is not None:
                crops[(b.file, b.detection_id)] = img
    return clusters, crops


class ClusterCard(QFrame):
    """A cluster: where, how often, a few crops, and Suppress / Restore."""

    sig_suppress = Signal(str)
    sig_restore = Signal(str)

    def __init__(self, cluster: RepeatCluster, crops: Mapping[tuple[str, str], QImage],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cluster = cluster
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        labels = "/".join(sorted({b.model_label for b in cluster.boxes}))
        state = self.tr("suppressed") if cluster.is_suppressed else self.tr("shown in exports")
        self.title = QLabel(self.tr("{loc}: the same box in {n} of {total} images, {ev} events ({labels}); {state}")
                            .format(loc=cluster.location, n=cluster.images, total=cluster.location_images,
                                    ev=cluster.events, labels=labels, state=state))
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        row = QHBoxLayout()
        self.crop_labels: list[QLabel] = []
        for b in cluster.examples:
            lab = QLabel()
            lab.setFixedSize(CROP_PX, CROP_PX)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            img = crops.get((b.file, b.detection_id))
            if img is not None:
                lab.setPixmap(QPixmap.fromImage(img))
            else:
                lab.setText(self.tr("(no image)"))
            lab.setToolTip(b.file)
            row.addWidget(lab)
            self.crop_labels.append(lab)
        row.addStretch(1)
        lay.addLayout(row)
        buttons = QHBoxLayout()
        self.suppress_button = QPushButton(self.tr("Not an animal: suppress all {n}").format(n=len(cluster.boxes)))
        self.suppress_button.setToolTip(self.tr("A rock, a branch, a shadow: reject every box of this cluster "
                                                "(logged; Restore undoes it)"))
        self.restore_button = QPushButton(self.tr("Restore"))
        self.suppress_button.setEnabled(not cluster.is_suppressed)
        self.restore_button.setEnabled(cluster.suppressed > 0)
        self.suppress_button.clicked.connect(lambda: self.sig_suppress.emit(cluster.cluster_id))
        self.restore_button.clicked.connect(lambda: self.sig_restore.emit(cluster.cluster_id))
        buttons.addWidget(self.suppress_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)


class RepeatDetectionsDialog(QDialog):
    """See the module docstring. ``sig_decisions_changed`` after each Suppress / Restore."""

    sig_decisions_changed = Signal()

    def __init__(self, folder: Path, predictions: Mapping[str, Prediction], sequences: Mapping[str, SequenceInfo],
                 state_dir: Path, reviewer: str, options: RdeOptions | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Repeat detections"))
        self.resize(720, 560)
        self._folder, self._preds, self._seqs = Path(folder), predictions, sequences
        self._state_dir, self._reviewer = Path(state_dir), reviewer
        self._options = options or RdeOptions()
        self.clusters: tuple[RepeatCluster, ...] = ()
        self.cards: list[ClusterCard] = []
        self.loading = False
        lay = QVBoxLayout(self)
        self.status = QLabel(self.tr("Looking for boxes that recur at the same place…"))
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        lay.addWidget(self._scroll, 1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        lay.addWidget(box)
        self.refresh()

    def refresh(self) -> None:
        """Compute the clusters again on the pool (after a decision, or another writer's)."""
        self.loading = True
        preds, seqs, sd, folder, opts = self._preds, self._seqs, self._state_dir, self._folder, self._options
        run_in_pool(lambda: _compute(preds, seqs, sd, folder, opts), self._on_loaded, self._on_error, self)

    def _on_error(self, exc: BaseException) -> None:
        self.loading = False
        self.status.setText(str(exc) if isinstance(exc, WildlifeError) else self.tr("Could not look for repeat "
                                                                                    "detections (see the log)."))

    def _on_loaded(self, result: Any) -> None:
        self.loading = False
        self.clusters, crops = result
        body = QWidget()
        col = QVBoxLayout(body)
        self.cards = []
        for c in self.clusters:
            card = ClusterCard(c, crops)
            card.sig_suppress.connect(self.suppress)
            card.sig_restore.connect(self.restore)
            col.addWidget(card)
            self.cards.append(card)
        col.addStretch(1)
        self._scroll.setWidget(body)
        if self.clusters:
            self.status.setText(self.tr("{n} place(s) where the same box comes back in many images. Confirm the "
                                        "ones that are not animals.").format(n=len(self.clusters)))
        else:
            self.status.setText(self.tr("No repeat detections: no box comes back at the same place in "
                                        "{n} or more images.").format(n=self._options.min_count))

    def _cluster(self, cluster_id: str) -> RepeatCluster | None:
        return next((c for c in self.clusters if c.cluster_id == cluster_id), None)

    def _append(self, records: Any) -> None:
        if not records:
            return
        try:
            DecisionLog(self._state_dir).append(records)
        except WildlifeError as exc:
            self.status.setText(str(exc))
            return
        self.sig_decisions_changed.emit()
        self.refresh()

    def suppress(self, cluster_id: str) -> None:
        from ...formats.decisions import load_decisions

        c = self._cluster(cluster_id)
        if c is not None:
            self._append(suppress_records(c, load_decisions(self._state_dir), reviewer=self._reviewer, time=_now()))

    def restore(self, cluster_id: str) -> None:
        from ...formats.decisions import load_decisions

        c = self._cluster(cluster_id)
        if c is not None:
            self._append(restore_records(c, load_decisions(self._state_dir), reviewer=self._reviewer, time=_now()))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
