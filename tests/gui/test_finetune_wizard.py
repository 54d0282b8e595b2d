"""Review ▸ Fine-tune classifier…: the wizard on a real verified folder and the tiny feature classifier.

Runs the real ``training.finetune`` core (no fakes): the data page counts what ``collect_examples``
finds, finishing registers a model the run panel lists, the results page shows the report's
numbers, and a cancel (the button or closing the wizard) registers nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWizard
from pytestqt.qtbot import QtBot

from tests.fixtures.tiny_classifier import tiny_classifier_pack, verified_caltech_folder
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.progress import CancelToken
from wildlife_desktop.gui import finetune_controller
from wildlife_desktop.gui.dialogs.finetune_wizard import FinetuneWizard
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune import collect_examples

TRAINING_TIMEOUT_MS = 120_000
BASE_ID = "tiny-features"


@pytest.fixture
def paths() -> AppPaths:
    paths = AppPaths.default().ensure()  # under this test's WILDLIFE_DESKTOP_HOME (conftest)
    tiny_classifier_pack(ModelStore(paths), model_id=BASE_ID)
    return paths


def _installed(paths: AppPaths) -> set[str]:
    return {m.id for m in ModelStore(paths).list()}


def _wizard(qtbot: QtBot, paths: AppPaths, folders: list[Path]) -> FinetuneWizard:
    wiz = FinetuneWizard(paths, folders)
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitUntil(lambda: wiz.data_page.examples is not None, timeout=20_000)
    return wiz


def _table(wiz: FinetuneWizard) -> dict[str, tuple[int, str]]:
    t = wiz.data_page.counts_table
    return {t.item(r, 0).text(): (int(t.item(r, 1).text()), t.item(r, 2).text()) for r in range(t.rowCount())}


class _SlowToken(CancelToken):
    """A run whose every check after the first waits until the user cancels: a slow crop, made
    deterministic (the GUI always gets to cancel mid-run, however fast the machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def checkpoint(self) -> None:
        self.checks += 1
        if self.checks > 1:
            self._cancel.wait(TRAINING_TIMEOUT_MS / 1000)
        super().checkpoint()


@pytest.fixture
def slow_token(monkeypatch: pytest.MonkeyPatch) -> list[_SlowToken]:
    made: list[_SlowToken] = []

    def factory() -> _SlowToken:
        made.append(_SlowToken())
        return made[-1]

    monkeypatch.setattr(finetune_controller, "CancelToken", factory)
    return made


def _start_training(qtbot: QtBot, wiz: FinetuneWizard) -> None:
    """Data → Options → "Start training", with the keyboard (Enter presses the default button)."""
    assert wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.keyClick(wiz, Qt.Key.Key_Return)
    assert wiz.currentPage() is wiz.options_page
    wiz.options_page.name_edit.setFocus()
    qtbot.keyClick(wiz.options_page.name_edit, Qt.Key.Key_Return)
    assert wiz.currentPage() is wiz.training_page


def test_data_page_lists_labels_with_counts(qtbot: QtBot, tmp_path: Path, paths: AppPaths) -> None:
    folder = verified_caltech_folder(tmp_path, paths)
    wiz = _wizard(qtbot, paths, [folder])
    expected = collect_examples([folder], paths).counts()
    assert set(expected) == {"car", "deer", "opossum"}
    assert _table(wiz) == {label: (n, "yes") for label, n in expected.items()}
    assert wiz.data_page.base_model().id == BASE_ID
    assert wiz.data_page.isComplete() and wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    assert wiz.data_page.message_label.text() == ""
    assert wiz.data_page.folders() == (folder,)


def test_added_folder_with_too_few_crops_is_left_out(qtbot: QtBot, tmp_path: Path, paths: AppPaths,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    main = verified_caltech_folder(tmp_path / "a", paths, classes=("car", "deer"))
    extra = verified_caltech_folder(tmp_path / "b", paths, classes=("opossum",), per_class=2)
    wiz = _wizard(qtbot, paths, [main])
    assert set(_table(wiz)) == {"car", "deer"}
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(extra))
    wiz.data_page.add_button.click()
    qtbot.waitUntil(lambda: wiz.data_page.examples is not None and "opossum" in _table(wiz), timeout=20_000)
    assert wiz.data_page.folders() == (main, extra)
    assert _table(wiz)["opossum"] == (2, "left out: fewer than 3")
    assert "left out: opossum" in wiz.data_page.message_label.text()
    assert wiz.data_page.usable_labels() == ("car", "deer") and wiz.data_page.isComplete()
    # Removing the folder again (keyboard: Delete in the list) recounts.
    wiz.data_page.folder_list.setCurrentRow(1)
    wiz.data_page.folder_list.setFocus()
    qtbot.keyClick(wiz.data_page.folder_list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: wiz.data_page.examples is not None, timeout=20_000)
    assert set(_table(wiz)) == {"car", "deer"} and wiz.data_page.folders() == (main,)


def test_not_enough_verified_crops_says_so(qtbot: QtBot, tmp_path: Path, paths: AppPaths) -> None:
    folder = verified_caltech_folder(tmp_path, paths, per_class=2)
    wiz = _wizard(qtbot, paths, [folder])
    assert all(status.startswith("left out") for _n, status in _table(wiz).values())
    assert "Verify some crops first (F2)" in wiz.data_page.message_label.text()
    assert not wiz.data_page.isComplete()
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()


def test_finishing_registers_a_model_the_run_panel_lists(qtbot: QtBot, tmp_path: Path, paths: AppPaths) -> None:
    folder = verified_caltech_folder(tmp_path, paths)
    win = MainWindow(paths)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    win.open_folder(folder)
    qtbot.waitUntil(lambda: win.folder == folder and win._results_loaded, timeout=15_000)
    before = _installed(paths)
    assert win.finetune_action in win.menuBar().actions()[2].menu().actions()  # Review ▸ Fine-tune classifier…
    win.finetune_action.trigger()
    wiz = win.finetune_wizard
    qtbot.waitUntil(lambda: wiz.data_page.examples is not None, timeout=20_000)
    assert wiz.data_page.folders() == (folder,)
    assert wiz.options_page.model_name() == ""  # filled when the page is shown
    with qtbot.waitSignal(wiz.sig_model_registered, timeout=TRAINING_TIMEOUT_MS) as registered:
        _start_training(qtbot, wiz)
        assert wiz.controller.running
    qtbot.waitUntil(lambda: wiz.currentPage() is wiz.results_page, timeout=10_000)
    report = wiz.results_page.report
    assert registered.args == [report.model_id]
    assert report.name == wiz.options_page.model_name() == f"{wiz.data_page.base_model().name} – {folder.name}"
    # Registered: in the store and in the run panel's classifier list.
    assert _installed(paths) == before | {report.model_id}
    combo = win.run_panel.classifier_combo
    assert report.model_id in [combo.itemData(i) for i in range(combo.count())]
    # The results page shows the report's numbers.
    page, m = wiz.results_page, report.metrics
    assert page.accuracy_label.text() == f"{m.accuracy * 100:.1f} %"
    assert page.macro_f1_label.text() == f"{m.macro_f1:.2f}"
    t = page.class_table
    assert [t.item(r, 0).text() for r in range(t.rowCount())] == [c.label for c in m.per_class]
    for r, c in enumerate(m.per_class):
        assert [t.item(r, col).text() for col in range(1, 5)] == [
            f"{c.precision:.2f}", f"{c.recall:.2f}", f"{c.f1:.2f}", str(c.support)]
    assert sum(c.support for c in m.per_class) == report.n_val
    for i, true in enumerate(m.labels):
        for j, pred in enumerate(m.labels):
            assert page.matrix.count(true, pred) == m.confusion[i][j]
            assert page.matrix.item(i, j).text() == str(m.confusion[i][j])
    assert page.base_accuracy_label.isVisibleTo(page) == (report.base_metrics is not None)
    assert page.no_base_label.isVisibleTo(page) == (report.base_metrics is None)
    assert report.model_id in page.model_label.text()
    assert report.report_path.is_file() and str(report.report_path) in page.report_label.text()
    assert report.random_weights  # the tiny base is a random-weight pack: the page must say so
    assert page.banner.isVisibleTo(page) and "random weights — benchmark only" in page.banner.text()
    shot = Path(os.environ.get("WILDLIFE_SCREENSHOT_DIR", tmp_path)) / "finetune_results.png"
    assert wiz.grab().save(str(shot))
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert not wiz.isVisible() and not wiz.controller.running


def test_cancel_during_training_registers_nothing(qtbot: QtBot, tmp_path: Path, paths: AppPaths,
                                                  slow_token: list[_SlowToken]) -> None:
    folder = verified_caltech_folder(tmp_path, paths)
    wiz = _wizard(qtbot, paths, [folder])
    before = _installed(paths)
    with qtbot.waitSignal(wiz.controller.sig_progress, timeout=TRAINING_TIMEOUT_MS):  # the first crops are read
        _start_training(qtbot, wiz)
    assert wiz.controller.running and wiz.training_page.cancel_button.isEnabled()
    assert wiz.training_page.stage_label.text() == "Reading the crops"
    with qtbot.waitSignal(wiz.controller.sig_cancelled, timeout=TRAINING_TIMEOUT_MS):
        wiz.training_page.cancel_button.click()
    assert slow_token[0].checks > 1  # it really was mid-run
    assert not wiz.controller.running
    assert "cancelled" in wiz.training_page.status_label.text() and "Nothing was registered" in \
        wiz.training_page.status_label.text()
    assert wiz.currentPage() is wiz.training_page and not wiz.training_page.isComplete()
    assert _installed(paths) == before
    # "Back to the start" returns to the data page with the same folder.
    assert wiz.training_page.restart_button.isVisibleTo(wiz)
    wiz.training_page.restart_button.click()
    assert wiz.currentPage() is wiz.data_page and wiz.data_page.folders() == (folder,)


def test_closing_the_wizard_mid_training_cancels_then_closes(qtbot: QtBot, tmp_path: Path, paths: AppPaths,
                                                            slow_token: list[_SlowToken]) -> None:
    folder = verified_caltech_folder(tmp_path, paths)
    wiz = _wizard(qtbot, paths, [folder])
    before = _installed(paths)
    with qtbot.waitSignal(wiz.controller.sig_progress, timeout=TRAINING_TIMEOUT_MS):
        _start_training(qtbot, wiz)
    registered: list[str] = []
    wiz.sig_model_registered.connect(registered.append)
    with qtbot.waitSignal(wiz.controller.sig_cancelled, timeout=TRAINING_TIMEOUT_MS):
        wiz.reject()  # Escape / the window's close button
        assert wiz.isVisible()  # stays until the run has stopped
    qtbot.waitUntil(lambda: not wiz.isVisible(), timeout=5_000)
    assert not wiz.controller.running and registered == []
    assert _installed(paths) == before


def test_controller_stops_its_thread_when_cancelled_at_once(qtbot: QtBot, tmp_path: Path, paths: AppPaths) -> None:
    """A cancel before the first crop: Cancelled, no thread left behind, and a second run may start."""
    folder = verified_caltech_folder(tmp_path, paths)
    from wildlife_desktop.training.finetune import FinetuneConfig

    ctl = finetune_controller.FinetuneController(paths)
    cfg = FinetuneConfig(folders=(folder,), base_model_id=BASE_ID, name="cancelled at once")
    running: list[bool] = []
    ctl.sig_running_changed.connect(running.append)
    with qtbot.waitSignal(ctl.sig_cancelled, timeout=TRAINING_TIMEOUT_MS):
        assert ctl.start(cfg)
        assert not ctl.start(cfg)  # one run at a time
        ctl.cancel()
    assert running == [True, False] and not ctl.running
    assert ctl.shutdown(1000)


def test_a_base_without_features_fails_with_its_message(qtbot: QtBot, tmp_path: Path, paths: AppPaths) -> None:
    from tests.fixtures.tiny_onnx import tiny_classifier

    plain = ModelStore(paths).import_onnx(tiny_classifier(tmp_path / "plain.onnx"), family="classifier",
                                          labels=("car", "deer", "opossum"), input_size=32, model_id="plain")
    folder = verified_caltech_folder(tmp_path, paths)
    wiz = _wizard(qtbot, paths, [folder])
    wiz.data_page.base_combo.setCurrentIndex(wiz.data_page.base_combo.findData(plain.id))
    before = _installed(paths)
    with qtbot.waitSignal(wiz.controller.sig_failed, timeout=TRAINING_TIMEOUT_MS) as failed:
        _start_training(qtbot, wiz)
    page = wiz.training_page
    assert failed.args[0] and failed.args[0] in page.status_label.text().replace("&#x27;", "'")
    assert page.status_label.text().startswith("<b>Training stopped: ")
    assert page.restart_button.isVisibleTo(wiz) and not page.cancel_button.isVisibleTo(wiz)
    assert not page.isComplete() and _installed(paths) == before


def test_without_an_open_folder_the_data_page_asks_for_one(qtbot: QtBot, paths: AppPaths) -> None:
    wiz = FinetuneWizard(paths, [])
    qtbot.addWidget(wiz)
    wiz.show()
    assert wiz.data_page.folders() == () and wiz.data_page.examples is None
    assert wiz.data_page.summary_label.text() == "Add a folder with verified crops."
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()
