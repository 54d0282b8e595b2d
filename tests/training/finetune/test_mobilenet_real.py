"""MobileNetV2 ImageNet (real weights) as the app's classifier and as the fine-tuning base, on real crops.

The figures here rest on a few dozen sample crops: they are computed and compared with chance
and with the nearest-centroid baseline, never asserted to a tuned value.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest import SHARED
from tests.training.finetune.real_samples import (
    COARSE,
    DATASETS,
    features_of,
    leave_one_site_out,
    verified_folder,
    verified_folders,
)
from wildlife_desktop.cli import main
from wildlife_desktop.core.errors import ModelPackError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.images import load_image
from wildlife_desktop.pipeline.results import load_results
from wildlife_desktop.runtime.manifest import ModelManifest
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune import FinetuneConfig, FinetuneFinished, FinetuneStarted, run_finetune
from wildlife_desktop.training.finetune.dataset import collect_examples
from wildlife_desktop.training.finetune.export import model_outputs
from wildlife_desktop.training.finetune.features import crops_to_tensor, cut_crops, open_base
from wildlife_desktop.training.finetune.graph import head_weights
from wildlife_desktop.training.finetune.registry import default_base_id
from wildlife_desktop.training.finetune.splits import split_examples
from wildlife_desktop.training.packs.mobilenet import MODEL_ID, MODEL_NAME, ONNX_NAME, install_mobilenet

SOURCE = SHARED / "models" / "real" / "mobilenet_v2_imagenet"


@pytest.fixture
def mobilenet(store: ModelStore) -> ModelManifest:
    if not (SOURCE / ONNX_NAME).is_file():
        pytest.fail(f"the real MobileNetV2 is missing: expected {SOURCE / ONNX_NAME}")
    return install_mobilenet(store, SOURCE, notify=lambda _line: None)


def test_mobilenet_installs_and_classifies_real_crops_sensibly(
    mobilenet: ModelManifest, store: ModelStore, paths: AppPaths, tmp_path: Path
) -> None:
    m = mobilenet
    assert (m.id, m.name, m.family, m.licence, m.random_weights) == (MODEL_ID, MODEL_NAME, "classifier",
                                                                     "Apache-2.0", False)
    assert (m.input_size, m.input_layout, m.input_dtype, m.normalisation) == (224, "nhwc", "uint8", "raw")
    assert m.output_kind == "probabilities" and m.output == "MobilenetV2/Predictions/Softmax"
    assert len(m.labels) == 1001 and m.labels[0] == "background" and "crane [135]" in m.labels
    assert m.extra_dict()["features_output"] == "MobilenetV2/Logits/AvgPool_prequant"
    assert default_base_id(store) == MODEL_ID, "the default fine-tuning base once installed"

    # the app's classifier on the real MegaDetector v6 box of two labelled Caltech images
    folder, n = verified_folder(tmp_path, paths, "caltech_cct")
    res = load_results(folder, paths)
    assert res is not None and n > 10
    clf = store.open_classifier(MODEL_ID)
    for prefix, imagenet in (("coyote", "coyote"), ("skunk", "skunk")):
        rel = next(r for r in res.predictions if r.startswith(prefix + "__"))
        top = max(res.predictions[rel].detections, key=lambda d: d.confidence)
        got = clf.classify(load_image(folder / rel, target=640).array, [top.bbox], top_k=3)[0]
        assert got[0].label.split(",")[0] == imagenet, got
        assert 0.3 < got[0].confidence <= 1.0 and sum(c.confidence for c in got) <= 1.0 + 1e-3, "renormalised"

    # a damaged or different file is refused, nothing installed
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / ONNX_NAME).write_bytes(b"not the model")
    shutil.copy2(SOURCE / "imagenet_labels.txt", bad / "imagenet_labels.txt")
    store.remove(MODEL_ID)
    with pytest.raises(ModelPackError, match="not the expected file"):
        install_mobilenet(store, bad, notify=lambda _line: None)
    assert MODEL_ID not in {x.id for x in store.list()}
    with pytest.raises(ModelPackError, match="not found"):
        install_mobilenet(store, tmp_path / "nowhere", notify=lambda _line: None)


def test_finetune_on_mobilenet_features_of_real_crops_split_by_site(
    mobilenet: ModelManifest, store: ModelStore, paths: AppPaths, tmp_path: Path
) -> None:
    """The app's own run on real crops of four sample folders (coarse labels), sites kept apart."""
    folders = verified_folders(tmp_path / "data", paths, list(DATASETS), label_map=COARSE)
    config = FinetuneConfig(folders=tuple(folders), base_model_id=default_base_id(store) or "", name="Real samples",
                            quantize=False)
    events = list(run_finetune(config, paths=paths))
    started, finished = events[0], events[-1]
    assert isinstance(started, FinetuneStarted) and isinstance(finished, FinetuneFinished)
    assert started.split_by == "site" and started.n_val > 0
    r = finished.report
    assert r.base_model_id == MODEL_ID and not r.random_weights
    assert r.metrics.n == r.n_val and r.centroid_metrics is not None and r.centroid_metrics.n == r.n_val
    assert 0.0 <= r.metrics.accuracy <= 1.0 and 0.0 <= r.centroid_metrics.accuracy <= 1.0
    assert r.base_metrics is None, "ImageNet has no 'carnivore' class: no base comparison is made up"

    # the split kept every site on one side
    doc = json.loads(r.report_path.read_text(encoding="utf-8"))
    ex = [e for e in collect_examples(folders, paths).examples if e.label in r.labels]
    split = split_examples(ex, val_fraction=config.val_fraction, mode=config.split, seed=config.seed)
    assert (len(split.train), len(split.val)) == (r.n_train, r.n_val)
    assert not {ex[i].site for i in split.train} & {ex[i].site for i in split.val}
    assert doc["split"]["by"] == "site" and doc["centroid_metrics"]["accuracy"] == r.centroid_metrics.accuracy
    # the new pack: the base's input fields, the new head's logits
    m, onnx_path = store.get(r.model_id)
    assert (m.input_layout, m.input_dtype, m.normalisation, m.input_size) == ("nhwc", "uint8", "raw", 224)
    assert (m.output, m.output_kind, m.random_weights, m.licence) == ("logits", "logits", False, "Apache-2.0")

    # parity: the exported pack's logits are the numpy head on the base model's features of the same crops
    base = open_base(store, MODEL_ID)
    sample = [e for e in ex if e.label in r.labels][:4]
    crops = np.concatenate([cut_crops(e.path, [e.bbox], None, 224, video=False) for e in sample])
    tensor = crops_to_tensor(crops, base.spec)
    assert tensor.dtype == np.uint8 and tensor.shape == (4, 224, 224, 3)
    base_feats = features_of(sample, base, tmp_path, flip=False).features
    assert base_feats.shape == (4, 1280)
    logits, feats = model_outputs(onnx_path, tensor)
    w, b = head_weights(onnx.load(str(onnx_path)))
    np.testing.assert_allclose(feats, base_feats, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, base_feats @ w + b, rtol=1e-4, atol=1e-4)
    # and the runtime classifier runs it on a real crop with the inherited input description
    got = store.open_classifier(r.model_id).classify(load_image(sample[0].path, target=640).array, [sample[0].bbox])
    assert got[0][0].label in r.labels


