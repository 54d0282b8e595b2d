"""Privacy blur, analysis tables and species folders on a hand-made folder whose answers are known."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.publish_site import FILES, LOW_PERSON_BOX, PERSON_BOX, TRUNCATED, make_publish_site
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.progress import CancelToken
from wildlife_desktop.core.records import BBox, Detection, Prediction
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import ReviewDecision, append_decisions, count_key
from wildlife_desktop.formats.tables import write_tables_xlsx
from wildlife_desktop.pipeline.analysis import decided_bundle, export_tables
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.journal import STATE_DIRNAME
from wildlife_desktop.pipeline.privacy import blur_array, privacy_boxes, privacy_threshold
from wildlife_desktop.pipeline.species_folders import CopyOptions, export_species_folders


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    import_results(folder, make_publish_site(folder))
    return folder


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def _rect(box: tuple[float, float, float, float], w: int, h: int) -> tuple[slice, slice]:
    x, y, bw, bh = box
    return slice(int(y * h), int((y + bh) * h)), slice(int(x * w), int((x + bw) * w))


def assert_blurred(original: np.ndarray, shown: np.ndarray, box: tuple[float, float, float, float]) -> None:
    """Inside ``box`` the pixels are far from the source and their variance has collapsed."""
    h, w = original.shape[:2]
    ys, xs = _rect(box, w, h)
    inside_o, inside_s = original[ys, xs], shown[ys, xs]
    assert np.abs(inside_o - inside_s).mean() > 40  # seeded noise: a faithful copy differs by a few levels
    assert inside_s.std() < inside_o.std() / 3


def assert_unchanged_outside(original: np.ndarray, shown: np.ndarray, box: tuple[float, float, float, float],
                             tolerance: float = 10.0) -> None:
    """Outside ``box`` grown by the blur margin the pixels are the source's (up to JPEG re-encoding of noise)."""
    h, w = original.shape[:2]
    x, y, bw, bh = box
    grown = (x - 0.15 * bw, y - 0.15 * bh, 1.3 * bw, 1.3 * bh)
    mask = np.ones((h, w), bool)
    ys, xs = _rect(tuple(max(0.0, v) for v in grown), w, h)  # type: ignore[arg-type]
    mask[ys, xs] = False
    assert np.abs(original[mask] - shown[mask]).mean() <= tolerance


# ---- privacy -------------------------------------------------------------------------------
def test_blur_array_blurs_only_the_enlarged_box() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    out = blur_array(img, [BBox(*PERSON_BOX)])
    assert out is not img and (img == blur_array(img, [])).all()
    assert_blurred(img.astype(np.int16), out.astype(np.int16), PERSON_BOX)
    assert_unchanged_outside(img.astype(np.int16), out.astype(np.int16), PERSON_BOX, tolerance=0.0)


def test_privacy_boxes_follow_the_decisions_and_the_threshold() -> None:
    person = Detection("2", 0.3, BBox(*PERSON_BOX))
    low = Detection("2", 0.04, BBox(*LOW_PERSON_BOX))
    animal = Detection("1", 0.9, BBox(0.0, 0.0, 0.2, 0.2))
    pred = Prediction("a.jpg", "image", detections=(person, low, animal))
    assert privacy_boxes(pred, threshold=0.1) == (person.bbox,)
    reject = ReviewDecision("a.jpg", detection_id("a.jpg", person), "reject", reviewer="ana")
    assert privacy_boxes(pred, [reject], threshold=0.1) == ()
    verified = ReviewDecision("a.jpg", detection_id("a.jpg", low), "accept", "person", reviewer="ana")
    assert set(privacy_boxes(pred, [verified], threshold=0.1)) == {person.bbox, low.bbox}
    relabel = ReviewDecision("a.jpg", detection_id("a.jpg", animal), "relabel", "person", reviewer="ana")
    assert animal.bbox in privacy_boxes(pred, [relabel], threshold=0.1)
    assert privacy_boxes(pred, threshold=0.1, blur_vehicles=True) == (person.bbox,)
    assert privacy_boxes(None) == ()


def test_privacy_threshold_is_the_detectors_conservative_one(site: Path) -> None:
    layer = decided_bundle(site).results.layer
    assert privacy_threshold(layer) == pytest.approx(0.1)
    assert privacy_threshold(None) == pytest.approx(0.1)


