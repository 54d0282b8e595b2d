"""Manifest validation and JSON round trip; the family registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildlife_desktop.core.errors import ModelPackError
from wildlife_desktop.runtime import (
    FAMILIES,
    MANIFEST_SCHEMA_VERSION,
    ModelManifest,
    load_manifest,
    manifest_to_dict,
    save_manifest,
)

from .conftest import DET_LABELS


def _good(**kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "md-v6-yolov10-c", "version": "6.0", "name": "MDV6 yolov10 c", "family": "yolov10",
        "task": "detection", "file": "model.onnx", "sha256": "ab" * 32, "input_size": 640,
        "labels": list(DET_LABELS),
    }
    data.update(kw)
    return data


def test_round_trip_through_json(tmp_path: Path) -> None:
    m = ModelManifest(**_good(labels=DET_LABELS, extra={"b": [1, 2], "a": "x"}, letterbox="classic",
                              stride=64, random_weights=True))  # type: ignore[arg-type]
    save_manifest(tmp_path / "manifest.json", m)
    raw = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert raw["labels"] == list(DET_LABELS) and raw["extra"] == {"a": "x", "b": [1, 2]}
    assert raw["schema_version"] == MANIFEST_SCHEMA_VERSION == 2
    back = load_manifest(tmp_path / "manifest.json")
    assert back == m
    assert back.extra_dict() == {"a": "x", "b": [1, 2]}
    assert manifest_to_dict(back) == raw


def test_defaults() -> None:
    m = ModelManifest(**_good())  # type: ignore[arg-type]
    assert (m.typical_threshold, m.conservative_threshold, m.nms_iou, m.stride) == (0.2, 0.05, 0.45, 32)
    assert m.mean == (0.485, 0.456, 0.406) and m.std == (0.229, 0.224, 0.225)
    assert m.letterbox is None and m.random_weights is False and m.labels == DET_LABELS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"family": "yolov99"}, "unknown model family 'yolov99'"),
        ({"labels": []}, "labels must be a non-empty"),
        ({"labels": ["a", "a"]}, "duplicates"),
        ({"task": "classification"}, "does not match family"),
        ({"sha256": "xyz"}, "sha256"),
        ({"input_size": 0}, "input_size"),
        ({"file": "../evil.onnx"}, "plain file name"),
        ({"id": "../x"}, "invalid id"),
        ({"letterbox": "round"}, "letterbox"),
        ({"nms_iou": 1.5}, "nms_iou"),
        ({"schema_version": 3}, "schema version 3"),
        ({"input_layout": "chw"}, "input_layout must be one of"),
        ({"channel_order": "grb"}, "channel_order must be one of"),
        ({"normalisation": "zscore"}, "normalisation must be one of"),
        ({"input_dtype": "int64"}, "input_dtype must be one of"),
        ({"pad_value": 256}, "pad_value must be an integer"),
        ({"resize_filter": "lanczos"}, "resize_filter must be one of"),
        ({"output_kind": "scores"}, "output_kind must be one of"),
        ({"colour": "red"}, "unknown keys: colour"),
    ],
)
def test_invalid_manifests_are_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(_good(**change)), encoding="utf-8")
    with pytest.raises(ModelPackError, match=message.replace("(", r"\(")):
        load_manifest(tmp_path / "manifest.json")


def test_missing_keys_and_bad_json(tmp_path: Path) -> None:
    data = _good()
    del data["sha256"]
    (tmp_path / "a.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelPackError, match="missing: sha256"):
        load_manifest(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelPackError, match="not valid JSON"):
        load_manifest(tmp_path / "b.json")
    with pytest.raises(ModelPackError, match="Cannot read"):
        load_manifest(tmp_path / "missing.json")


def test_family_registry_is_data() -> None:
    assert {"yolov5", "yolov8", "yolov10", "rtdetr", "yolox", "nanodet", "composite", "classifier"} <= set(FAMILIES)
    assert {"yolov5", "yolov8", "yolox", "nanodet"} <= {n for n, s in FAMILIES.items() if s.needs_nms}
    assert {"yolov10", "rtdetr", "classifier"}.isdisjoint({n for n, s in FAMILIES.items() if s.needs_nms})
    assert FAMILIES["classifier"].task == "classification" and FAMILIES["classifier"].decoder is None
    onnx_detectors = [s for s in FAMILIES.values() if s.task == "detection" and s.file_kind == "onnx"]
    assert all(s.decoder is not None for s in onnx_detectors)
    # a composite runs other packs: no decoder, no ONNX output of its own
    assert FAMILIES["composite"].file_kind == "composite" and FAMILIES["composite"].decoder is None
    assert FAMILIES["composite"].check_output((1, 10, 6), 3) is not None
    # NanoDet reads all six outputs, matched by shape whatever their order
    grid = FAMILIES["nanodet"].outputs
    assert grid is not None and all(s.outputs is None for s in onnx_detectors if s.name != "nanodet")
    shapes = [(1, 169, 80), (1, 169, 44), (1, 676, 80), (1, 2704, 80), (1, 676, 44), (1, 2704, 44)]
    assert grid.match(shapes, 80, (416, 416)) == (3, 5, 2, 4, 0, 1)
    problem = grid.match(shapes[:-1], 80, (416, 416))
    assert isinstance(problem, str) and "[1, 2704, 44]" in problem and "stride 8" in problem
    assert isinstance(grid.match(shapes, 79, (416, 416)), str)  # scores must have one column per label
    assert FAMILIES["yolov8"].check_output((1, 7, 8400), 3) is None
    assert FAMILIES["yolov8"].check_output((1, 8, 8400), 3) is not None
    assert FAMILIES["classifier"].check_output(("N", 1), 2) is None
    assert FAMILIES["classifier"].check_output(("N", 1), 1) is not None
