"""ONNX export of the head: parity with numpy, exposing features of a model without them, int8 verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from tests.fixtures.tiny_classifier import tiny_feature_classifier
from tests.fixtures.tiny_onnx import tiny_classifier
from wildlife_desktop.core.errors import ModelLoadError
from wildlife_desktop.runtime.classifier import Classifier
from wildlife_desktop.runtime.store import ModelStore
from wildlife_desktop.training.finetune.export import (
    agreement_verdict,
    check_parity,
    export_model,
    model_outputs,
    quantize_head_model,
)
from wildlife_desktop.training.finetune.features import FeatureExtractor, open_base
from wildlife_desktop.training.finetune.graph import find_features, head_weights
from wildlife_desktop.training.finetune.head import LinearHead

LABELS = ("car", "deer", "opossum")


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 3, size, size)).astype(np.float32)


def _head(d: int, c: int, seed: int = 1) -> LinearHead:
    rng = np.random.default_rng(seed)
    return LinearHead(weight=rng.normal(0, 1, (d, c)), bias=rng.normal(0, 1, c))


def without_features_output(src: Path, dst: Path, *, softmax: bool = False) -> Path:
    """The tiny classifier with only its logits output and the embedding renamed (a typical export)."""
    model = onnx.load(str(src))
    for node in model.graph.node:
        node.input[:] = ["emb" if i == "features" else i for i in node.input]
        node.output[:] = ["emb" if o == "features" else o for o in node.output]
    del model.graph.output[1]
    if softmax:
        for node in model.graph.node:
            node.output[:] = ["raw" if o == "logits" else o for o in node.output]
        model.graph.node.append(helper.make_node("Softmax", ["raw"], ["logits"], axis=1))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


def test_exported_logits_match_the_numpy_head(store: ModelStore, base: object, tmp_path: Path) -> None:
    b = open_base(store, "tiny-features")
    assert b.tap.is_output and b.tap.features == "features"
    ext = FeatureExtractor(b, tmp_path)
    crops = _crops(20)
    base_logits, feats = ext.run(crops)
    assert base_logits.shape == (20, 3) and feats.shape == (20, 16)
    head = _head(16, 4)
    path = export_model(b, head, tmp_path / "ft.onnx", {"finetuned_from": "tiny-features"})
    logits, feats2 = model_outputs(path, crops)
    np.testing.assert_allclose(feats2, feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, head.logits(feats), rtol=1e-4, atol=1e-4)
    parity = check_parity(path, crops[:8], head, feats[:8])
    assert parity.passed and parity.n == 8 and parity.max_abs_diff < 1e-4
    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == ["logits", "features"]
    assert {p.key: p.value for p in model.metadata_props}["finetuned_from"] == "tiny-features"
    w, bias = head_weights(model)
    np.testing.assert_allclose(w, head.weight, rtol=1e-6)
    assert not any(i.name.startswith("fc2") for i in model.graph.initializer), "the old head is pruned"


def test_a_base_without_features_output_gets_its_embedding_exposed(store: ModelStore, tmp_path: Path) -> None:
    src = tiny_feature_classifier(tmp_path / "full.onnx", LABELS)
    for softmax in (False, True):
        path = without_features_output(src, tmp_path / f"plain{softmax}.onnx", softmax=softmax)
        m = store.import_onnx(path, family="classifier", labels=LABELS, input_size=32, model_id=f"plain-{softmax}")
        b = open_base(store, m.id)
        assert not b.tap.is_output and b.tap.features == "emb"
        crops = _crops(5)
        _, feats = FeatureExtractor(b, tmp_path).run(crops)
        assert feats.shape == (5, 16)
        head = _head(16, 2)
        out = export_model(b, head, tmp_path / f"ft{softmax}.onnx")
        logits, feats2 = model_outputs(out, crops)
        np.testing.assert_allclose(logits, head.logits(feats), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(feats2, feats, rtol=1e-5, atol=1e-6)
        # the runtime's Classifier accepts the export (first output = logits [N, 2])
        from wildlife_desktop.runtime.manifest import ModelManifest

        man = ModelManifest(
            id="x",
            version="1",
            name="x",
            family="classifier",
            task="classification",
            file=out.name,
            sha256="0" * 64,
            input_size=32,
            labels=("a", "b"),
        )
        got = Classifier(man, out).logits(crops)
        np.testing.assert_allclose(got, logits, rtol=1e-5, atol=1e-5)


def test_a_base_without_a_dense_head_is_refused_clearly(store: ModelStore, tmp_path: Path) -> None:
    m = store.import_onnx(
        tiny_classifier(tmp_path / "means.onnx"),
        family="classifier",
        labels=("r", "g", "b"),
        input_size=32,
        model_id="channel-means",
    )
    with pytest.raises(ModelLoadError, match="cannot be fine-tuned.*'features'"):
        open_base(store, m.id)
    with pytest.raises(ModelLoadError, match="cannot be fine-tuned"):
        find_features(onnx.load(str(tmp_path / "means.onnx")))


def test_agreement_verdict() -> None:
    keep, agree, why = agreement_verdict(np.zeros(100), np.r_[np.zeros(98), np.ones(2)])
    assert keep and agree == pytest.approx(0.98) and "98.0%" in why
    keep, agree, why = agreement_verdict(np.zeros(100), np.r_[np.zeros(97), np.ones(3)])
    assert not keep and agree == pytest.approx(0.97) and "kept fp32" in why
    assert agreement_verdict(np.zeros(0), np.zeros(0))[0] is False


def test_int8_is_kept_only_when_it_agrees(store: ModelStore, base: object, tmp_path: Path) -> None:
    b = open_base(store, "tiny-features")
    ext = FeatureExtractor(b, tmp_path)
    crops = _crops(24, seed=5)
    _, feats = ext.run(crops)
    head = _head(16, 3, seed=2)
    fp32 = export_model(b, head, tmp_path / "ft.onnx")
    ref = head.logits(feats[16:])
    q = quantize_head_model(fp32, tmp_path / "int8.onnx", crops[:16], crops[16:], ref)
    assert q.agreement is not None and q.int8_ms is not None and q.fp32_ms is not None
    assert q.kept == (q.agreement >= 0.98) and "ms/crop int8" in q.note
    if q.kept:
        assert q.int8_logits is not None and q.int8_logits.shape == (8, 3)
        assert any(n.op_type == "QuantizeLinear" for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node)
    # a reference the int8 model cannot agree with: fp32 is kept and the reason recorded
    wrong = np.roll(np.eye(3)[np.argmax(ref, axis=1)], 1, axis=1)
    q2 = quantize_head_model(fp32, tmp_path / "int8b.onnx", crops[:16], crops[16:], wrong)
    assert not q2.kept and q2.int8_logits is None and "kept fp32" in q2.note and q2.agreement == 0.0
    q3 = quantize_head_model(fp32, tmp_path / "int8c.onnx", crops[:0], crops[16:], ref)
    assert not q3.kept and "calibrate" in q3.note


def test_features_named_in_the_manifest_are_found_exposed_and_flattened(store: ModelStore, tmp_path: Path) -> None:
    """A pack may name its feature tensor (``extra.features_output``), e.g. a pooled ``[N, D, 1, 1]`` one."""
    src = without_features_output(tiny_feature_classifier(tmp_path / "full.onnx", LABELS), tmp_path / "plain.onnx")
    model = onnx.load(str(src))
    tap = find_features(model, "x", features="pool")  # GlobalAveragePool: [N, 8, 1, 1]
    assert (tap.features, tap.is_output, tap.logits) == ("pool", False, "logits")
    with pytest.raises(ModelLoadError, match="names features 'nope'"):
        find_features(model, "x", features="nope")
    with pytest.raises(ModelLoadError, match="reads output 'probs'"):
        find_features(model, "x", output="probs")
    m = store.import_onnx(src, family="classifier", labels=LABELS, input_size=32, model_id="pooled")
    manifest_path = store.root / m.id / "manifest.json"
    doc = json.loads(manifest_path.read_text(encoding="utf-8"))
    doc["extra"] = {"features_output": "pool"}
    manifest_path.write_text(json.dumps(doc), encoding="utf-8")
    b = open_base(store, m.id)
    assert b.tap.features == "pool" and not b.tap.is_output
    crops = _crops(3)
    _, feats = FeatureExtractor(b, tmp_path).run(crops)
    assert feats.shape == (3, 8), "pooled features flattened per crop"
    head = _head(8, 2)
    logits, feats2 = model_outputs(export_model(b, head, tmp_path / "ft.onnx"), crops)
    np.testing.assert_allclose(feats2, feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, head.logits(feats), rtol=1e-4, atol=1e-4)


def test_a_head_with_a_hidden_layer_exports_as_gemm_relu_gemm_with_parity(
    store: ModelStore, base: object, tmp_path: Path
) -> None:
    """Two Gemms and a Relu on the frozen features; ONNX logits equal the numpy head's (the hidden layer
    matters: some units are cut by the Relu); int8 leaves the head float, the rule as for a linear head."""
    from wildlife_desktop.training.finetune.graph import hidden_weights
    from wildlife_desktop.training.finetune.head import Head

    b = open_base(store, "tiny-features")
    crops = _crops(24, seed=7)
    _, feats = FeatureExtractor(b, tmp_path).run(crops)
    rng = np.random.default_rng(4)
    head = Head(weight=rng.normal(0, 1, (32, 3)), bias=rng.normal(0, 1, 3),
                hidden_weight=rng.normal(0, 1, (16, 32)), hidden_bias=rng.normal(0, 1, 32))
    pre = feats.astype(np.float64) @ head.hidden_weight + head.hidden_bias
    assert (pre < 0).any() and (pre > 0).any(), "the Relu cuts some units and passes others"
    assert head.hidden_units == 32 and head.n_features == 16 and head.n_classes == 3
    path = export_model(b, head, tmp_path / "mlp.onnx")
    model = onnx.load(str(path))
    tail = [n.op_type for n in model.graph.node if n.name.startswith("wd_finetune")]
    assert tail == ["Gemm", "Relu", "Gemm"]
    logits, _ = model_outputs(path, crops)
    np.testing.assert_allclose(logits, head.logits(feats), rtol=1e-4, atol=1e-4)
    no_relu = Head(weight=head.hidden_weight @ head.weight, bias=head.hidden_bias @ head.weight + head.bias)
    assert not np.allclose(no_relu.logits(feats), logits, atol=1e-2), "the Relu is in the graph"
    assert check_parity(path, crops[:8], head, feats[:8]).passed
    hw, hb = hidden_weights(model)
    np.testing.assert_allclose(hw, head.hidden_weight, rtol=1e-6)
    np.testing.assert_allclose(head_weights(model)[0], head.weight, rtol=1e-6)
    assert hidden_weights(onnx.load(str(export_model(b, _head(16, 3), tmp_path / "lin.onnx")))) is None
    with pytest.raises(Exception, match="does not reproduce"):  # a wrong numpy head fails the parity check
        check_parity(path, crops[:8], Head(head.weight, head.bias, head.hidden_weight, -head.hidden_bias), feats[:8])
    q = quantize_head_model(path, tmp_path / "mlp.int8.onnx", crops[:16], crops[16:], head.logits(feats[16:]))
    assert q.kept == (q.agreement is not None and q.agreement >= 0.98)
    if q.agreement is not None:
        int8 = onnx.load(str(tmp_path / "mlp.int8.onnx"))
        quantized_inputs = {i for n in int8.graph.node if n.op_type == "DequantizeLinear" for i in n.output}
        head_nodes = [n for n in int8.graph.node if n.name.startswith("wd_finetune")]
        assert [n.op_type for n in head_nodes] == ["Gemm", "Relu", "Gemm"]
        assert not any(i in quantized_inputs for n in head_nodes for i in n.input[1:]), "the head stays float"
