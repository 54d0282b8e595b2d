"""Review ▸ Model versions… and the wizard's adoption panel: promote and roll back in the window, the run
panel offering a fine-tuned model by name (= its production version), "Adopt" only with a comparison shown."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from tests.training.lab.test_stages import _install_versions
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.gui.dialogs.adoption_panel import AdoptionPanel
from wildlife_desktop.gui.dialogs.model_versions_dialog import ModelVersionsDialog
from wildlife_desktop.gui.widgets.run_panel import RunPanelWidget
from wildlife_desktop.runtime import stages
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.lab.bootstrap import difference_intervals, resample_indices
from wildlife_desktop.training.lab.evaluate import Comparison, _score


def test_dialog_promotes_after_asking_and_rolls_back(qtbot: QtBot, tmp_path: Path) -> None:
    paths = AppPaths.default().ensure()
    store = ModelStore(paths)
    v1, v2 = _install_versions(store, tmp_path, "kenya", 2)
    dialog = ModelVersionsDialog(paths)
    qtbot.addWidget(dialog)
    assert dialog.tree.topLevelItem(0).text(1) == f"uses {v1}"
    assert [dialog.tree.topLevelItem(0).child(i).text(1) for i in range(2)] == ["production", "staging"]
    dialog.select(v2)
    assert "promote with --force" in dialog.promote(), "never compared: the button asks before forcing"
    assert store.resolve("kenya") == v1
    with qtbot.waitSignal(dialog.sig_changed):
        assert "kenya-v2 is now the production version" in dialog.promote(force=True)
    assert store.resolve("kenya") == v2 and dialog.tree.topLevelItem(0).text(1) == f"uses {v2}"
    dialog.select("kenya")
    assert "kenya-v1 is the production version again" in dialog.rollback()
    assert store.resolve("kenya") == v1

    panel = RunPanelWidget()
    qtbot.addWidget(panel)
    models = store.list()
    panel.set_models(models, classifiers=stages.classifier_choices(store.root, models))
    i = panel.classifier_combo.findData("kenya")
    assert i == 1, "the name comes first, after 'None'"
    panel.classifier_combo.setCurrentIndex(i)
    assert panel.classifier_id() == "kenya" and panel.manifest("kenya").id == v1


def test_adopt_appears_only_with_the_comparison_on_screen(qtbot: QtBot, tmp_path: Path) -> None:
    paths = AppPaths.default().ensure()
    store = ModelStore(paths)
    v1, v2 = _install_versions(store, tmp_path, "kenya", 2)
    panel = AdoptionPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.adopt_button.isVisible() and panel.adopt() == ""
    labels = ("red", "green", "blue")
    y = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    new, old = np.array([0, 0, 1, 1, 2, 2, 1, 0]), np.array([0, 1, 1, 2, 2, 0, 1, 0])
    idx = resample_indices(len(y), n_boot=200, seed=0)
    comp = Comparison(_score(v2, y, new, labels, idx), _score(v1, y, old, labels, idx), labels, len(y), ("cam1",), 0,
                      0, (), difference_intervals(y, new, old, len(labels), idx))
    stages.record_evaluation(store.root, v2, v1, {"n_crops": len(y)})
    panel.paths = paths
    panel.show_comparison(comp)
    assert panel.adopt_button.isVisible() and panel.adopt_button.isEnabled()
    assert panel.table.rowCount() == 2 + len(labels) and panel.table.item(0, 1).text() == comp.candidate.accuracy.text()
    with qtbot.waitSignal(panel.sig_adopted) as sig:
        panel.adopt()
    assert sig.args == [v2] and store.resolve("kenya") == v2 and not panel.adopt_button.isEnabled()
    assert "now the production version" in panel.verdict_label.text()


def test_optimise_option_gives_the_search_settings_or_says_what_to_install(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wildlife_desktop.gui.dialogs.optimise_box import OptimiseBox

    if importlib.util.find_spec("optuna") is not None:
        box = OptimiseBox()
        qtbot.addWidget(box)
        assert box.check.isEnabled() and (box.trials(), box.time_budget_s()) == (0, 0.0)
        box.check.setChecked(True)
        box.trials_spin.setValue(5)
        assert (box.trials(), box.time_budget_s()) == (5, 120.0)
    monkeypatch.setitem(sys.modules, "optuna", None)  # as without the [lab] extra
    box = OptimiseBox()
    qtbot.addWidget(box)
    box.check.setChecked(True)
    assert not box.check.isEnabled() and box.trials() == 0 and "pip install 'wildlife-desktop[lab]'" in box.note.text()


def test_dialog_mirrors_promote_and_rollback_into_mlflow(qtbot: QtBot, tmp_path: Path) -> None:
    """With the [lab] extra, the window's promote and rollback move MLflow's stage tags and production alias
    (read back with MLflow's own client), as 'models promote|rollback' do."""
    pytest.importorskip("mlflow", reason="MLflow is not installed (the [lab] extra): nothing to mirror")
    from mlflow.tracking import MlflowClient

    from wildlife_desktop.training.lab import tracking

    paths = AppPaths.default().ensure()
    store = ModelStore(paths)
    v1, v2 = _install_versions(store, tmp_path, "kenya", 2)
    with tracking._mlflow(paths):  # the app's own local store, telemetry off
        client = MlflowClient(tracking.tracking_uri(paths), registry_uri=tracking.tracking_uri(paths))
        client.create_registered_model("kenya")
        for pack_id in (v1, v2):  # as log_finetune registers each pack
            client.create_model_version("kenya", f"file://{store.root / pack_id}", tags={"pack_id": pack_id})
    dialog = ModelVersionsDialog(paths)
    qtbot.addWidget(dialog)
    dialog.select(v2)
    with qtbot.waitSignal(dialog.sig_mirrored, timeout=30000) as sig:
        dialog.promote(force=True)
    assert sig.args == [True]
    by_pack = {mv.tags["pack_id"]: mv for mv in client.search_model_versions("name='kenya'")}
    assert by_pack[v2].tags["stage"] == "production" and by_pack[v1].tags["stage"] == "archived"
    assert client.get_model_version_by_alias("kenya", "production").tags["pack_id"] == v2
    assert "Mirrored in MLflow's registry" in dialog.message.toPlainText()
    dialog.select("kenya")
    with qtbot.waitSignal(dialog.sig_mirrored, timeout=30000):
        dialog.rollback()
    assert client.get_model_version_by_alias("kenya", "production").tags["pack_id"] == v1
    by_pack = {mv.tags["pack_id"]: mv for mv in client.search_model_versions("name='kenya'")}
    assert by_pack[v1].tags["stage"] == "production" and by_pack[v2].tags["stage"] == "archived"


def test_dialog_without_mlflow_mirrors_nothing(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as without the [lab] extra
    paths = AppPaths.default().ensure()
    store = ModelStore(paths)
    _, v2 = _install_versions(store, tmp_path, "kenya", 2)
    dialog = ModelVersionsDialog(paths)
    qtbot.addWidget(dialog)
    dialog.select(v2)
    with qtbot.assertNotEmitted(dialog.sig_mirrored, wait=200):
        assert "now the production version" in dialog.promote(force=True)
    assert store.resolve("kenya") == v2 and not Path(paths.data, "mlruns").exists()