# ---- tables --------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_event_count_is_the_most_in_any_frame(site: Path, tmp_path: Path) -> None:
    rep = export_tables(site, tmp_path / "tables")
    events = _read_csv(tmp_path / "tables" / "events.csv")
    zebra = [r for r in events if r["label"] == "zebra"]
    assert [(r["event_id"], r["count"], r["files"]) for r in zebra] == [
        ("camA/seq_00000", "3", "3"), ("camA/seq_00001", "1", "1")]  # frames with 1, 3, 2 zebras -> 3
    assert zebra[0]["scientific_name"] and zebra[0]["start"] == "2024-05-01 06:00:00"
    assert zebra[0]["end"] == "2024-05-01 06:00:20"
    people = [(r["event_id"], r["count"]) for r in events if r["label"] == "person"]
    assert people == [("camA/seq_00001", "1"), ("camB/seq_00000", "1")]  # 0.12 < the typical 0.2: not counted
    assert rep.events == len(events) == 4
    deps = {r["location"]: r for r in _read_csv(tmp_path / "tables" / "deployments.csv")}
    assert deps["camA"]["first_image"] == "2024-05-01 06:00:00" and deps["camA"]["last_image"] == "2024-05-01 08:00:00"
    assert (deps["camA"]["images"], deps["camA"]["events"], deps["camA"]["species"]) == ("4", "2", "zebra")
    assert deps["camB"]["camera_days"] == "1"  # 2024-05-03 12:00 .. 2024-05-04 12:00
    assert (deps["camB"]["images"], deps["camB"]["failed"], deps["camB"]["species_count"]) == ("4", "1", "0")


def test_a_persons_count_and_rejections_change_the_event_count(site: Path, tmp_path: Path) -> None:
    state = site / STATE_DIRNAME
    res = decided_bundle(site).results
    pred = res.predictions["camA/IMG_0002.JPG"]
    reject = ReviewDecision("camA/IMG_0002.JPG", detection_id(pred.rel_path, pred.detections[0]), "reject",
                            reviewer="ana", bbox=pred.detections[0].bbox)
    append_decisions(state, [reject])
    export_tables(site, tmp_path / "t1")
    counts = {r["event_id"]: r["count"] for r in _read_csv(tmp_path / "t1" / "events.csv") if r["label"] == "zebra"}
    assert counts["camA/seq_00000"] == "2"  # frames now hold 1, 2, 2
    append_decisions(state, [ReviewDecision("camA/IMG_0001.JPG", count_key("zebra"), "count", "zebra",
                                            reviewer="ana", count=5)])
    export_tables(site, tmp_path / "t2")
    rows = [r for r in _read_csv(tmp_path / "t2" / "events.csv") if r["event_id"] == "camA/seq_00000"]
    assert [(r["label"], r["count"], r["verified"]) for r in rows] == [("zebra", "5", "true")]


