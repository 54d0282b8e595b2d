"""Evaluation before adoption on real crops: two fine-tunes of MobileNetV2 (real weights) on real
sample crops, the candidate compared with the production version on the sites neither trained on,
then promoted and rolled back; a run reproduced from its saved configuration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.training.finetune.real_samples import COARSE, DATASETS, verified_folders
from wildlife_desktop.cli import main
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime import stages
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune.dataset import collect_examples
from wildlife_desktop.training.lab.evaluate import compare_models, crop_key
from wildlife_desktop.training.packs.mobilenet import ONNX_NAME, install_mobilenet

SOURCE = SHARED / "models" / "real" / "mobilenet_v2_imagenet"


@pytest.fixture
def store() -> ModelStore:
    if not (SOURCE / ONNX_NAME).is_file():
        pytest.fail(f"the real MobileNetV2 is missing: expected {SOURCE / ONNX_NAME}")
    s = ModelStore(AppPaths.default().ensure())
    install_mobilenet(s, SOURCE, notify=lambda _line: None)
    return s


def _report(store: ModelStore, model_id: str) -> dict:
    return json.loads((store.root / model_id / "training_report.json").read_text(encoding="utf-8"))


def test_candidate_compared_on_held_out_sites_promoted_rolled_back_and_reproduced(
    store: ModelStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = AppPaths.default()
    folders = [str(f) for f in verified_folders(tmp_path / "data", paths, list(DATASETS), label_map=COARSE)]
    assert main(["train", *folders, "--name", "Coarse", "--no-quantize"]) == 0
    assert "Stage: production (the first version of this name)" in capsys.readouterr().out
    # the candidate: other settings as key=value words (typed by the configuration)
    assert main(["train", *folders, "l2=0.05", "class_balance=false", "--name", "Coarse", "--no-quantize"]) == 0
    out = capsys.readouterr().out
    assert "Stage: staging; the production version stays coarse-v1" in out
    assert "difference (candidate - production)" in out
    assert "Adopt it with: wildlife-desktop models promote coarse-v2" in out
    v2 = _report(store, "coarse-v2")
    assert v2["config"]["l2"] == 0.05 and v2["config"]["class_balance"] is False and v2["config"]["config_version"] == 2
    assert stages.load_registry(store.root).evaluations["coarse-v2"]["against"] == "coarse-v1"

    # the comparison: on the crops neither model trained on (the same split seed: the held-out sites)
    comp = compare_models("coarse-v2", paths=paths, record=False)
    assert comp.production is not None and comp.production.model_id == "coarse-v1"
    trained = set(v2["split"]["train_crops"]) | set(_report(store, "coarse-v1")["split"]["train_crops"])
    held = [e for e in collect_examples([Path(f) for f in folders], paths).examples
            if e.label in v2["dataset"]["labels"] and crop_key(e) not in trained]
    assert comp.n_crops == len(held) == v2["split"]["n_val"] > 0
    assert set(comp.sites) == set(v2["split"]["val_sites"]) and not set(comp.sites) & set(v2["split"]["train_sites"])
    # Run AI's classifier on these crops gives what the training run measured on its validation crops
    assert [list(r) for r in comp.candidate.metrics.confusion[: len(v2["metrics"]["confusion"])]] == [
        r[: len(v2["metrics"]["confusion"])] for r in v2["metrics"]["confusion"]]
    for score in (comp.candidate, comp.production):
        for iv in (score.accuracy, score.macro_f1):
            assert 0.0 <= iv.low <= iv.value <= iv.high <= 1.0
    d = comp.difference["macro_f1"]
    assert d.value == pytest.approx(comp.candidate.macro_f1.value - comp.production.macro_f1.value)
    again = compare_models("coarse-v2", paths=paths, record=False)
    assert again.difference == comp.difference, "seeded: the same intervals"

    # adopt (evaluated: no --force needed), then go back
    assert main(["models", "promote", "coarse"]) == 0
    assert store.resolve("coarse") == "coarse-v2"
    assert main(["models", "rollback", "coarse"]) == 0
    assert store.resolve("coarse") == "coarse-v1"
    capsys.readouterr()

    # reproduce coarse-v2 from its saved configuration: the same head, the same figures
    assert main(["train", "--config", str(store.root / "coarse-v2" / "training_config.json")]) == 0
    v3 = _report(store, "coarse-v3")
    assert v3["config"] == v2["config"] and v3["metrics"] == v2["metrics"]
    assert np.allclose(v3["training"]["val_loss"], v2["training"]["val_loss"])
    with pytest.raises(DatasetError, match="not trained on"):
        compare_models("coarse-v3", "coarse-v2", paths=paths, folders=[Path(folders[0])], record=False, pooled=False)
    # no untrained-on crop left: the pooled leave-one-site-out estimate instead of a refusal, labelled as such
    pooled = compare_models("coarse-v3", "coarse-v2", paths=paths, folders=[Path(folders[0])], record=False)
    assert pooled.is_estimate and pooled.lines()[0].startswith("ESTIMATE (pooled leave-one-site-out")
    assert pooled.difference["macro_f1"].value == 0.0, "the same recipe refitted per fold: the same predictions"
