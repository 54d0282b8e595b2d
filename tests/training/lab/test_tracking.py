"""Experiment tracking: a real fine-tune of MobileNetV2 on real crops, read back through MLflow's own client
(skipped, with the reason, only when the [lab] extra is absent); without MLflow nothing is tracked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.training.finetune.real_samples import COARSE, verified_folders
from wildlife_desktop.cli import main
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune import FinetuneConfig, FinetuneFinished, run_finetune
from wildlife_desktop.training.lab import tracking
from wildlife_desktop.training.packs.mobilenet import MODEL_ID, ONNX_NAME, install_mobilenet

SOURCE = SHARED / "models" / "real" / "mobilenet_v2_imagenet"
DATASETS = ["serengeti_species_labelled", "md_repo_misc", "lila_test_images"]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, ...]:
    if not (SOURCE / ONNX_NAME).is_file():
        pytest.fail(f"the real MobileNetV2 is missing: expected {SOURCE / ONNX_NAME}")
    paths = AppPaths.default().ensure()
    install_mobilenet(ModelStore(paths), SOURCE, notify=lambda _line: None)
    return tuple(verified_folders(tmp_path / "data", paths, DATASETS, label_map=COARSE))


def _run(folders: tuple[Path, ...], name: str) -> tuple[FinetuneConfig, object]:
    config = FinetuneConfig(folders=folders, base_model_id=MODEL_ID, name=name, quantize=False, max_epochs=60)
    finished = [e for e in run_finetune(config, paths=AppPaths.default()) if isinstance(e, FinetuneFinished)]
    return config, finished[0].report


def test_a_run_is_in_the_local_mlflow_store_with_data_metrics_artefacts_and_stage(
    folders: tuple[Path, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("mlflow", reason="MLflow is not installed (the [lab] extra): tracking is hidden")
    from mlflow.tracking import MlflowClient

    paths = AppPaths.default()
    config, report = _run(folders, "Tracked")
    uri = tracking.tracking_uri(paths)
    assert uri.startswith("file://") and Path(paths.data, "mlruns").is_dir()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["model_id"] == report.model_id == "tracked-v1" and run.data.tags["stage"] == "production"
    assert run.data.params["l2"] == str(config.l2)
    assert json.loads(run.data.params["folders"]) == [str(f) for f in folders]
    assert int(run.data.params["data.n_val"]) == report.n_val and run.data.params["data.split_by"] == "site"
    assert run.data.metrics["macro_f1"] == pytest.approx(report.metrics.macro_f1)
    losses = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.value for m in sorted(losses, key=lambda m: m.step)] == pytest.approx(list(report.epoch_losses))
    assert len(losses) == json.loads(report.report_path.read_text())["training"]["epochs"]
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"data.json", "confusion_matrix.json", "training_report.json", "pack"} <= top
    assert f"pack/{report.model_id}.onnx" in {a.path for a in client.list_artifacts(run.info.run_id, "pack")}
    data = json.loads(Path(client.download_artifacts(run.info.run_id, "data.json")).read_text())
    assert data["val_sites"] and not set(data["val_sites"]) & set(data["train_sites"])
    assert all(len(d) == 64 for d in data["decisions_sha256"].values())
    cm = json.loads(Path(client.download_artifacts(run.info.run_id, "confusion_matrix.json")).read_text())
    assert cm["rows_true_columns_predicted"] == [list(r) for r in report.metrics.confusion]
    # the registry's stage mirrored into MLflow's registered model
    mv = client.get_model_version_by_alias("tracked", "production")
    assert mv.tags["pack_id"] == "tracked-v1" and mv.tags["stage"] == "production"
    assert tracking.ui_command(paths).endswith(f"mlflow ui --backend-store-uri {uri}")
    from mlflow.telemetry.utils import is_telemetry_disabled

    assert is_telemetry_disabled(), "no telemetry: nothing leaves the computer"
    # a forced promote of a second version moves the alias
    _run(folders, "Tracked")
    assert main(["models", "promote", "tracked@2", "--force"]) == 0
    assert "Mirrored in MLflow" in capsys.readouterr().out
    assert client.get_model_version_by_alias("tracked", "production").tags["pack_id"] == "tracked-v2"


def test_without_mlflow_nothing_is_tracked_and_the_run_still_registers(
    folders: tuple[Path, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the [lab] extra were not installed
    assert not tracking.available() and "pip install 'wildlife-desktop[lab]'" in tracking.unavailable_reason()
    _, report = _run(folders, "Untracked")
    assert report.model_id == "untracked-v1" and report.pack_dir.is_dir()
    assert not Path(AppPaths.default().data, "mlruns").exists()