def test_head_beats_chance_leave_one_site_out_next_to_nearest_centroid(
    mobilenet: ModelManifest, store: ModelStore, paths: AppPaths, tmp_path: Path
) -> None:
    """Every site held out once (Caltech has no site information: its folder is one site)."""
    folders = verified_folders(tmp_path / "data", paths, list(DATASETS), label_map=COARSE)
    ex = collect_examples(folders, paths).examples
    labels = sorted({e.label for e in ex})
    fs = features_of(ex, open_base(store, MODEL_ID), tmp_path)
    assert fs.ok is not None and fs.ok.all() and fs.features.shape == (len(ex), 1280)
    y = np.array([labels.index(e.label) for e in ex])
    cv = leave_one_site_out(fs.features, fs.flipped, y, [e.site for e in ex], labels)
    assert cv.folds >= 5 and cv.head.n == cv.centroid.n == cv.majority.n == len(ex) - cv.unseen
    chance = max(1.0 / len(labels), cv.stratified_chance)
    assert cv.head.accuracy > chance, (cv.head.summary(), chance)
    assert cv.head.macro_f1 > cv.majority.macro_f1, (cv.head.summary(), cv.majority.summary())


def test_cli_train_without_base_uses_mobilenet_or_says_what_to_install(
    store: ModelStore, paths: AppPaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = verified_folder(tmp_path, paths, "caltech_cct")
    assert main(["train", str(folder), "--name", "x", "--no-quantize"]) == 2
    assert "No fine-tuning base installed" in capsys.readouterr().err
    install_mobilenet(store, SOURCE, notify=lambda _line: None)
    assert main(["train", str(folder), "--name", "Caltech", "--max-epochs", "50"]) == 0
    out, err = capsys.readouterr()
    # int8 only under the agreement rule, whatever it decided on these few crops
    report = json.loads((store.root / "caltech-v1" / "training_report.json").read_text(encoding="utf-8"))
    q = report["quantization"]
    assert q["requested"] and (not q["kept"] or q["agreement"] >= 0.98)
    assert f"int8: {'yes' if q['kept'] else 'no'}" in out
    assert f"Base model: {MODEL_NAME} ({MODEL_ID})" in err
    assert "new head vs nearest centroid vs base model" in out and "nearest centroid: accuracy" in out
    assert "Registered caltech-v1" in out and "RANDOM WEIGHTS" not in err
