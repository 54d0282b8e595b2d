"""verify-reference's comparison, on the real MDv5a reference output (self, perturbed, imported layer)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.formats.md_batch import read_md_batch
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.reference import compare_to_reference, results_for_detector


@pytest.fixture()
def reference_json(shared: Path) -> dict:
    path = shared / "samples" / "lila_test_images" / "md_v5a_reference_output.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_reference_against_itself_is_perfect(reference_json: dict) -> None:
    ref = read_md_batch(reference_json)
    ours = {p.rel_path: p for p in ref.predictions}
    rep = compare_to_reference(ours, ref)
    assert rep.files_compared == len(ref.predictions) == 31
    assert rep.reference_boxes == rep.our_boxes == rep.matched > 0
    assert rep.precision == rep.recall == 1.0
    assert rep.max_abs_conf_diff == 0.0 and rep.min_iou == pytest.approx(1.0)
    assert not rep.files_only_in_reference and not rep.files_only_ours
    n_above = sum(1 for im in reference_json["images"] for d in im["detections"] if d["conf"] >= 0.2)
    assert rep.reference_boxes == n_above


def test_perturbed_copy_gives_known_misses(reference_json: dict) -> None:
    ref = read_md_batch(reference_json)
    pert = copy.deepcopy(reference_json)
    removed = shifted = 0
    confident = [im for im in pert["images"] if any(d["conf"] >= 0.2 for d in im["detections"])]
    # 1) drop the most confident box of the first two images -> 2 misses
    for im in confident[:2]:
        im["detections"].remove(max(im["detections"], key=lambda d: d["conf"]))
        removed += 1
    # 2) shift the most confident box of the third image by its own width -> IoU 0: 1 miss + 1 extra
    d = max(confident[2]["detections"], key=lambda d: d["conf"])
    d["bbox"][0] = min(d["bbox"][0] + d["bbox"][2], 1 - d["bbox"][2])
    shifted += 1
    # 3) lower the confidence of the fourth image's best box by 0.05 -> matched, known conf difference
    d4 = max(confident[3]["detections"], key=lambda d: d["conf"])
    d4["conf"] = round(d4["conf"] - 0.05, 4)
    # 4) a file we never processed
    pert["images"] = [im for im in pert["images"] if im is not confident[4]]

    ours = {p.rel_path: p for p in read_md_batch(pert).predictions}
    rep = compare_to_reference(ours, ref)
    assert rep.files_only_in_reference == (confident[4]["file"],)
    n_ref_file5 = sum(1 for x in confident[4]["detections"] if x["conf"] >= 0.2)
    total_ref = sum(1 for im in reference_json["images"] for x in im["detections"] if x["conf"] >= 0.2)
    assert rep.reference_boxes == total_ref - n_ref_file5
    assert rep.matched == rep.reference_boxes - removed - shifted
    assert rep.our_boxes == rep.reference_boxes - removed
    assert rep.recall == pytest.approx(rep.matched / rep.reference_boxes)
    assert rep.precision == pytest.approx(rep.matched / rep.our_boxes)
    assert rep.max_abs_conf_diff == pytest.approx(0.05, abs=1e-6)
    missed = {f.rel_path: len(f.missed) for f in rep.per_file if f.missed}
    assert missed == {confident[0]["file"]: 1, confident[1]["file"]: 1, confident[2]["file"]: 1}
    assert any("missed" in line for line in rep.summary_lines())


def test_imported_layer_compared_with_the_reference(tmp_path: Path, shared: Path) -> None:
    """The CLI path: the folder's current results layer (here: the imported official file) vs the file."""
    src = shared / "samples" / "lila_test_images"
    folder = tmp_path / "card"
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns("*.json"))
    paths = AppPaths.default()
    ref_path = src / "md_v5a_reference_output.json"
    import_results(folder, ref_path, paths)
    layer = results_for_detector(folder, paths, None)
    assert layer is not None
    rep = compare_to_reference(layer.predictions, read_md_batch(ref_path), iou=0.5, conf_threshold=0.2)
    assert rep.files_compared == 31 and rep.recall == 1.0 and rep.precision == 1.0
    assert results_for_detector(folder, paths, "no-such-detector") is None


def test_verify_reference_cli(tmp_path: Path, shared: Path) -> None:
    from tests.cli.test_cli import cli

    src = shared / "samples" / "lila_test_images"
    folder = tmp_path / "card"
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns("*.json"))
    ref = src / "md_v5a_reference_output.json"
    none_yet = cli("verify-reference", str(folder), str(ref), check=False)
    assert none_yet.returncode == 1 and "--detector" in none_yet.stderr
    cli("import-results", str(folder), str(ref))
    out = cli("verify-reference", str(folder), str(ref)).stdout
    assert "precision 1.0000  recall 1.0000" in out
    data = json.loads(cli("verify-reference", str(folder), str(ref), "--json", "--iou", "0.9").stdout)
    assert data["recall"] == 1.0 and data["files"] == 31 and data["ran"] is False
