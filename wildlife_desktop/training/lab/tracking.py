"""Experiment tracking with MLflow (the optional ``[lab]`` extra): every fine-tune run, on this computer.

When ``mlflow`` (``mlflow-skinny``) is installed, :func:`log_finetune` records a finished run in
a local store inside the app's data folder (``<data>/mlruns``, a ``file:`` URI; nothing leaves
the computer: telemetry is switched off before MLflow is imported): the parameters (the run's
configuration), the data used (verified crops per label, camera sites per split, the sha256 of
each folder's decisions file), the validation loss per epoch, the final metrics, and as
artefacts the confusion matrix, the training report, the configuration and the ONNX pack. The
pack is registered as a version of an MLflow registered model of the same name, and the stages
of :mod:`runtime.stages` are mirrored there (:func:`mirror_stages`: a ``stage`` tag per version and
a ``production`` alias). Our registry stays the one that counts; the field app never needs MLflow.

See them with ``mlflow ui --backend-store-uri file://<data>/mlruns`` (:func:`ui_command`; the UI needs the
full ``mlflow`` package: ``mlflow-skinny`` records but has no web UI).
``WILDLIFE_DESKTOP_TRACKING=off`` turns tracking off. MLflow's file store is in "maintenance mode"
since MLflow 3.7; ``MLFLOW_ALLOW_FILE_STORE`` opts into it (a database backend would need a
server-side schema migration on first use: seconds on a laptop, and nothing gained here).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...core.paths import AppPaths

logger = logging.getLogger(__name__)

EXPERIMENT = "wildlife-desktop fine-tuning"
SEARCH_EXPERIMENT = "wildlife-desktop hyper-parameter search"
#: Set before MLflow is imported: no telemetry, the local file store allowed.
_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_ALLOW_FILE_STORE": "true",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}


def available() -> bool:
    """MLflow is installed and tracking is not switched off (``WILDLIFE_DESKTOP_TRACKING=off``)."""
    if os.environ.get("WILDLIFE_DESKTOP_TRACKING", "").strip().lower() in ("0", "off", "false", "no"):
        return False
    return importlib.util.find_spec("mlflow") is not None


def unavailable_reason() -> str:
    if importlib.util.find_spec("mlflow") is None:
        return "Experiment tracking needs MLflow: pip install 'wildlife-desktop[lab]'."
    return "Experiment tracking is switched off (WILDLIFE_DESKTOP_TRACKING)."


def tracking_uri(paths: AppPaths) -> str:
    """The local store: ``<data>/mlruns`` as a ``file:`` URI."""
    return (Path(paths.data) / "mlruns").resolve().as_uri()


def ui_command(paths: AppPaths) -> str:
    return f"MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {tracking_uri(paths)}"


@contextlib.contextmanager
def _mlflow(paths: AppPaths) -> Iterator[Any]:
    """MLflow, pointed at the local store, its own warnings kept to itself (pyproject makes ours errors)."""
    for k, v in _ENV.items():
        os.environ[k] = v
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri(paths)
    Path(paths.data, "mlruns").mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        import mlflow

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        mlflow.set_tracking_uri(tracking_uri(paths))
        mlflow.set_registry_uri(tracking_uri(paths))
        yield mlflow


def decisions_digests(folders: Sequence[Path], paths: AppPaths) -> dict[str, str]:
    """sha256 of each folder's decisions file (the data a run saw), keyed by folder."""
    from ...formats.decisions import decisions_path
    from ...pipeline.journal import Workspace

    out = {}
    for folder in folders:
        ws = Workspace.locate(Path(folder), paths, create=False)
        path = decisions_path(ws.state_dir) if ws is not None else None
        if path is not None and path.is_file():
            out[str(folder)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(folder)] = "none"
    return out


def _params(config_dict: Mapping[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, (list, dict)) else str(v) for k, v in config_dict.items()}


def log_finetune(paths: AppPaths, report: Any, config: Any) -> str | None:
    """Record a finished fine-tune (see the module docstring); returns the MLflow run id, ``None`` when
    tracking is not available. Never raises for a tracking problem: the run stays registered, the
    problem is logged."""
    if not available():
        return None
    try:
        return _log_finetune(paths, report, config)
    except Exception:  # noqa: BLE001 - tracking must never fail a finished, registered run
        logger.exception("could not record the run in MLflow")
        return None


