"""``import-results`` on custom-detector and malformed files (issue 11, items 4 and 10).

Every malformed file is a clear :class:`DatasetError` (the CLI's ``error:`` line, exit 1), never a
traceback; a custom detector's categories become animal + a species label; whatever imports
passes MegaDetector's own validator.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.cli.test_cli import cli
from tests.fixtures.md_validator import assert_valid_md, md_validation
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline.importer import import_results

FILES = ("a.jpg", "sub/b.jpg")


def _folder(root: Path) -> Path:
    for i, rel in enumerate(FILES):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64 + i, 48), (90, 110, 70)).save(root / rel, "JPEG")
    return root


def _results(**top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "info": {"format_version": "1.5", "detector": "md_v5a.0.0.pt",
                 "detector_metadata": {"typical_detection_threshold": 0.2}},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "images": [{"file": "a.jpg", "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}]},
                   {"file": "sub/b.jpg", "detections": []}],
    }
    data.update(top)
    return data


def _write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _md(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "recognitions.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# item 4: a custom detector's categories


def test_custom_detector_categories_become_animal_with_a_label(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "card")
    data = _results(detection_categories={"1": "fox", "2": "roe deer", "3": "wild boar"}, images=[
        {"file": "a.jpg", "detections": [{"category": "2", "conf": 0.8, "bbox": [0.1, 0.1, 0.2, 0.2]},
                                         {"category": "3", "conf": 0.7, "bbox": [0.5, 0.5, 0.2, 0.2]}]},
        {"file": "sub/b.jpg", "detections": [{"category": "1", "conf": 0.6, "bbox": [0.1, 0.1, 0.2, 0.2]}]}])
    rep = import_results(folder, _write(tmp_path / "ecoassist.json", data), AppPaths.default())
    assert len(rep.warnings) == 1 and "'roe deer'" in rep.warnings[0] and "animal" in rep.warnings[0]
    md = _md(folder)
    assert md["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    names = md["classification_categories"]
    got = {im["file"]: [(d["category"], names[d["classifications"][0][0]], d["classifications"][0][1])
                        for d in im["detections"]] for im in md["images"]}
    assert got == {"a.jpg": [("1", "roe deer", 0.8), ("1", "wild boar", 0.7)], "sub/b.jpg": [("1", "fox", 0.6)]}
    csv_text = (folder / "detections.csv").read_text(encoding="utf-8-sig")
    assert "person" not in csv_text and "vehicle" not in csv_text and "roe deer" in csv_text
    assert_valid_md(folder)


def test_extra_category_beside_megadetector_ones_passes_the_validator(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "card")
    data = _results(detection_categories={"1": "animal", "2": "person", "3": "vehicle", "4": "fox"},
                    classification_categories={"4": "badger", "1": "hare"}, images=[
        {"file": "a.jpg", "detections": [{"category": "4", "conf": 0.85, "bbox": [0.1, 0.1, 0.2, 0.2]},
                                         {"category": "2", "conf": 0.5, "bbox": [0.5, 0.5, 0.2, 0.2]},
                                         {"category": "1", "conf": 0.4, "bbox": [0.6, 0.1, 0.2, 0.2],
                                          "classifications": [["4", 0.7]]}]}])
    rep = import_results(folder, _write(tmp_path / "r.json", data), AppPaths.default())
    assert rep.warnings and "'fox'" in rep.warnings[0]
    md = _md(folder)
    names = md["classification_categories"]
    dets = md["images"][0]["detections"]
    assert [d["category"] for d in dets] == ["1", "2", "1"]
    # the file's classification id "4" (badger) never stands for its detector category "4" (fox)
    assert names[dets[0]["classifications"][0][0]] == "fox"
    assert names[dets[2]["classifications"][0][0]] == "badger"
    assert sorted(names.values()) == ["badger", "fox", "hare"] and "classifications" not in dets[1]
    assert_valid_md(folder)


def test_megadetector_file_gives_no_warning(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "card")
    rep = import_results(folder, _write(tmp_path / "r.json", _results()), AppPaths.default())
    assert rep.warnings == () and "classification_categories" not in _md(folder)


# ---------------------------------------------------------------------------------------------
# item 10: the twelve files that crashed import-results, and their relatives

def _deep(n: int) -> str:
    return '{"images": [], "info": ' + "[" * n + "]" * n + "}"


def _set_det(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda d: d["images"][0]["detections"][0].__setitem__(key, value)


MALFORMED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "classifications: 5": _set_det("classifications", 5),
    "frames_processed: 5": lambda d: d["images"][0].__setitem__("frames_processed", 5),
    "classifier_metadata not an object": lambda d: d["info"].__setitem__("classifier_metadata", "x"),
    "detector_metadata not an object": lambda d: d["info"].__setitem__("detector_metadata", [1]),
    "info.wildlife_desktop not an object": lambda d: d["info"].__setitem__("wildlife_desktop", 3),
    "non-numeric threshold": lambda d: d["info"]["detector_metadata"].__setitem__("typical_detection_threshold",
                                                                                 "high"),
    "non-numeric classification threshold": lambda d: d["info"].__setitem__(
        "classifier_metadata", {"typical_classification_threshold": "x"}),
    "format_version inf": lambda d: d["info"].__setitem__("format_version", "inf"),
    "format_version nan": lambda d: d["info"].__setitem__("format_version", "nan"),
    "NaN confidence": _set_det("conf", float("nan")),
    "infinite classification confidence": _set_det("classifications", [["1", float("inf")]]),
    "category name not text": lambda d: d.__setitem__("detection_categories", {"1": 5}),
    "category name 100 kB": lambda d: d.__setitem__("detection_categories", {"1": "x" * 100_000}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_results_file_is_a_clear_error(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path / "card")
    data = _results(classification_categories={"1": "fox"})
    MALFORMED[name](data)
    with pytest.raises(DatasetError):
        import_results(folder, _write(tmp_path / "r.json", data), AppPaths.default())


@pytest.mark.parametrize("text", ["[]", "null", "5", '"x"', _deep(100_000), "{\"images\": [", "\xff"])
def test_not_an_object_or_absurdly_nested_is_a_clear_error(tmp_path: Path, text: str) -> None:
    folder = _folder(tmp_path / "card")
    with pytest.raises(DatasetError):
        import_results(folder, _write(tmp_path / "r.json", text), AppPaths.default())


def test_absurd_sizes_times_and_huge_strings_are_not_copied_into_outputs(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "card")
    huge = "y" * 1_000_000
    data = _results()
    data["info"]["detector"] = huge
    data["images"][0].update(width=1e300, height=10**400, datetime="garbage" * 1000)
    data["images"][1] = {"file": "sub/b.jpg", "failure": huge}
    import_results(folder, _write(tmp_path / "r.json", data), AppPaths.default())
    for name in ("recognitions.json", "coco_cameratraps.json", "detections.csv"):
        assert (folder / name).stat().st_size < 50_000, name
    md = _md(folder)
    a = next(im for im in md["images"] if im["file"] == "a.jpg")
    assert (a["width"], a["height"]) == (64, 48)  # the real size, read from the image
    assert "garbage" not in json.dumps(md)
    assert_valid_md(folder)


def test_cli_prints_error_line_and_exit_1_not_a_traceback(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "card")
    for i, text in enumerate((_deep(100_000), json.dumps(_results(images=[{"file": "a.jpg", "detections": [
            {"category": "1", "conf": 0.5, "bbox": [0, 0, 1, 1], "classifications": 5}]}])))):
        res = cli("import-results", str(folder), str(_write(tmp_path / f"r{i}.json", text)), check=False)
        assert res.returncode == 1 and res.stderr.startswith("error: ") and "Traceback" not in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_cli_prints_the_custom_category_warning(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "card")
    res = cli("import-results", str(folder), str(_write(tmp_path / "r.json", _results(
        detection_categories={"1": "fox", "2": "roe deer", "3": "wild boar"}))))
    assert res.stderr.count("WARNING: ") == 1 and "'fox'" in res.stderr


# ---------------------------------------------------------------------------------------------
# property-based: random JSON never gives a traceback

_leaf = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
         | st.sampled_from(["1", "4", "1.5", "animal", "fox", "a.jpg", "sub\\b.jpg", "2024:05:01 06:00:00"]))
_any = st.recursive(_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                    max_leaves=6)
_unit = st.floats(min_value=0.0, max_value=1.0)
_det = st.fixed_dictionaries(
    {"category": st.sampled_from(["1", "2", "3", "4"]) | _any, "conf": _unit | _any,
     "bbox": st.lists(_unit, min_size=4, max_size=4) | _any},
    optional={"classifications": st.lists(st.tuples(st.sampled_from(["1", "2"]) | _any, _unit | _any).map(list),
                                          max_size=2) | _any,
              "frame_number": _any, "verified": _any})
_image = st.fixed_dictionaries(
    {"file": st.sampled_from(["a.jpg", "sub/b.jpg", "./a.jpg", "missing.jpg", "clip.mp4"]) | _any},
    optional={"detections": st.lists(_det, max_size=3) | _any, "failure": _any, "width": _any, "height": _any,
              "datetime": _any, "frame_rate": _any, "frames_processed": _any})
_meta = st.fixed_dictionaries({}, optional={"typical_detection_threshold": _unit | _any,
                                            "conservative_detection_threshold": _unit | _any,
                                            "typical_classification_threshold": _unit | _any,
                                            "megadetector_version": _any, "random_weights": _any})
_info = st.fixed_dictionaries({}, optional={
    "format_version": st.sampled_from(["1.5", "1.0", 1.6]) | _any, "detector": _any, "classifier": _any,
    "detector_metadata": _meta | _any, "classifier_metadata": _meta | _any, "wildlife_desktop": _meta | _any,
    "detection_completion_time": _any})
_md_file = st.fixed_dictionaries(
    {"images": st.lists(_image, max_size=4) | _any},
    optional={"info": _info | _any,
              "detection_categories": st.dictionaries(st.sampled_from(["0", "1", "2", "3", "4"]),
                                                      st.sampled_from(["animal", "person", "fox", " "]) | _any,
                                                      max_size=4) | _any,
              "classification_categories": st.dictionaries(st.sampled_from(["1", "2"]), _any, max_size=2) | _any})
_pw_file = st.fixed_dictionaries({"annotations": st.lists(st.fixed_dictionaries(
    {"img_id": st.sampled_from(["a.jpg", "sub/b.jpg", "zz.jpg"]) | _any},
    optional={"bbox": _any | st.lists(st.lists(st.floats(0, 80), min_size=4, max_size=4), max_size=2),
              "category": _any, "confidence": _any}), max_size=3) | _any},
    optional={"categories": st.dictionaries(st.sampled_from(["0", "1", "x"]), _any, max_size=2) | _any})
_document = (_md_file | _pw_file | _any).map(json.dumps) | st.text(max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(text=_document)
def test_random_results_files_import_or_fail_clearly(tmp_path: Path, text: str) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
        root = Path(tmp)
        folder = _folder(root / "card")
        results = _write(root / "r.json", text)
        try:
            import_results(folder, results, AppPaths.under(root / "home"))
        except DatasetError as exc:
            assert str(exc) and "\n" not in str(exc)
            event("refused")
            return
        event("imported")
        vr = md_validation(folder / "recognitions.json", None)
        assert vr["errors"] == [], vr
        shutil.rmtree(root / "home", ignore_errors=True)
