"""End to end on real Caltech crops with the tiny feature classifier: register v1, v2; use the model; cancel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.tiny_onnx import tiny_yolov10
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.progress import Cancelled, CancelToken
from wildlife_desktop.pipeline.images import load_image
from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, run_job
from wildlife_desktop.runtime.manifest import ModelManifest
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune import (
    FinetuneConfig,
    FinetuneFinished,
    FinetuneProgress,
    FinetuneReport,
    FinetuneStarted,
    collect_examples,
    run_finetune,
)

LABELS = ("car", "deer", "opossum")


def finetune(config: FinetuneConfig, paths: AppPaths) -> tuple[list[object], FinetuneReport]:
    events = list(run_finetune(config, paths=paths))
    last = events[-1]
    assert isinstance(last, FinetuneFinished)
    return events, last.report


def test_finetune_registers_a_versioned_pack_that_classifies(
    verified: Path, paths: AppPaths, store: ModelStore, base: ModelManifest, tmp_path: Path
) -> None:
    config = FinetuneConfig(folders=(verified,), base_model_id=base.id, name="Caltech mammals")
    events, report = finetune(config, paths)

    started = events[0]
    assert isinstance(started, FinetuneStarted)
    assert started.labels == LABELS and started.n_examples == 14 and started.n_train + started.n_val == 14
    assert started.split_by == "sequence" and started.dropped == () and dict(started.counts)["car"] == 7
    stages = [e.stage for e in events if isinstance(e, FinetuneProgress)]
    assert stages == sorted(stages, key=["features", "training", "export"].index), "stages come in order"
    feats = [e for e in events if isinstance(e, FinetuneProgress) and e.stage == "features"]
    assert feats[-1].done == feats[-1].total == 14 and all(e.done <= 14 for e in feats)

    assert (report.model_id, report.version, report.name) == ("caltech-mammals-v1", 1, "Caltech mammals")
    assert report.labels == LABELS and report.n_train + report.n_val == 14 and report.split_by == "sequence"
    assert report.random_weights is True, "inherited from the twin-like base"
    assert report.metrics.n == report.n_val and report.metrics.labels == LABELS
    assert report.base_metrics is not None and report.base_metrics.n == report.n_val, "base labels cover these"
    assert report.quantize_note and report.pack_dir == store.root / "caltech-mammals-v1"

    m, onnx_path = store.get(report.model_id)
    assert m.version == "1" and m.labels == LABELS and m.random_weights and m.licence == base.licence
    assert m.input_size == base.input_size and m.mean == base.mean and m.std == base.std
    assert base.id in m.source_url and base.id in m.citation
    extra = m.extra_dict()
    assert extra["base_model"] == base.id and extra["base_sha256"] == base.sha256
    assert (extra["n_train"], extra["n_val"], extra["split_by"]) == (report.n_train, report.n_val, "sequence")
    assert extra["metrics"]["accuracy"] == round(report.metrics.accuracy, 4)

    doc = json.loads(report.report_path.read_text(encoding="utf-8"))
    assert report.report_path.parent == report.pack_dir
    assert doc["schema_version"] == 1 and doc["model_id"] == report.model_id and doc["random_weights"] is True
    assert "RANDOM WEIGHTS" in doc["warning"] and doc["base_model"]["id"] == base.id
    assert doc["split"]["n_val"] == report.n_val and doc["metrics"]["confusion"] == [
        list(r) for r in report.metrics.confusion
    ]
    assert doc["parity"]["passed"] and set(doc["timings_s"]) >= {"features_s", "training_s", "export_s", "total_s"}

    # the registered model is a normal classifier: it classifies a real crop
    clf = store.open_classifier(report.model_id)
    ex = next(e for e in collect_examples([verified], paths).examples if e.label == "deer")
    deer = verified / ex.rel_path
    (labels,) = clf.classify(load_image(deer).array, [ex.bbox], top_k=3)
    assert {c.label for c in labels} == set(LABELS) and abs(sum(c.confidence for c in labels) - 1) < 0.01
    assert all(ok for _, ok, _ in store.verify())

    # a second run is a new version; the first stays
    _, report2 = finetune(
        FinetuneConfig(folders=(verified,), base_model_id=base.id, name="Caltech mammals", quantize=False), paths
    )
    assert (report2.model_id, report2.version) == ("caltech-mammals-v2", 2) and not report2.quantized
    assert report2.quantize_note == "not requested"
    assert {m.id for m in store.list()} == {base.id, "caltech-mammals-v1", "caltech-mammals-v2"}

    # a fine-tuned model keeps its features output: it can be the base of another fine-tune
    _, chained = finetune(
        FinetuneConfig(folders=(verified,), base_model_id=report.model_id, name="chained", quantize=False), paths
    )
    assert chained.model_id == "chained-v1" and chained.base_metrics is not None and chained.random_weights
    assert report.model_id in store.get("chained-v1")[0].source_url

    # and the pipeline runs with it
    det = store.import_onnx(
        tiny_yolov10(tmp_path / "det.onnx"), family="yolov10", labels=("animal", "person", "vehicle")
    )
    events = list(
        run_job(
            JobConfig(folder=verified, detector_id=det.id, classifier_id=report2.model_id, checkpoint_s=3600),
            paths=paths,
        )
    )
    done = [e.prediction for e in events if isinstance(e, FileProcessed)]
    assert isinstance(events[-1], JobFinished) and events[-1].summary.failed == 0
    got = {c.label for p in done for d in p.detections for c in d.classifications}
    assert got and got <= set(LABELS)


def test_cancel_during_features_registers_nothing(
    verified: Path, paths: AppPaths, store: ModelStore, base: ModelManifest
) -> None:
    cancel = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for ev in run_finetune(
            FinetuneConfig(folders=(verified,), base_model_id=base.id, name="never"), paths=paths, cancel=cancel
        ):
            seen.append(ev)
            if isinstance(ev, FinetuneProgress) and ev.stage == "features":
                cancel.cancel()
    assert any(isinstance(e, FinetuneProgress) for e in seen)
    assert [m.id for m in store.list()] == [base.id]
    assert [p.name for p in store.root.iterdir()] == [base.id], "no temporary pack left in the store"


def test_unreadable_files_are_skipped_with_a_reason(verified: Path, paths: AppPaths, base: ModelManifest) -> None:
    car = sorted(verified.glob("car__*.jpg"))[0]
    data = car.read_bytes()
    car.write_bytes(data[: len(data) // 4])  # truncated after it was verified
    _, report = finetune(FinetuneConfig(folders=(verified,), base_model_id=base.id, name="t", quantize=False), paths)
    assert report.n_train + report.n_val == 13
    assert any(car.name in s and "corrupt" in s for s in report.skipped)


def test_too_few_verified_classes_is_a_clear_error(verified: Path, paths: AppPaths, base: ModelManifest) -> None:
    with pytest.raises(DatasetError, match=r"at least 2 species with 5 or more.*car 7, deer 4, opossum 3"):
        list(
            run_finetune(
                FinetuneConfig(folders=(verified,), base_model_id=base.id, name="t", min_per_class=5), paths=paths
            )
        )
    _, report = finetune(
        FinetuneConfig(folders=(verified,), base_model_id=base.id, name="t", min_per_class=4, quantize=False), paths
    )
    assert report.labels == ("car", "deer") and report.dropped == ("opossum",)


def test_crops_with_non_finite_features_are_skipped_not_poisoning_the_head(
    verified: Path, paths: AppPaths, base: ModelManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base model that overflows on one crop (NaN/inf features, e.g. float16) must not sink the whole run."""
    import numpy as np

    from wildlife_desktop.training.finetune import features

    original = features.FeatureExtractor.run
    calls = []

    def overflowing(self: features.FeatureExtractor, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, feats = original(self, tensor)
        if not calls:
            feats[0, 0], logits[0, 0] = np.nan, np.inf  # the first crop only
        calls.append(len(tensor))
        return logits, feats

    monkeypatch.setattr(features.FeatureExtractor, "run", overflowing)
    _, report = finetune(
        FinetuneConfig(folders=(verified,), base_model_id=base.id, name="nan", flip_augment=False, quantize=False),
        paths,
    )
    assert report.n_train + report.n_val == 13
    assert any("non-finite" in s for s in report.skipped)
    assert json.loads(report.report_path.read_text())["schema_version"] == 1


@pytest.mark.parametrize("same_model", [False, True])
def test_two_overlapping_runs_of_one_name_get_two_versions(
    verified: Path, paths: AppPaths, store: ModelStore, base: ModelManifest, same_model: bool
) -> None:
    """GUI and CLI fine-tuning at once ("Kafue 2026" and "kafue-2026" slug alike): nobody's pack is lost or replaced."""
    first = run_finetune(
        FinetuneConfig(folders=(verified,), base_model_id=base.id, name="Kafue 2026", quantize=False), paths=paths
    )
    for ev in first:  # the first run is exporting when the second one starts
        if isinstance(ev, FinetuneProgress) and ev.stage == "export":
            break
    _, second = finetune(
        FinetuneConfig(
            folders=(verified,), base_model_id=base.id, name="kafue-2026", quantize=False, seed=0 if same_model else 5
        ),
        paths,
    )
    events = list(first)
    assert isinstance(events[-1], FinetuneFinished)
    assert {second.model_id, events[-1].report.model_id} == {"kafue-2026-v1", "kafue-2026-v2"}
    for r in (second, events[-1].report):
        doc = json.loads(r.report_path.read_text(encoding="utf-8"))
        assert doc["model_id"] == r.model_id and doc["name"] == r.name
        assert store.get(r.model_id)[0].name == r.name
