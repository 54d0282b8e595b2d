"""Hyper-parameter search on real MobileNetV2 features of real crops: never worse than the default settings on
its site-aware CV objective, logged to MLflow, and run from the CLI; a clear message without Optuna."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.training.finetune.real_samples import COARSE, features_of, verified_folders
from wildlife_desktop.cli import main
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune.dataset import collect_examples
from wildlife_desktop.training.finetune.features import open_base
from wildlife_desktop.training.lab import search as lab_search
from wildlife_desktop.training.lab import tracking
from wildlife_desktop.training.packs.mobilenet import MODEL_ID, ONNX_NAME, install_mobilenet

SOURCE = SHARED / "models" / "real" / "mobilenet_v2_imagenet"
DATASETS = ["serengeti_species_labelled", "md_repo_misc", "lila_test_images"]


@pytest.fixture
def folders(tmp_path: Path) -> list[Path]:
    if not (SOURCE / ONNX_NAME).is_file():
        pytest.fail(f"the real MobileNetV2 is missing: expected {SOURCE / ONNX_NAME}")
    paths = AppPaths.default().ensure()
    install_mobilenet(ModelStore(paths), SOURCE, notify=lambda _line: None)
    return verified_folders(tmp_path / "data", paths, DATASETS, label_map=COARSE)


def test_search_is_never_worse_than_the_defaults_on_its_cv_objective(folders: list[Path], tmp_path: Path) -> None:
    pytest.importorskip("optuna", reason="Optuna is not installed (the [lab] extra): the search is hidden")
    paths = AppPaths.default()
    ex = list(collect_examples(folders, paths).examples)
    labels = sorted({e.label for e in ex})
    fs = features_of(ex, open_base(ModelStore(paths), MODEL_ID), tmp_path)
    y = np.array([labels.index(e.label) for e in ex])
    folds, by = lab_search.folds_of(ex)
    assert by == "site" and sorted(i for f in folds for i in f) == list(range(len(ex)))
    for f in folds:  # whole sites: no site on both sides of a fold
        assert not {ex[i].site for i in f} & {ex[i].site for i in range(len(ex)) if i not in set(f)}
    default = lab_search.cv_score(fs.features, fs.flipped, y, folds, len(labels), lab_search.DEFAULTS, max_epochs=100)
    gen = lab_search.search(fs.features, fs.flipped, y, ex, len(labels), n_trials=4, max_epochs=100)
    trials = []
    while True:
        try:
            trials.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert [t.number for t in trials] == [0, 1, 2, 3] and trials[0].params == dict(lab_search.DEFAULTS)
    assert result.default_value == pytest.approx(default) and 0.0 < default <= 1.0
    assert result.best.value >= result.default_value
    assert result.best.value == max(t.value for t in trials)
    assert {t.params["l2"] for t in trials[1:]} != {1e-3}, "the other trials try other settings"
    assert all(t.params["hidden_units"] in lab_search.HIDDEN_CHOICES for t in trials), "the head's width is searched"
    assert result.best_settings["hidden_units"] == result.best.params["hidden_units"]


def test_cli_search_logs_trials_and_registers_the_best(folders: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna", reason="Optuna is not installed (the [lab] extra): the search is hidden")
    paths = AppPaths.default()
    assert main(["train", *map(str, folders), "max_epochs=80", "--name", "Searched", "--no-quantize",
                 "--search", "3"]) == 0
    out = capsys.readouterr().out
    assert "Hyper-parameter search: 3 trials, objective site-aware cross-validated macro-F1" in out
    pack = ModelStore(paths).root / "searched-v1"
    search = json.loads((pack / "search.json").read_text(encoding="utf-8"))
    assert search["best_value"] >= search["default_value"] and len(search["all"]) == 3
    saved = json.loads((pack / "training_config.json").read_text(encoding="utf-8"))
    assert saved["search_trials"] == 0 and saved["l2"] == search["best_settings"]["l2"], "reproducible as trained"
    assert saved["hidden_units"] == search["best_settings"]["hidden_units"]
    # the best settings retrained on all data; its figure is the search's CV estimate, the split's metrics labelled
    assert saved["refit"] == "all" and "refit the best on all crops" not in out
    doc = json.loads((pack / "training_report.json").read_text(encoding="utf-8"))
    assert doc["final_fit"]["n_crops"] == doc["split"]["n_train"] + doc["split"]["n_val"]
    assert doc["final_fit"]["cv_macro_f1"] == search["best_value"] and "best of 3 search trials" in doc["final_fit"][
        "cv_source"]
    assert "Final head: refitted on all" in out
    if tracking.available():
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking.tracking_uri(paths))
        exp = client.get_experiment_by_name(tracking.SEARCH_EXPERIMENT)
        runs = client.search_runs([exp.experiment_id])
        trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
        assert len(trials) == 3 and sorted(r.data.metrics["cv_macro_f1"] for r in trials) == pytest.approx(
            sorted(t["value"] for t in search["all"]))
        (run,) = client.search_runs([client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id])
        assert run.data.metrics["final_cv_macro_f1"] == pytest.approx(search["best_value"])
        assert run.data.params["refit"] == "all" and run.data.tags["final_fit"].startswith("refitted on all")


def test_without_optuna_the_search_says_what_to_install(
    folders: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert not lab_search.available()
    assert main(["train", *map(str, folders), "--name", "X", "--search", "3"]) == 1
    err = capsys.readouterr().err
    assert "needs Optuna: pip install 'wildlife-desktop[lab]'" in err and "Traceback" not in err
