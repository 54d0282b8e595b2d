"""The model catalogue: complete, consistent with the manifest rules, and honest about what is unverified."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from wildlife_desktop.core.errors import ModelPackError
from wildlife_desktop.runtime.catalogue import load_catalogue, parse_catalogue
from wildlife_desktop.runtime.manifest import DETECTOR_LABELS

REQUIRED = ("mdv5a", "mdv5b", "mdv6-mit-yolov9-c", "mdv6-apa-rtdetr-c", "mdv6-yolov10-c", "mdv6-yolov9-c",
            "mdv1000-redwood", "mdv1000-spruce", "ai4g-amazon-v2", "ai4g-serengeti", "ai4g-opossum")


def _raw() -> dict:
    res = resources.files("wildlife_desktop").joinpath("assets").joinpath("model_catalogue.json")
    return json.loads(res.read_text(encoding="utf-8"))


def test_required_models_present_with_sources_and_licences() -> None:
    cat = load_catalogue()
    for mid in REQUIRED:
        e = cat.get(mid)
        assert e.sources and all(s.url.startswith("https://") for s in e.sources)
        assert e.weights_licence and e.code_licence and cat.citation_text(e)
        assert 0 < e.conservative_threshold <= e.typical_threshold < 1
        if e.task == "detection":
            assert e.labels == DETECTOR_LABELS
    assert cat.get("MDV5A").id == "mdv5a"  # case-insensitive


def test_published_md5s_from_megadetector_code() -> None:
    """The md5s are those in MegaDetector's run_detector.py known_models (megadetector-utils 10.0.28)."""
    cat = load_catalogue()
    assert cat.get("mdv5a").source_for("md_v5a.0.0.pt").md5 == "ec1d7603ec8cf642d6e0cd008ba2be8c"
    assert cat.get("mdv5b").source_for("md_v5b.0.0.pt").md5 == "bc235e73f53c5c95e66ea0d1b2cbf542"
    assert cat.get("mdv1000-redwood").sources[0].md5 == "74474b3aec9cf1a990da38b37ddf9197"
    try:
        from megadetector.detection.run_detector import known_models
    except ImportError:
        return
    for mid, key in (("mdv5a", "v5a.0.0"), ("mdv5b", "v5b.0.0"), ("mdv1000-redwood", "v1000.0.0-redwood"),
                     ("mdv1000-spruce", "v1000.0.0-spruce"), ("mdv1000-cedar", "v1000.0.0-cedar"),
                     ("mdv1000-larch", "v1000.0.0-larch"), ("mdv1000-sorrel", "v1000.0.0-sorrel")):
        src = cat.get(mid).sources[0]
        assert src.md5 == known_models[key]["md5"], mid
        assert src.url == known_models[key]["url"], mid


def test_unverified_checksums_are_null_and_say_so() -> None:
    for e in load_catalogue().entries:
        for s in e.sources:
            if not s.verified:
                assert "unverified" in s.checksum_source, (e.id, s.filename)


def test_class_lists_match_pytorch_wildlife() -> None:
    cat = load_catalogue()
    amazon = cat.get("ai4g-amazon-v2")
    assert len(amazon.labels) == 36 and amazon.labels[0] == "Dasyprocta" and amazon.labels[-1] == "Unknown"
    assert amazon.resnet_layers == 50 and amazon.input_size == 224
    serengeti = cat.get("ai4g-serengeti")
    assert len(serengeti.labels) == 10 and serengeti.resnet_layers == 18 and serengeti.labels[-1] == "other"
    assert cat.get("ai4g-opossum").labels == ("Non-opossum", "Opossum")


def test_bundling_policy() -> None:
    cat = load_catalogue()
    bundled = {e.id for e in cat.entries if e.bundleable}
    assert {"mdv6-mit-yolov9-c", "mdv6-apa-rtdetr-c", "ai4g-amazon-v2"} <= bundled
    for mid in ("mdv5a", "mdv6-yolov10-c", "mdv1000-redwood"):
        e = cat.get(mid)
        assert not e.bundleable and e.licence_acceptance_required


def test_malformed_catalogues_are_refused() -> None:
    raw = _raw()
    bad = copy.deepcopy(raw)
    bad["models"][0]["distribution"] = "bundled"  # AGPL code cannot be bundled
    with pytest.raises(ModelPackError, match="not permissive"):
        parse_catalogue(bad)
    bad = copy.deepcopy(raw)
    bad["models"][0]["sources"][0]["md5"] = "xyz"
    with pytest.raises(ModelPackError, match="bad md5"):
        parse_catalogue(bad)
    bad = copy.deepcopy(raw)
    bad["models"].append(copy.deepcopy(raw["models"][0]))
    with pytest.raises(ModelPackError, match="duplicate"):
        parse_catalogue(bad)
    with pytest.raises(ModelPackError, match="not in the model catalogue"):
        load_catalogue().get("mdv99")
