"""Review pane thresholds, thumbnail model filters and the Qt-free thumbnail cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from tests.gui.conftest import CCT_DIR
from wildlife_desktop.core.errors import ImageReadError
from wildlife_desktop.core.records import BBox, Classification, Detection, MediaFile, Prediction
from wildlife_desktop.gui.item_models.thumbnail_model import SortKey, ThumbnailModel, ThumbRole
from wildlife_desktop.gui.view_state import FileStatus, Thresholds
from wildlife_desktop.gui.widgets.review_pane import ReviewPaneWidget
from wildlife_desktop.pipeline.thumbnails import ThumbnailCache


def _pred(rel: str, *confs: float, cat: str = "1", label: str | None = None) -> Prediction:
    cls = (Classification(label, 0.9),) if label else ()
    dets = tuple(Detection(cat, c, BBox(0.1 * i, 0.1, 0.2, 0.2), cls) for i, c in enumerate(confs))
    return Prediction(rel, "image", detections=dets)


def test_thresholds_filter_what_the_review_pane_shows(qtbot: QtBot) -> None:
    pane = ReviewPaneWidget()
    qtbot.addWidget(pane)
    pane.resize(800, 600)
    pane.show()
    pred = _pred("a.jpg", 0.9, 0.5, 0.1, label="deer")
    pane.show_file("a.jpg", pred)
    pix = QPixmap(400, 300)
    pix.fill()
    pane.set_image("a.jpg", pix)
    assert pane.det_slider.value() == 20
    assert pane.visible_detection_count() == 2
    with qtbot.waitSignal(pane.sig_thresholds_changed) as blocker:
        pane.det_slider.setValue(60)
    assert blocker.args[0] == Thresholds(0.6, 0.5)
    assert pane.visible_detection_count() == 1
    pane.det_slider.setValue(5)
    assert pane.visible_detection_count() == 3
    assert pane.detections.count() == 3
    # Classification threshold above the label's confidence: fall back to the category name.
    assert "deer" in pane.detections.item(0).text()
    pane.cls_slider.setValue(95)
    assert pane.detections.item(0).text().split()[1] == "animal"
    # The stored prediction is untouched.
    assert len(pred.detections) == 3


def test_stale_image_load_is_ignored(qtbot: QtBot) -> None:
    pane = ReviewPaneWidget()
    qtbot.addWidget(pane)
    pane.show_file("b.jpg", None)
    pix = QPixmap(10, 10)
    pane.set_image("a.jpg", pix)  # arrives after the user moved on
    assert not pane.canvas.has_image() and not pane.image_settled()


def test_model_filter_sort_and_threshold_status(qtbot: QtBot) -> None:
    m = ThumbnailModel()
    files = [MediaFile(n, 1, i, "image") for i, n in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"])]
    m.set_files(Path("/x"), files)
    m.set_predictions([_pred("a.jpg", 0.3, label="fox"), _pred("b.jpg", 0.95, label="deer"),
                       _pred("c.jpg", 0.1), Prediction("d.jpg", "image", failure="truncated")])
    status = [m.data(m.index(r), ThumbRole.STATUS) for r in range(4)]
    assert status == [FileStatus.ANIMAL, FileStatus.ANIMAL, FileStatus.EMPTY, FileStatus.FAILED]
    assert m.data(m.index(1), ThumbRole.TOP) == ("deer", 0.95)
    m.set_filter(FileStatus.ANIMAL.value)
    assert [m.media_at(r).rel_path for r in range(m.rowCount())] == ["a.jpg", "b.jpg"]
    m.set_sort(SortKey.CONFIDENCE, descending=True)
    assert [m.media_at(r).rel_path for r in range(m.rowCount())] == ["b.jpg", "a.jpg"]
    m.set_thresholds(Thresholds(0.5, 0.5))  # a.jpg drops to empty
    assert [m.media_at(r).rel_path for r in range(m.rowCount())] == ["b.jpg"]
    m.set_filter("label:deer")
    assert m.rowCount() == 1
    m.set_filter(None)
    assert m.rowCount() == 4 and m.labels() == ["deer"]


def test_thumbnail_cache_hits_and_keys_on_mtime(tmp_path: Path) -> None:
    src = sorted(CCT_DIR.glob("*.jpg"))[0]
    img = tmp_path / "img.jpg"
    shutil.copy2(src, img)
    cache = ThumbnailCache(tmp_path / "cache", px=128)
    data = cache.get(img)
    assert data[:2] == b"\xff\xd8"
    st = img.stat()
    assert cache.cached(img, st.st_size, st.st_mtime_ns) == data
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == 1
    import os

    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    st2 = img.stat()
    assert cache.cached(img, st2.st_size, st2.st_mtime_ns) is None
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(ImageReadError):
        cache.get(tmp_path / "bad.jpg")