def _log_finetune(paths: AppPaths, report: Any, config: Any) -> str:
    doc = json.loads(Path(report.report_path).read_text(encoding="utf-8"))
    pack = Path(report.pack_dir)
    name = report.model_id.rsplit("-v", 1)[0]
    with _mlflow(paths) as mlflow:
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name=report.model_id) as run:
            mlflow.set_tags({"model_id": report.model_id, "base_model": report.base_model_id, "stage": report.stage,
                             "app": "wildlife-desktop"})
            mlflow.log_params(_params(config.to_dict()))
            split = doc.get("split", {})
            data = {
                "verified_crops_per_label": doc.get("dataset", {}).get("verified_crops_per_label", {}),
                "labels": list(report.labels),
                "train_sites": split.get("train_sites", []),
                "val_sites": split.get("val_sites", []),
                "split_by": report.split_by,
                "decisions_sha256": decisions_digests(config.folders, paths),
            }
            mlflow.log_params({"data.n_train": report.n_train, "data.n_val": report.n_val,
                               "data.split_by": report.split_by,
                               "data.sites_train": len(data["train_sites"]), "data.sites_val": len(data["val_sites"])})
            for folder, digest in data["decisions_sha256"].items():
                mlflow.set_tag(f"decisions_sha256.{Path(folder).name}", digest)
            for step, loss in enumerate(report.epoch_losses, start=1):
                mlflow.log_metric("val_loss", float(loss), step=step)
            m = report.metrics
            metrics = {"accuracy": m.accuracy, "macro_f1": m.macro_f1}
            metrics.update({f"f1.{c.label}": c.f1 for c in m.per_class})
            if report.centroid_metrics is not None:
                metrics["centroid_accuracy"] = report.centroid_metrics.accuracy
                metrics["centroid_macro_f1"] = report.centroid_metrics.macro_f1
            fit = getattr(report, "final_fit", None)
            if fit:  # refit="all": the shipped head saw every crop; its estimate is the cross-validated one
                metrics["final_cv_macro_f1"] = fit["cv_macro_f1"]
                mlflow.set_tag("final_fit", f"refitted on all {fit['n_crops']} crops")
            mlflow.log_metrics({k.replace(" ", "_"): float(v) for k, v in metrics.items()})
            mlflow.log_dict(data, "data.json")
            mlflow.log_dict({"labels": list(m.labels), "rows_true_columns_predicted": [list(r) for r in m.confusion]},
                            "confusion_matrix.json")
            mlflow.log_artifact(str(report.report_path))
            mlflow.log_artifacts(str(pack), "pack")
            client = mlflow.MlflowClient()
            with contextlib.suppress(Exception):
                client.create_registered_model(name)
            mv = client.create_model_version(name, f"{run.info.artifact_uri}/pack", run_id=run.info.run_id,
                                             tags={"pack_id": report.model_id})
            client.set_model_version_tag(name, mv.version, "stage", report.stage)
            run_id = run.info.run_id
    mirror_stages(paths, name)
    return str(run_id)


def mirror_stages(paths: AppPaths, name: str) -> bool:
    """Copy the stages of ``name``'s versions (runtime.stages) to its MLflow registered model: a ``stage``
    tag per version and the ``production`` alias. ``False`` when MLflow is not available or has no such model."""
    if not available():
        return False
    from ...runtime import stages
    from ...runtime.store import ModelStore

    store = ModelStore(paths)
    installed = [m.id for m in store.list()]
    reg = stages.load_registry(store.root)
    try:
        with _mlflow(paths) as mlflow:
            client = mlflow.MlflowClient()
            versions = client.search_model_versions(f"name='{name}'")
            for mv in versions:
                pack_id = mv.tags.get("pack_id", "")
                stage = reg.stage(pack_id) if pack_id in installed or pack_id in reg.stages else "none"
                client.set_model_version_tag(name, mv.version, "stage", stage)
                if stage == "production":
                    client.set_registered_model_alias(name, "production", mv.version)
            return bool(versions)
    except Exception:  # noqa: BLE001 - a mirror: our registry is the one that counts
        logger.exception("could not mirror the stages of %s into MLflow", name)
        return False


def log_search(paths: AppPaths, name: str, trials: Sequence[Mapping[str, Any]], best: Mapping[str, Any]) -> str | None:
    """One parent run per search with a nested run per trial (its parameters and CV objective)."""
    if not available():
        return None
    try:
        with _mlflow(paths) as mlflow:
            mlflow.set_experiment(SEARCH_EXPERIMENT)
            with mlflow.start_run(run_name=f"search {name}") as parent:
                mlflow.log_params({f"best.{k}": str(v) for k, v in best.items()})
                for t in trials:
                    with mlflow.start_run(run_name=f"trial {t['number']}", nested=True):
                        mlflow.log_params({k: str(v) for k, v in t["params"].items()})
                        mlflow.log_metric("cv_macro_f1", float(t["value"]))
                best_value = max((float(t["value"]) for t in trials), default=0.0)
                mlflow.log_metric("best_cv_macro_f1", best_value)
                return str(parent.info.run_id)
    except Exception:  # noqa: BLE001 - tracking must never fail the search
        logger.exception("could not record the search in MLflow")
        return None
