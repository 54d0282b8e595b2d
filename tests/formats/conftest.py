"""Realistic export bundles on disk for the format tests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.bundle import ExportBundle, ExportItem, ModelInfo, SequenceInfo, detection_id

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

IMG1 = "cam1/100RECNX/IMG_0001.JPG"
IMG_EMPTY = "cam1/100RECNX/IMG_0002.JPG"
IMG_FAILED = "cam1/100RECNX/IMG_0003.JPG"
IMG_LOW = "cam1/100RECNX/IMG_0004.JPG"
IMG_VERIFIED_EMPTY = "cam2/IMG_0100.JPG"
IMG_UNICODE = "Forêt du Nord/photo été 01.jpg"
VIDEO = "cam1/VID_0001.mp4"

LABELS = ("red_fox", "roe_deer", "animal", "chevreuil européen", "badger")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared samples folder; fail loudly when it is missing."""
    if not (SHARED / "samples").is_dir():
        pytest.fail(f"shared samples folder missing: {SHARED / 'samples'}")
    return SHARED


@dataclass
class Site:
    """A folder of media files plus the bundle describing them."""

    root: Path
    bundle: ExportBundle

    def subset(self, keep) -> ExportBundle:
        items = tuple(it for it in self.bundle.items if keep(it))
        return dataclasses.replace(self.bundle, items=items)

    @property
    def images_only(self) -> ExportBundle:
        """Readable still images only (integrity checker size checks, md_to_coco)."""
        return self.subset(lambda it: it.prediction.kind == "image" and not it.prediction.failed)


def _det(cat, conf, box, labels=(), frame=None) -> Detection:
    return Detection(cat, conf, BBox(*box), tuple(Classification(n, c) for n, c in labels), frame)


def _jpeg(path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 110, 70)).save(path, "JPEG", quality=70)


def _item(pred: Prediction, loc: str, seq: str, frame: int, n: int, verified=(), verified_empty=False):
    ids = tuple(detection_id(pred.rel_path, d) for d in pred.detections)
    return ExportItem(pred, SequenceInfo(loc, seq, frame, n), ids, tuple(verified), verified_empty)


def make_site(root: Path, *, random_weights: bool = False) -> Site:
    """Write the media files under ``root`` and return the bundle describing them."""
    _jpeg(root / IMG1, (640, 480))
    _jpeg(root / IMG_EMPTY, (640, 480))
    (root / IMG_FAILED).write_bytes(b"\xff\xd8 truncated, not a jpeg")
    _jpeg(root / IMG_LOW, (640, 480))
    _jpeg(root / IMG_VERIFIED_EMPTY, (1024, 768))
    _jpeg(root / IMG_UNICODE, (800, 600))
    (root / VIDEO).write_bytes(b"\x00\x00\x00\x18ftypmp42 dummy video")

    m640 = MediaMeta(width=640, height=480, datetime="2024-05-01 06:00:00", make="RECONYX")
    preds = [
        Prediction(IMG1, "image", m640, (
            _det("1", 0.412, (0.5, 0.5, 0.2, 0.3), [("roe_deer", 0.31), ("red_fox", 0.62)]),
            _det("1", 0.93, (0.1, 0.2, 0.3, 0.25), [("red_fox", 0.88), ("roe_deer", 0.07)]),
            _det("1", 0.05, (0.9, 0.8, 0.15, 0.3)),  # sticks out of the frame: clipped
            _det("2", 0.15, (0.01, 0.02, 0.1, 0.2)),  # below threshold but verified by a person
        )),
        Prediction(IMG_EMPTY, "image", dataclasses.replace(m640, datetime="2024-05-01 06:00:02")),
        Prediction(IMG_FAILED, "image", failure="Image is truncated or corrupt"),
        Prediction(IMG_LOW, "image", dataclasses.replace(m640, datetime=None), (
            _det("1", 0.08, (0.3, 0.3, 0.1, 0.1), [("badger", 0.4)]),
        )),
        Prediction(IMG_VERIFIED_EMPTY, "image", MediaMeta(width=1024, height=768), (
            _det("1", 0.35, (0.4, 0.4, 0.2, 0.2), [("animal", 0.55)]),
        )),
        Prediction(IMG_UNICODE, "image", MediaMeta(width=800, height=600, datetime="2024-06-02 21:13:05"), (
            _det("2", 0.7, (0.25, 0.1, 0.5, 0.85)),
            _det("1", 0.55, (0.0, 0.5, 0.2, 0.2), [("chevreuil européen", 0.77)]),
        )),
        Prediction(VIDEO, "video", MediaMeta(width=320, height=180), (
            _det("1", 0.6, (0.2, 0.3, 0.25, 0.4), [("red_fox", 0.9)], frame=0),
            _det("1", 0.81, (0.4, 0.4, 0.2, 0.2), [("red_fox", 0.7)], frame=30),
        ), frame_rate=30.0, frames_processed=(0, 30), video_label="red_fox"),
    ]
    items = [
        _item(preds[0], "cam1", "cam1_seq_00000", 0, 2, verified=(False, False, False, True)),
        _item(preds[1], "cam1", "cam1_seq_00000", 1, 2),
        _item(preds[2], "cam1", "cam1_seq_00001", 0, 1),
        _item(preds[3], "cam1", "cam1_seq_00002", 0, 1),
        _item(preds[4], "cam2", "cam2_seq_00000", 0, 1, verified_empty=True),
        _item(preds[5], "Forêt du Nord", "Forêt du Nord_seq_00000", 0, 1),
        _item(preds[6], "cam1", "cam1_seq_00003", 0, 1),
    ]
    items.sort(key=lambda it: it.prediction.rel_path)
    model = ModelInfo(
        detector="md_v5a.0.0.onnx", detector_version="v5a.0.0", classifier="species-eu.onnx",
        classifier_labels=LABELS, random_weights=random_weights, completion_time="2024-05-02 10:00:00",
    )
    bundle = ExportBundle(tuple(items), model, "0.3.0", detection_threshold=0.2, classification_threshold=0.5)
    return Site(root, bundle)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "site1")