def test_xlsx_equals_the_csv_and_splits_at_the_row_limit(site: Path, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "tables"
    rep = export_tables(site, out, xlsx=True)
    book = openpyxl.load_workbook(rep.paths[-1], read_only=True)
    assert book.sheetnames == ["events", "deployments"]
    for name in ("events", "deployments"):
        rows = [["" if v is None else str(v) for v in r] for r in book[name].iter_rows(values_only=True)]
        with open(out / f"{name}.csv", encoding="utf-8-sig", newline="") as fh:
            assert rows == list(csv.reader(fh))
    tables = __import__("wildlife_desktop.formats.tables", fromlist=["build_tables"]).build_tables(
        decided_bundle(site).bundle)
    small = write_tables_xlsx(tmp_path / "split.xlsx", tables, max_rows=3)  # header + 2 rows a sheet
    split = openpyxl.load_workbook(small, read_only=True)
    assert split.sheetnames == ["events", "events (2)", "deployments"]
    assert sum(1 for _ in split["events (2)"].iter_rows()) == 3


def test_xlsx_without_openpyxl_is_refused_in_one_line(site: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_openpyxl(name: str, *a: object, **k: object) -> object:
        if name.startswith("openpyxl"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_openpyxl)
    with pytest.raises(DatasetError, match=r"pip install 'wildlife-desktop\[xlsx\]'"):
        export_tables(site, tmp_path / "t", xlsx=True)
    assert not (tmp_path / "t").exists()


# ---- species folders -----------------------------------------------------------------------
def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_species_folders_sort_copy_and_blur(site: Path, tmp_path: Path) -> None:
    before = _hashes(site)
    out = tmp_path / "out"
    seen: list[int] = []
    rep = export_species_folders(site, out, progress=lambda done, total, rel: seen.append(done))
    assert _hashes(site) == before  # originals untouched
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert got == ["empty/IMG_0002.JPG", "empty/IMG_0003.JPG", "empty/camB__IMG_0002.JPG", "failed/IMG_0009.JPG",
                   "people/IMG_0001.JPG", "people/IMG_0004.JPG", "species/zebra/IMG_0001.JPG",
                   "species/zebra/IMG_0002.JPG", "species/zebra/IMG_0003.JPG"]
    assert seen == list(range(1, 10)) and rep.blurred == 3 and rep.copied == 9
    # an unblurred copy is the original, byte for byte (EXIF kept)
    assert (out / "species/zebra/IMG_0002.JPG").read_bytes() == (site / "camA/IMG_0002.JPG").read_bytes()
    assert (out / "failed/IMG_0009.JPG").read_bytes() == (site / TRUNCATED).read_bytes()
    for copy, src, box in (("people/IMG_0001.JPG", "camB/IMG_0001.JPG", PERSON_BOX),
                           ("people/IMG_0004.JPG", "camA/IMG_0004.JPG", PERSON_BOX),
                           ("empty/IMG_0003.JPG", "camB/IMG_0003.JPG", LOW_PERSON_BOX)):  # 0.12 >= conservative 0.1
        original, shown = _pixels(site / src), _pixels(out / copy)
        assert_blurred(original, shown, box)
        assert_unchanged_outside(original, shown, box)
    with Image.open(out / "people/IMG_0004.JPG") as im:
        assert im.getexif().get(0x0132) == FILES["camA/IMG_0004.JPG"][0]  # capture time kept


def test_no_blur_copies_people_as_they_are(site: Path, tmp_path: Path) -> None:
    rep = export_species_folders(site, tmp_path / "out", CopyOptions(blur=False))
    assert rep.blurred == 0
    assert (tmp_path / "out/people/IMG_0004.JPG").read_bytes() == (site / "camA/IMG_0004.JPG").read_bytes()


def test_link_is_refused_for_people_unless_no_blur(site: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--link cannot blur people: 3 file"):
        export_species_folders(site, tmp_path / "out", CopyOptions(link=True))
    assert not (tmp_path / "out").exists()
    rep = export_species_folders(site, tmp_path / "out", CopyOptions(link=True, blur=False))
    assert rep.linked + rep.link_fallbacks == 9
    linked = tmp_path / "out/species/zebra/IMG_0001.JPG"
    if rep.linked:
        assert os.path.samefile(linked, site / "camA/IMG_0001.JPG")
    with pytest.raises(DatasetError, match="--link cannot draw boxes"):
        export_species_folders(site, tmp_path / "out", CopyOptions(link=True, annotated=True, blur=False))


def test_annotated_copies_draw_boxes_and_keep_people_blurred(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rep = export_species_folders(site, out, CopyOptions(annotated=True))
    assert rep.annotated == 8  # every readable image
    original, shown = _pixels(site / "camA/IMG_0004.JPG"), _pixels(out / "people/IMG_0004.JPG")
    h, w = original.shape[:2]
    ys, xs = _rect(PERSON_BOX, w, h)
    inner = (slice(ys.start + 8, ys.stop - 8), slice(xs.start + 8, xs.stop - 8))  # inside the drawn frame
    assert shown[inner].std() < original[inner].std() / 3
    x0 = int(0.05 * w)  # the zebra box's left edge is drawn in green
    edge = shown[int(0.6 * h), x0 - 1:x0 + 2].mean(axis=0)
    assert edge[1] > 150 and edge[0] < 120


def test_cancel_stops_between_files_and_output_inside_the_folder_is_refused(site: Path, tmp_path: Path) -> None:
    token = CancelToken()
    rep = export_species_folders(site, tmp_path / "out", progress=lambda d, t, r: token.cancel() if d == 2 else None,
                                 cancel=token)
    assert rep.cancelled and rep.files == 2
    with pytest.raises(DatasetError, match="outside"):
        export_species_folders(site, site / "sorted")
