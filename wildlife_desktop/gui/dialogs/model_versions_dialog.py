"""Review ▸ Model versions…: the versions of each fine-tuned classifier, their stages, promote and roll back.

A thin window over :mod:`runtime.stages` (no logic here): a tree of names and their versions
(stage, what the recorded evaluation compared it with), and three actions: **Make production**
(the selected version; one that was never compared with the production version asks first and
is then promoted with force), **Roll back** (the selected name's production version is
archived, the one before it restored) and **Compare with production** (the held-out comparison,
:func:`training.lab.evaluate.compare_models`, off the GUI thread, shown as text and recorded).
After a promote or a rollback the new stages are mirrored into MLflow's registry when the
``[lab]`` extra is installed (:func:`training.lab.tracking.mirror_stages`, off the GUI thread),
as the CLI does; our registry stays the one that counts.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import WildlifeError
from ...core.paths import AppPaths


class ModelVersionsDialog(QDialog):
    """Signals: ``sig_changed()`` after a promote or a rollback (the run panel refreshes its list);
    ``sig_mirrored(bool)`` once the stages were mirrored into MLflow (only when tracking is available)."""

    sig_changed = Signal()
    sig_mirrored = Signal(bool)

    def __init__(self, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Model versions"))
        self.setObjectName("modelVersionsDialog")
        self.paths = paths
        intro = QLabel(self.tr("Run AI uses a model's <b>production</b> version when you choose the model by name. "
                               "New fine-tuned versions start in <b>staging</b>."), self)
        intro.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels([self.tr("Model / version"), self.tr("Stage"), self.tr("Compared with")])
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.promote_button = QPushButton(self.tr("Make &production"), self)
        self.rollback_button = QPushButton(self.tr("&Roll back"), self)
        self.compare_button = QPushButton(self.tr("&Compare with production"), self)
        self.promote_button.clicked.connect(self._on_promote_button_clicked)
        self.rollback_button.clicked.connect(self._on_rollback_button_clicked)
        self.compare_button.clicked.connect(self._on_compare_button_clicked)
        self.message = QPlainTextEdit(self)
        self.message.setReadOnly(True)
        self.message.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont) or QFont())
        buttons = QHBoxLayout()
        for b in (self.promote_button, self.rollback_button, self.compare_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.tree, 2)
        lay.addLayout(buttons)
        lay.addWidget(self.message, 1)
        lay.addWidget(close)
        self.resize(760, 560)
        self.refresh()

    # ---- data -----------------------------------------------------------------------------
    def _installed(self) -> tuple[Any, list[str]]:
        from ...runtime.store import ModelStore

        store = ModelStore(self.paths)
        return store, [m.id for m in store.list()]

    def refresh(self) -> None:
        from ...runtime import stages

        store, installed = self._installed()
        self.tree.clear()
        for name in stages.names(installed):
            used = stages.resolve(store.root, installed, name) or "—"
            top = QTreeWidgetItem([name, self.tr("uses {0}").format(used), ""])
            top.setData(0, 256, ("name", name))
            for v in stages.versions(store.root, installed, name):
                child = QTreeWidgetItem([v.model_id, v.stage, v.evaluated_against or ""])
                child.setData(0, 256, ("version", v.model_id))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        if not self.tree.topLevelItemCount():
            self.message.setPlainText(self.tr("No versioned models yet: fine-tune one "
                                              "(Review ▸ Fine-tune classifier…)."))
        self._update_buttons()

    def selected(self) -> tuple[str, str] | None:
        """``("name", NAME)`` or ``("version", PACK_ID)`` of the selected row."""
        items = self.tree.selectedItems()
        return items[0].data(0, 256) if items else None

    def select(self, key: str) -> None:
        """Select the row of a name or a pack id."""
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for item in [top, *(top.child(j) for j in range(top.childCount()))]:
                if item.text(0) == key:
                    self.tree.setCurrentItem(item)
                    return

    # ---- actions (also called by tests) ---------------------------------------------------
    def promote(self, *, force: bool = False) -> str:
        from ...runtime import stages

        sel = self.selected()
        if sel is None or sel[0] != "version":
            return ""
        store, installed = self._installed()
        try:
            v = stages.promote(store.root, installed, sel[1], force=force)
        except WildlifeError as exc:
            return self._say(str(exc))
        self.sig_changed.emit()
        self.refresh()
        self._mirror(v.name)
        return self._say(self.tr("{0} is now the production version of {1}.").format(v.model_id, v.name))

    def rollback(self) -> str:
        from ...runtime import stages

        sel = self.selected()
        if sel is None:
            return ""
        store, installed = self._installed()
        try:
            archived, restored = stages.rollback(store.root, installed, sel[1])
        except WildlifeError as exc:
            return self._say(str(exc))
        self.sig_changed.emit()
        self.refresh()
        self._mirror(restored.rsplit("-v", 1)[0])
        return self._say(self.tr("Rolled back: {0} is the production version again ({1} archived).")
                         .format(restored, archived))

    def _mirror(self, name: str) -> bool:
        """Mirror ``name``'s stages into MLflow off the GUI thread (``sig_mirrored`` when done); False when
        tracking is not available (the [lab] extra absent or switched off): nothing to do."""
        from ...training.lab import tracking
        from ..workers import run_in_pool

        if not tracking.available():
            return False

        def done(ok: bool) -> None:
            if ok:
                self.message.appendPlainText(self.tr("Mirrored in MLflow's registry ({0}).")
                                             .format(tracking.tracking_uri(self.paths)))
            self.sig_mirrored.emit(bool(ok))

        run_in_pool(lambda: tracking.mirror_stages(self.paths, name), done, lambda _exc: self.sig_mirrored.emit(False),
                    self)
        return True

    def _say(self, text: str) -> str:
        self.message.setPlainText(text)
        return text

    # ---- slots ----------------------------------------------------------------------------
    @Slot()
    def _update_buttons(self) -> None:
        sel = self.selected()
        self.promote_button.setEnabled(sel is not None and sel[0] == "version")
        self.compare_button.setEnabled(sel is not None and sel[0] == "version")
        self.rollback_button.setEnabled(sel is not None)

    @Slot()
    def _on_promote_button_clicked(self) -> None:
        text = self.promote()
        if "promote with --force" in text:
            answer = QMessageBox.question(self, self.tr("Not compared"), self.tr(
                "This version was never compared with the production version on your held-out crops "
                "(Compare with production). Make it production anyway?"))
            if answer == QMessageBox.StandardButton.Yes:
                self.promote(force=True)

    @Slot()
    def _on_rollback_button_clicked(self) -> None:
        self.rollback()

    @Slot()
    def _on_compare_button_clicked(self) -> None:
        from ...training.lab.evaluate import compare_models
        from ..workers import run_in_pool

        sel = self.selected()
        if sel is None or sel[0] != "version":
            return
        self._say(self.tr("Comparing {0} with the production version on held-out verified crops…").format(sel[1]))
        self.compare_button.setEnabled(False)

        def done(comp: Any) -> None:
            self._say("\n".join(comp.lines()))
            self.refresh()

        def failed(exc: BaseException) -> None:
            self._say(str(exc))
            self._update_buttons()

        run_in_pool(lambda: compare_models(sel[1], paths=self.paths), done, failed, self)
