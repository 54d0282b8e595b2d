"""File ▸ Import model pack… on a bare ``.onnx``: the questions the CLI asks with flags, in a dialog.

``wildlife-desktop models import model.onnx --family F --labels a,b --input-size N --random-weights``
becomes a form whose answers are guessed from the file (:func:`guess_import`): the input size
from its input shape, the labels and licence from its metadata (Ultralytics writes ``names``,
``imgsz``, ``license``), the family from its output shape, and "random weights" from a
``weights`` property that says so. The user checks and corrects them; the import runs off the
GUI thread and a refusal (wrong family for the output, wrong number of labels) is shown in the
dialog, which stays open so it can be corrected.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.paths import AppPaths
from ...runtime.families import FAMILIES

#: Families a bare ONNX file can be (composites name other packs; nanodet's six outputs need its installer).
IMPORTABLE = ("yolov5", "yolov8", "yolov10", "yolox", "rtdetr", "classifier")
_GUESS_ORDER = ("yolov10", "yolov8", "yolov5", "rtdetr", "classifier")


@dataclass(frozen=True)
class OnnxGuess:
    """What the file says about itself (each field may be empty: the user fills it in)."""

    model_id: str
    family: str
    labels: tuple[str, ...]
    input_size: int | None
    random_weights: bool
    licence: str
    summary: str  # "input images [1, 3, 640, 640] · output output0 [1, 300, 6]"


def _labels_from_metadata(meta: dict[str, str]) -> tuple[str, ...]:
    for key in ("names", "labels", "classes"):
        raw = meta.get(key, "").strip()
        if not raw:
            continue
        try:
            value: Any = json.loads(raw)
        except ValueError:
            try:
                value = ast.literal_eval(raw)  # Ultralytics: "{0: 'animal', 1: 'person'}"
            except (ValueError, SyntaxError):
                value = [x.strip() for x in raw.split(",")]
        if isinstance(value, dict):
            try:
                value = [value[k] for k in sorted(value, key=lambda k: int(k))]
            except (TypeError, ValueError):
                value = list(value.values())
        if isinstance(value, list | tuple):
            labels = tuple(str(x).strip() for x in value if str(x).strip())
            if labels:
                return labels
    return ()


def guess_import(info: Any, path: Path) -> OnnxGuess:
    """Defaults for the dialog from ``runtime.session.inspect_onnx(path)``."""
    from ...runtime.store import _safe_id

    meta = dict(info.metadata or {})
    labels = _labels_from_metadata(meta)
    hw = info.inputs[0].fixed_hw if info.inputs else None
    size = max(hw) if hw else None
    if size is None and meta.get("imgsz"):
        try:
            dims = ast.literal_eval(meta["imgsz"])
            size = int(max(dims) if isinstance(dims, list | tuple) else dims)
        except (ValueError, SyntaxError, TypeError):
            size = None
    out = info.outputs[0].shape if info.outputs else ()
    family = ""
    if meta.get("task") == "classify" or len(out) == 2:
        family = "classifier"
    elif meta.get("end2end", "").lower() == "true" or "v10" in meta.get("head", "").lower():
        family = "yolov10"
    else:
        n = len(labels) or (3 if len(out) == 3 else 0)
        for name in _GUESS_ORDER:
            if FAMILIES[name].check_output(out, n) is None:
                family = name
                break
    licence = meta.get("license") or meta.get("licence") or "unknown"
    summary = " · ".join(
        [f"input {t.name} {list(t.shape)}" for t in info.inputs[:1]]
        + [f"output {t.name} {list(t.shape)}" for t in info.outputs[:2]]
        + ([f"{len(info.outputs)} outputs"] if len(info.outputs) > 2 else []))
    return OnnxGuess(model_id=_safe_id(path.stem), family=family, labels=labels, input_size=size,
                     random_weights="random" in meta.get("weights", "").lower(), licence=licence, summary=summary)


class ImportOnnxDialog(QDialog):
    """Asks family, labels, input size, id, licence and "random weights"; ``sig_imported(model_id)``."""

    sig_imported = Signal(str)

    def __init__(self, onnx_path: Path, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ...runtime.session import inspect_onnx

        self.path, self.paths = Path(onnx_path), paths
        self.setWindowTitle(self.tr("Import ONNX model"))
        self.setMinimumWidth(520)
        self.guess = guess_import(inspect_onnx(self.path), self.path)  # ModelLoadError: caller says so
        g = self.guess
        intro = QLabel(self.tr("<b>{0}</b> is a bare ONNX file: say what it is. The answers below were read "
                               "from the file where it says; check them.").format(self.path.name), self)
        intro.setWordWrap(True)
        read = QLabel(g.summary, self)
        read.setWordWrap(True)
        read.setStyleSheet("color: palette(mid);")
        self.family = QComboBox(self)
        for name in IMPORTABLE:
            spec = FAMILIES[name]
            self.family.addItem(f"{name} ({'detector' if spec.task == 'detection' else 'classifier'})", name)
            self.family.setItemData(self.family.count() - 1, spec.output_layout, Qt.ItemDataRole.ToolTipRole)
        if g.family in IMPORTABLE:
            self.family.setCurrentIndex(IMPORTABLE.index(g.family))
        self.labels = QLineEdit(", ".join(g.labels), self)
        self.labels.setPlaceholderText(self.tr("comma-separated, in the model's output order, e.g. animal, person, "
                                               "vehicle"))
        self.input_size = QSpinBox(self)
        self.input_size.setRange(16, 4096)
        self.input_size.setSingleStep(32)
        self.input_size.setSuffix(" px")
        self.input_size.setValue(g.input_size or 640)
        size_note = self.tr("read from the file") if g.input_size else self.tr("the file does not say: check it")
        self.model_id = QLineEdit(g.model_id, self)
        self.licence = QLineEdit(g.licence, self)
        self.random_weights = QCheckBox(self.tr("Random weights (speed tests only; never used as a detector)"), self)
        self.random_weights.setChecked(g.random_weights)
        form = QFormLayout()
        form.addRow(self.tr("Family"), self.family)
        form.addRow(self.tr("Labels"), self.labels)
        form.addRow(self.tr("Input size"), self.input_size)
        form.addRow("", QLabel(size_note, self))
        form.addRow(self.tr("Model id"), self.model_id)
        form.addRow(self.tr("Licence"), self.licence)
        form.addRow("", self.random_weights)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Import"))
        self.buttons.accepted.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(read)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.labels.textChanged.connect(self._validate)
        self.model_id.textChanged.connect(self._validate)
        self._validate()

    def label_list(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.labels.text().split(",") if x.strip())

    def family_name(self) -> str:
        return str(self.family.currentData())

    @Slot()
    def _validate(self) -> None:
        self.ok_button.setEnabled(bool(self.label_list()) and bool(self.model_id.text().strip()))

    def _fail(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.ok_button.setEnabled(True)

    @Slot()
    def start_import(self) -> None:
        """Install the file with the answers, off the GUI thread; success closes the dialog."""
        from ...core.logs import user_message
        from ...runtime.store import ModelStore
        from ..workers import run_in_pool

        store, path = ModelStore(self.paths), self.path
        kwargs = dict(family=self.family_name(), labels=self.label_list(), input_size=self.input_size.value(),
                      random_weights=self.random_weights.isChecked(), model_id=self.model_id.text().strip(),
                      licence=self.licence.text().strip() or "unknown")
        self.ok_button.setEnabled(False)
        self.error.hide()

        def done(m: Any) -> None:
            self.sig_imported.emit(m.id)
            self.accept()

        run_in_pool(lambda: store.import_onnx(path, **kwargs), done,
                    lambda exc: self._fail(user_message(exc, self.paths)), self)


def ask_import_onnx(onnx_path: Path, paths: AppPaths, parent: QWidget) -> ImportOnnxDialog | None:
    """Open the dialog for ``onnx_path`` (non-modal); a file that is not a loadable ONNX model is
    refused in a message box instead (None)."""
    from PySide6.QtWidgets import QMessageBox

    from ...core.logs import user_message

    try:
        dialog = ImportOnnxDialog(onnx_path, paths, parent)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one sentence, the details in the log
        QMessageBox.warning(parent, parent.tr("Import model"), user_message(exc, paths))
        return None
    dialog.open()
    return dialog
