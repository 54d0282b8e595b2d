"""Real MobileNetV2 features of real crops: a head with one hidden layer refitted on every crop (refit=all), its
figures labelled (the split-trained head's held-out metrics, the cross-validated estimate), and the candidate
compared with the production version by the pooled leave-one-site-out estimate when no untrained-on crop is left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest import SHARED
from tests.training.finetune.real_samples import COARSE, features_of, verified_folders
from wildlife_desktop.cli import main
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune.dataset import collect_examples
from wildlife_desktop.training.finetune.features import open_base
from wildlife_desktop.training.finetune.graph import hidden_weights
from wildlife_desktop.training.finetune.head import run_head, train_head
from wildlife_desktop.training.lab import search as lab_search
from wildlife_desktop.training.lab.evaluate import MAX_POOLED_FOLDS, POOLED, compare_models
from wildlife_desktop.training.packs.mobilenet import MODEL_ID, ONNX_NAME, install_mobilenet

SOURCE = SHARED / "models" / "real" / "mobilenet_v2_imagenet"
DATASETS = ["serengeti_species_labelled", "md_repo_misc", "lila_test_images"]
EPOCHS = 80


@pytest.fixture
def folders(tmp_path: Path) -> list[str]:
    if not (SOURCE / ONNX_NAME).is_file():
        pytest.fail(f"the real MobileNetV2 is missing: expected {SOURCE / ONNX_NAME}")
    paths = AppPaths.default().ensure()
    install_mobilenet(ModelStore(paths), SOURCE, notify=lambda _line: None)
    return [str(f) for f in verified_folders(tmp_path / "data", paths, DATASETS, label_map=COARSE)]


def test_hidden_layer_refitted_on_all_crops_then_compared_by_the_pooled_estimate(
    folders: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = AppPaths.default()
    store = ModelStore(paths)
    assert main(["train", *folders, f"max_epochs={EPOCHS}", "--name", "Coarse", "--no-quantize"]) == 0
    capsys.readouterr()
    assert main(["train", *folders, f"max_epochs={EPOCHS}", "hidden_units=64", "refit=all", "--name", "Coarse",
                 "--no-quantize"]) == 0
    out = capsys.readouterr().out
    doc = json.loads((store.root / "coarse-v2" / "training_report.json").read_text(encoding="utf-8"))
    fit, split = doc["final_fit"], doc["split"]
    # the shipped head saw every crop; the figures say which head they belong to
    assert fit["on"] == "all" and fit["n_crops"] == split["n_train"] + split["n_val"] and fit["epochs"] == EPOCHS
    assert len(split["train_crops"]) == fit["n_crops"] and split["shipped_head_trained_on"] == "all crops"
    assert "training split only" in doc["metrics_note"] and doc["training"]["head"].startswith("one hidden layer of 64")
    config = doc["config"]
    assert config["hidden_units"] == 64 and config["refit"] == "all" and config["config_version"] == 2
    assert "Final head: refitted on all" in out and f"cross-validated macro-F1 {fit['cv_macro_f1']:.3f}" in out

    # the pack's ONNX: Gemm, Relu, Gemm whose first layer is the head refitted here on every crop's features
    model = onnx.load(str(store.root / "coarse-v2" / "coarse-v2.onnx"))
    hw, _ = hidden_weights(model)
    assert hw.shape == (1280, 64)
    labels = doc["dataset"]["labels"]
    ex = [e for e in collect_examples([Path(f) for f in folders], paths).examples if e.label in labels]
    fs = features_of(ex, open_base(store, MODEL_ID), tmp_path)
    y = np.array([labels.index(e.label) for e in ex])
    n = len(ex)
    x_all = np.concatenate([fs.features, np.array([fs.flipped[i] for i in range(n)])])
    head, _ = run_head(train_head(x_all, np.concatenate([y, y]), x_all[:0], y[:0], len(labels), l2=1e-3,
                                  max_epochs=EPOCHS, hidden=64, seed=0))
    np.testing.assert_allclose(hw, head.hidden_weight, rtol=1e-3, atol=1e-4)
    # its figure: the cross-validated macro-F1 of these settings (whole sites held out)
    folds, by = lab_search.folds_of(ex)
    params = dict(lab_search.DEFAULTS, hidden_units=64)
    assert fit["cv_macro_f1"] == pytest.approx(lab_search.cv_score(fs.features, fs.flipped, y, folds, len(labels),
                                                                   params, max_epochs=EPOCHS))
    assert fit["cv_folds"] == len(folds) and by == fit["cv_grouped_by"] == "site"

    # no crop left that coarse-v2 did not train on: train printed the pooled estimate, clearly labelled
    assert "ESTIMATE (pooled leave-one-site-out" in out and "not the shipped heads" in out
    with pytest.raises(DatasetError, match="not trained on"):
        compare_models("coarse-v2", paths=paths, record=False, pooled=False)
    comp = compare_models("coarse-v2", paths=paths, record=False)
    assert comp.method == POOLED and comp.is_estimate and comp.production is not None
    assert comp.production.model_id == "coarse-v1" and "(an estimate" in comp.verdict()
    folds10, _ = lab_search.folds_of(ex, max_folds=MAX_POOLED_FOLDS)
    assert comp.folds == len(folds10) == min(MAX_POOLED_FOLDS, len({e.site for e in ex}))
    scored, pred_c = lab_search.cv_predictions(fs.features, fs.flipped, y, folds10, len(labels), params,
                                               max_epochs=EPOCHS)
    _, pred_p = lab_search.cv_predictions(fs.features, fs.flipped, y, folds10, len(labels), lab_search.DEFAULTS,
                                          max_epochs=EPOCHS)
    assert comp.n_crops == len(scored) <= n  # crops whose label occurs at their site only are not scored
    assert comp.candidate.metrics.accuracy == pytest.approx(np.mean(pred_c == y[scored]))
    assert comp.production.metrics.accuracy == pytest.approx(np.mean(pred_p == y[scored]))
    d = comp.difference["macro_f1"]
    assert d.low <= d.value <= d.high and d.value == pytest.approx(
        comp.candidate.macro_f1.value - comp.production.macro_f1.value)
    for score in (comp.candidate, comp.production):
        assert 0.0 <= score.macro_f1.low <= score.macro_f1.value <= score.macro_f1.high <= 1.0

    # a production model without a recipe on these features keeps its own fixed head (here: ImageNet labels,
    # every answer '(other)'), scored only on crops it was not trained on
    fixed = compare_models("coarse-v2", MODEL_ID, paths=paths, record=False, pooled=True)
    assert fixed.is_estimate and "own fixed head" in fixed.note and fixed.n_crops == comp.n_crops
    assert fixed.production is not None and fixed.production.metrics.accuracy == 0.0
    assert fixed.candidate.metrics.accuracy == pytest.approx(comp.candidate.metrics.accuracy)

    # the CLI: models evaluate --pooled records the estimate (labelled), which promote accepts as the evaluation
    capsys.readouterr()
    assert main(["models", "evaluate", "coarse-v2", "--pooled"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ESTIMATE (pooled leave-one-site-out") and "What is compared: the training recipes" in out
    saved = json.loads((store.root / "coarse-v2" / "evaluation.json").read_text(encoding="utf-8"))
    assert saved["method"] == POOLED and saved["note"] == comp.note
    assert main(["models", "promote", "coarse"]) == 0 and store.resolve("coarse") == "coarse-v2"
