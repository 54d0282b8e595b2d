"""Real labelled camera-trap crops from ``../shared/samples``, verified as a reviewer would verify them.

Used by the fine-tuning tests on MobileNetV2 features and by ``benchmarks/finetune_real.py``.
Every label comes from the file's name (never from a model); the reviewer's decision is a
``relabel`` of one box with that label. What the files say about where they were taken:

* ``caltech_cct``: label = name prefix before ``__``; names are UUIDs, no EXIF, the burned-in
  strip shows only date/time and the camera brand: **no site information**. Boxes: the real
  MegaDetector v6 (MDV6-yolov10-c) output shipped beside them (most confident box; cars are
  vehicles). Files labelled ``empty`` are not examples.
* ``serengeti_species_labelled``: ``<species>___<season>___<site>___<site>_<roll>___...``: the
  **site** (grid cell, e.g. ``H06``) is in the name. One image per species; most are already
  crops, so the box is the whole image (no detector output ships with them).
* ``md_repo_misc``: label = name prefix before ``_`` (``caper`` = capercaillie); 300-500 px
  thumbnails from different cameras (EXIF makes differ, one has none) but no site names: the
  folder counts as **one site**. Box: the whole image.
* ``lila_test_images``: species only where the name says it unambiguously (Missouri Camera
  Traps ``...-Agouti_...``, ``...-European_Hare_...``); Missouri's ``Set1`` folders group by
  species, not by camera: one site. Boxes: the official MegaDetector v5a output (most confident).

A verified copy is laid out ``<root>/<dataset>/[<site>/]<file>`` so that the app's own split
(:func:`wildlife_desktop.training.finetune.dataset.site_of`) keeps sites apart: files at the top of
a dataset folder share the dataset's name as their site.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from tests.conftest import SHARED
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import ReviewDecision, save_decisions
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.journal import Workspace
from wildlife_desktop.training.finetune.dataset import CropExample
from wildlife_desktop.training.finetune.features import BaseModel, FeatureExtractor, FeatureSet, extract_features
from wildlife_desktop.training.finetune.head import nearest_centroid, train_head
from wildlife_desktop.training.finetune.metrics import Metrics, compute_metrics

SAMPLES: Final[Path] = SHARED / "samples"
WHOLE: Final[BBox] = BBox(0.0, 0.0, 1.0, 1.0)

#: Coarse groups for pooling the datasets (each has too few crops per species on its own).
COARSE: Final[dict[str, str]] = {
    "car": "vehicle",
    **dict.fromkeys(("bird", "heron", "capercaillie", "ostrich"), "bird"),
    **dict.fromkeys(("deer", "topi"), "ungulate"),
    **dict.fromkeys(
        ("cat", "coyote", "dog", "fox", "raccoon", "skunk", "aardwolf", "caracal", "civet", "leopard", "mongoose",
         "wildcat", "zorilla"),
        "carnivore",
    ),
    **dict.fromkeys(("rodent", "rabbit", "opossum", "beaver", "porcupine", "agouti", "european hare"), "small mammal"),
}

#: Our label -> the first names of the ImageNet classes that count as a right answer (zero-shot).
IMAGENET: Final[dict[str, tuple[str, ...]]] = {
    "car": ("pickup", "minivan", "jeep", "sports car", "convertible", "cab", "limousine", "beach wagon",
            "police van", "moving van", "tow truck", "trailer truck", "minibus", "racer", "Model T", "ambulance",
            "car wheel", "grille", "golfcart", "recreational vehicle"),
    "coyote": ("coyote",),
    "skunk": ("skunk",),
    "fox": ("red fox", "kit fox", "Arctic fox", "grey fox"),
    "cat": ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"),
    "dog": tuple(),  # 120 dog breeds: left unmapped rather than guessed
    "raccoon": (),  # not an ImageNet class
    "leopard": ("leopard",),
    "mongoose": ("mongoose",),
    "ostrich": ("ostrich",),
    "porcupine": ("porcupine",),
    "beaver": ("beaver",),
    "rabbit": ("wood rabbit", "hare", "Angora"),
    "european hare": ("hare",),
    "heron": ("little blue heron", "American egret", "crane [135]", "bittern", "limpkin"),
    "capercaillie": ("black grouse", "ruffed grouse", "ptarmigan", "prairie chicken"),
}


@dataclass(frozen=True)
class LabelledFile:
    """One real image, its label from its name, and its camera site ("" when the files say none)."""

    source: Path
    label: str
    site: str
    box: BBox | None = None  # a box to verify when no detector output ships with the file


def caltech_files() -> list[LabelledFile]:
    out = []
    for p in sorted((SAMPLES / "caltech_cct").glob("*.jpg")):
        label = p.name.split("__", 1)[0]
        if label != "empty":
            out.append(LabelledFile(p, label, ""))
    return out


def serengeti_files() -> list[LabelledFile]:
    out = []
    for p in sorted((SAMPLES / "serengeti_species_labelled").glob("*.JPG")):
        parts = p.stem.split("___")
        out.append(LabelledFile(p, parts[0], parts[2], WHOLE))
    return out


_MISC_NAMES: Final[dict[str, str]] = {"caper": "capercaillie"}


def misc_files() -> list[LabelledFile]:
    out = []
    for p in sorted((SAMPLES / "md_repo_misc").glob("*.jpg")):
        prefix = p.name.split("_", 1)[0]
        out.append(LabelledFile(p, _MISC_NAMES.get(prefix, prefix), "", WHOLE))
    return out


_LILA_LABEL = re.compile(r"^missouri_camera_traps_Set1_\d+\.\d+-([A-Za-z_]+?)_SEQ")


def lila_files() -> list[LabelledFile]:
    out = []
    for p in sorted((SAMPLES / "lila_test_images").iterdir()):
        m = _LILA_LABEL.match(p.name)
        if m:
            out.append(LabelledFile(p, m.group(1).replace("_", " ").lower(), ""))
    return out


@dataclass(frozen=True)
class Dataset:
    """A sample folder: how to list its labelled files and which detector output (if any) ships with it."""

    name: str
    files: Callable[[], list[LabelledFile]]
    results: str | None  # results file inside the sample folder, imported with the app's importer
    site_note: str


DATASETS: Final[dict[str, Dataset]] = {
    d.name: d
    for d in (
        Dataset("caltech_cct", caltech_files, "mdv6_yolov10c_pytorchwildlife_output.json",
                "no site information (UUID names, no EXIF): split by file"),
        Dataset("serengeti_species_labelled", serengeti_files, None, "site code in the file name (e.g. H06)"),
        Dataset("md_repo_misc", misc_files, None, "no site names: the folder is one site"),
        Dataset("lila_test_images", lila_files, "md_v5a_reference_output.json",
                "Missouri Set1 folders group by species, not camera: one site"),
    )
}


def verified_folder(
    root: Path,
    paths: AppPaths,
    dataset: str,
    *,
    label_map: dict[str, str] | None = None,
    reviewer: str = "labels-from-file-names",
) -> tuple[Path, int]:
    """Copy ``dataset``'s labelled files to ``root/<dataset>`` and verify one box per file.

    Files with a site go to ``<site>/``. With a results file, it is imported (the app's
    ``import-results``) and the most confident box of each file gets the decision; files it
    gives no box get none. Without one, the whole image is the verified box. ``label_map``
    (e.g. :data:`COARSE`) renames labels; files whose label it lacks are left out.

    Returns:
        The folder and the number of decisions written.
    """
    ds = DATASETS[dataset]
    folder = Path(root) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, LabelledFile] = {}
    for f in ds.files():
        if label_map is not None and f.label not in label_map:
            continue
        rel = f"{f.site}/{f.source.name}" if f.site else f.source.name
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.source, folder / rel)
        wanted[rel] = f
    boxes: dict[str, tuple[str, BBox, str]] = {}
    if ds.results is not None:
        rep = import_results(folder, SAMPLES / dataset / ds.results, paths)
        for rel, pred in rep.results.predictions.items():
            if rel in wanted and pred.detections:
                top = max(pred.detections, key=lambda d: d.confidence)
                boxes[rel] = (detection_id(rel, top), top.bbox, top.top_label or top.category_name)
    for rel, f in wanted.items():
        if rel not in boxes and f.box is not None:
            boxes[rel] = (f"whole-image:{rel}", f.box, "")
    decisions = []
    for i, rel in enumerate(sorted(boxes)):
        det_id, box, model_label = boxes[rel]
        label = wanted[rel].label
        decisions.append(
            ReviewDecision(
                file=rel,
                detection_id=det_id,
                decision="relabel",
                label=label_map[label] if label_map is not None else label,
                reviewer=reviewer,
                time=f"2026-11-24T09:{i // 60:02d}:{i % 60:02d}+00:00",
                bbox=box,
                model_label=model_label,
            )
        )
    ws = Workspace.locate(folder, paths, create=True)
    assert ws is not None
    save_decisions(ws.state_dir, decisions)
    return folder, len(decisions)


def verified_folders(
    root: Path, paths: AppPaths, datasets: Sequence[str], *, label_map: dict[str, str] | None = None
) -> list[Path]:
    """:func:`verified_folder` for each dataset."""
    return [verified_folder(root, paths, d, label_map=label_map)[0] for d in datasets]


@dataclass(frozen=True)
class CrossSite:
    """Leave-one-site-out figures: every site is held out once; predictions pooled over the folds.

    Crops whose label has no training crop in their fold (it occurs at that site only) are not
    predicted (``unseen``): no head could name them.
    """

    labels: tuple[str, ...]
    folds: int
    unseen: int
    head: Metrics
    centroid: Metrics
    majority: Metrics  # always the fold's most common training label: what ignoring the image gives
    stratified_chance: float  # expected accuracy of guessing with the fold's training label frequencies


def leave_one_site_out(
    features: np.ndarray,
    flipped: dict[int, np.ndarray],
    y: np.ndarray,
    sites: Sequence[str],
    labels: Sequence[str],
    *,
    max_epochs: int = 300,
) -> CrossSite:
    """Train the app's head (:func:`train_head`, mirrored crops added as the app adds them) and the
    nearest-centroid baseline once per held-out site, on the features of the other sites."""
    labels = tuple(labels)
    k = len(labels)
    y = np.asarray(y, dtype=np.int64)
    truth: list[int] = []
    pred_head: list[int] = []
    pred_centroid: list[int] = []
    pred_majority: list[int] = []
    chance: list[float] = []
    unseen = folds = 0
    for site in sorted(set(sites)):
        train = [i for i, s in enumerate(sites) if s != site]
        seen = set(y[train].tolist())
        held = [i for i, s in enumerate(sites) if s == site]
        test = [i for i in held if y[i] in seen]
        unseen += len(held) - len(test)
        if not test:
            continue
        folds += 1
        flips = [i for i in train if i in flipped]
        x_train = np.concatenate([features[train], np.array([flipped[i] for i in flips]).reshape(len(flips), -1)])
        y_train = np.concatenate([y[train], y[flips]])
        gen = train_head(x_train, y_train, x_train[:0], y_train[:0], k, max_epochs=max_epochs)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                head, _ = stop.value
                break
        prior = np.bincount(y[train], minlength=k) / len(train)
        truth += y[test].tolist()
        pred_head += head.predict(features[test]).tolist()
        pred_centroid += nearest_centroid(x_train, y_train, features[test], k).tolist()
        pred_majority += [int(np.argmax(prior))] * len(test)
        chance += prior[y[test]].tolist()
    return CrossSite(
        labels, folds, unseen,
        head=compute_metrics(truth, pred_head, labels),
        centroid=compute_metrics(truth, pred_centroid, labels),
        majority=compute_metrics(truth, pred_majority, labels),
        stratified_chance=float(np.mean(chance)) if chance else 0.0,
    )


def features_of(examples: Sequence[CropExample], base: BaseModel, work: Path, *, flip: bool = True) -> FeatureSet:
    """The base model's features of every example's crop (and of its mirror image), as fine-tuning computes them."""
    mirrored = set(range(len(examples))) if flip else set()
    gen = extract_features(list(examples), FeatureExtractor(base, work), flip=mirrored)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
