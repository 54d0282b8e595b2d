"""Privacy by default in the window: thumbnails, the review image and Verify crops blur people,
until *View > Show people unblurred (this session)* is ticked; it is off at every start."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pytestqt.qtbot import QtBot

from tests.fixtures.publish_site import PERSON_BOX, make_publish_site
from tests.gui.helpers import show_window
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.pipeline.importer import import_results
from wildlife_desktop.pipeline.thumbnails import ThumbnailCache

PERSON_FILE = "camA/IMG_0004.JPG"


def _array(image: object) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = image.convertToFormat(QImage.Format.Format_RGB888)  # type: ignore[attr-defined]
    data = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return data[:, : img.width() * 3].reshape(img.height(), img.width(), 3).astype(np.int16)


def _box(arr: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    h, w = arr.shape[:2]
    x, y, bw, bh = box
    return arr[int(y * h) + 2:int((y + bh) * h) - 2, int(x * w) + 2:int((x + bw) * w) - 2]


def _hidden(shown: np.ndarray, source: np.ndarray) -> bool:
    """Inside the person box the pixels are far from the source's and their variance collapsed."""
    inside, orig = _box(shown, PERSON_BOX), _box(source, PERSON_BOX)
    return bool(np.abs(inside - orig).mean() > 15 and inside.std() < orig.std() / 3)


def _outside_same(shown: np.ndarray, source: np.ndarray) -> bool:
    w = shown.shape[1]
    return bool(np.abs(shown[:, : int(0.4 * w)] - source[:, : int(0.4 * w)]).mean() < 12)


def _window(qtbot: QtBot, folder: Path) -> MainWindow:
    win = show_window(qtbot)
    win.open_folder(folder)
    qtbot.waitUntil(lambda: win.folder == folder and win._results_loaded and win.model.done_count() > 0,
                    timeout=10_000)
    return win


def _thumbnail(qtbot: QtBot, win: MainWindow) -> np.ndarray:
    from PySide6.QtCore import Qt

    idx = win.model.index(win.model.row_of(PERSON_FILE))
    win.grid.view.scrollTo(idx) if hasattr(win.grid, "view") else None
    qtbot.waitUntil(lambda: win.model.data(idx, Qt.ItemDataRole.DecorationRole) is not None, timeout=10_000)
    return _array(win.model.data(idx, Qt.ItemDataRole.DecorationRole).toImage())


def _crop(qtbot: QtBot, win: MainWindow, key: str) -> np.ndarray:
    loader = win.verify.loader
    loader.set_folder(win.folder) if loader.folder != win.folder else None
    loader.request(key, PERSON_FILE, BBox(*PERSON_BOX), None)
    qtbot.waitUntil(lambda: loader.get(key) is not None, timeout=10_000)
    shown = loader.get(key)
    assert shown is not None and shown.frame is not None
    return _array(shown.frame)


def test_people_are_blurred_until_unlocked_for_the_session(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "site"
    import_results(folder, make_publish_site(folder))
    with Image.open(folder / PERSON_FILE) as im:
        source = np.asarray(im.convert("RGB")).astype(np.int16)
    win = _window(qtbot, folder)
    assert not win.unblur_action.isChecked() and not win.privacy.unblurred

    cached = ThumbnailCache.for_paths(AppPaths.default())
    thumb = _thumbnail(qtbot, win)
    with Image.open(io.BytesIO(cached.get(folder / PERSON_FILE))) as im:
        thumb_source = np.asarray(im.convert("RGB")).astype(np.int16)  # the disk cache: blurred after it
    assert thumb.shape == thumb_source.shape and _hidden(thumb, thumb_source) and _outside_same(thumb, thumb_source)

    win.grid.select_row(win.model.row_of(PERSON_FILE))
    qtbot.waitUntil(lambda: win.review.current_rel_path() == PERSON_FILE and win.review.canvas.has_image()
                    and win.controller.preview_blur[0] == PERSON_FILE, timeout=10_000)
    qtbot.waitUntil(win.review.image_settled, timeout=10_000)
    review = _array(win.review.canvas._pixmap_item.pixmap().toImage())
    assert _hidden(review, source) and _outside_same(review, source)

    crop = _crop(qtbot, win, "k1")  # the Verify page's whole frame, cut from the same blurred pixels
    assert _hidden(crop, source) and _outside_same(crop, source)

    win.unblur_action.trigger()  # View > Show people unblurred (this session)
    assert win.privacy.unblurred
    thumb = _thumbnail(qtbot, win)
    assert not _hidden(thumb, thumb_source) and np.abs(thumb - thumb_source).mean() < 12
    qtbot.waitUntil(lambda: win.controller.preview_blur == (PERSON_FILE, ()), timeout=10_000)
    crop = _crop(qtbot, win, "k2")
    assert np.abs(crop - source).mean() < 12  # shown as it is

    win.close()
    again = _window(qtbot, folder)  # a new start: blurred again
    assert not again.unblur_action.isChecked() and not again.privacy.unblurred
    assert _hidden(_thumbnail(qtbot, again), thumb_source)
