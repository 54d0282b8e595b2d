"""Off-thread crop decoding with prefetch for the Verify page.

Threading contract: :class:`CropLoader` lives on the GUI thread. Each request decodes the full
image through ``pipeline.images.load_image`` on the global pool, cuts the padded box and
scales a small copy of the whole frame, all as ``QImage`` (safe off the GUI thread); results
come back through :func:`workers.run_in_pool` on the GUI thread, where ``sig_ready(key)`` is
emitted. A generation counter drops results of a folder the user already left. The cache is a
small LRU, so the page can prefetch the next crops and step back without decoding again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QRect, Qt, Signal
from PySide6.QtGui import QImage

from ..core.records import BBox
from .image_io import array_to_qimage

#: Padding around the box, as a fraction of its size on each side (context helps identification).
CROP_PAD: Final = 0.15
CROP_MIN_PX: Final = 48
CROP_MAX_SIDE: Final = 1400
FRAME_MAX_SIDE: Final = 800
THUMB_SIDE: Final = 200
CACHE_SIZE: Final = 24


@dataclass(frozen=True)
class CropImages:
    """What the Verify page shows for one detection. ``error`` is set when decoding failed."""

    crop: QImage | None
    frame: QImage | None
    error: str = ""


def padded_rect(bbox: BBox, width: int, height: int, pad: float = CROP_PAD) -> QRect:
    """Pixel rectangle of ``bbox`` grown by ``pad`` on each side, clipped to the image."""
    x, y, w, h = bbox.to_pixels(width, height)
    px, py = max(w * pad, (CROP_MIN_PX - w) / 2), max(h * pad, (CROP_MIN_PX - h) / 2)
    x0, y0 = max(0, int(x - px)), max(0, int(y - py))
    x1, y1 = min(width, int(x + w + px + 0.999)), min(height, int(y + h + py + 0.999))
    return QRect(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def _fit(img: QImage, side: int) -> QImage:
    if max(img.width(), img.height()) <= side:
        return img
    return img.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def decode_crop(path: Path, bbox: BBox, frame: int | None = None, blur: tuple[BBox, ...] = ()) -> CropImages:
    """Decode ``path`` (or frame ``frame`` of a video) and cut ``bbox`` (pool thread; no QPixmap).

    ``blur``: boxes hidden (``pipeline.privacy``) before the crop and the frame are cut.
    """
    from ..core.errors import ImageReadError
    from ..pipeline.images import load_image
    from ..pipeline.privacy import blur_array
    from ..pipeline.video import read_frame

    try:
        array = load_image(path).array if frame is None else read_frame(path, frame)
    except ImageReadError as exc:
        return CropImages(None, None, str(exc))
    full = array_to_qimage(blur_array(array, blur))
    crop = full.copy(padded_rect(bbox, full.width(), full.height()))
    return CropImages(_fit(crop, CROP_MAX_SIDE), _fit(full, FRAME_MAX_SIDE))


def decode_grid_crop(path: Path, bbox: BBox, side: int, frame: int | None = None,
                     blur: tuple[BBox, ...] = ()) -> QImage | None:
    """A small crop of ``bbox`` (long side ``side``) for the crop grid; pool thread; None when unreadable.

    JPEGs are decoded at the smallest DCT scale that still gives the box ``side`` pixels.
    """
    from ..pipeline.images import load_image
    from ..pipeline.privacy import blur_array
    from ..pipeline.video import read_frame

    try:
        if frame is None:
            target = int(min(8192, max(side, side / max(bbox.w, bbox.h, 1e-3))))
            array = load_image(path, target=target).array
        else:
            array = read_frame(path, frame)
        full = array_to_qimage(blur_array(array, blur) if blur else array)
    except Exception:  # noqa: BLE001 - an unreadable file is a grey cell, not a crash
        return None
    crop = full.copy(padded_rect(bbox, full.width(), full.height()))
    return None if crop.isNull() else _fit(crop, side)


def decode_thumbnail(path: Path, blur: tuple[BBox, ...] = ()) -> QImage | None:
    from ..pipeline.images import thumbnail_bytes
    from ..pipeline.privacy import blur_encoded

    try:
        data = thumbnail_bytes(path, THUMB_SIDE)
        img = array_to_qimage(blur_encoded(data, blur)) if blur else QImage.fromData(data)
    except Exception:  # noqa: BLE001 - a broken neighbour frame is just not shown
        return None
    return None if img.isNull() else img


class CropLoader(QObject):
    """Decodes crops and sequence thumbnails off the GUI thread; see the module docstring."""

    sig_ready = Signal(str)  # cache key of a crop
    sig_thumbnail_ready = Signal(str)  # rel_path of a sequence thumbnail

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self._generation = 0
        self._crops: OrderedDict[str, CropImages] = OrderedDict()
        self._thumbs: OrderedDict[str, QImage | None] = OrderedDict()
        self._in_flight: set[str] = set()
        #: (rel_path, frame) -> boxes to blur (gui/privacy.py); asked on the GUI thread per request
        self.blur_boxes: Callable[..., tuple[BBox, ...]] | None = None
        self._blur_of: dict[str, tuple[str, int | None, tuple[BBox, ...]]] = {}  # key -> (rel, frame, boxes used)

    def refresh_blur(self) -> int:
        """Forget the crops and thumbnails blurred with other boxes than :attr:`blur_boxes` gives now
        (the privacy switch moved, a decision made a box a person or not). Returns how many."""
        if self.blur_boxes is None:
            return 0
        stale = [k for k in self._crops if (u := self._blur_of.get(k)) is not None and self.blur_boxes(*u[:2]) != u[2]]
        used = self._blur_of
        stale_thumbs = [r for r in self._thumbs if self.blur_boxes(r) != used.get("thumb:" + r, ("", 0, ()))[2]]
        for k in stale:
            del self._crops[k]
        for r in stale_thumbs:
            del self._thumbs[r]
        if stale or stale_thumbs:
            self._generation += 1  # decodes on their way used the old boxes
            self._in_flight.clear()
        return len(stale) + len(stale_thumbs)

    def set_folder(self, folder: Path | None) -> None:
        self.folder = folder
        self._generation += 1
        self._crops.clear()
        self._thumbs.clear()
        self._in_flight.clear()
        self._blur_of = {}

    def get(self, key: str) -> CropImages | None:
        hit = self._crops.get(key)
        if hit is not None:
            self._crops.move_to_end(key)
        return hit

    def thumbnail(self, rel_path: str) -> QImage | None:
        return self._thumbs.get(rel_path)

    def is_loading(self, key: str) -> bool:
        return key in self._in_flight

    def request(self, key: str, rel_path: str, bbox: BBox, frame: int | None = None) -> None:
        """Decode the crop of ``bbox`` in ``rel_path`` (video: in ``frame``) unless cached or on its way."""
        from .workers import run_in_pool

        if self.folder is None or key in self._crops or key in self._in_flight:
            return
        self._in_flight.add(key)
        gen, path = self._generation, self.folder / rel_path
        blur = self.blur_boxes(rel_path, frame) if self.blur_boxes is not None else ()
        self._blur_of[key] = (rel_path, frame, blur)

        def done(images: CropImages) -> None:
            if gen != self._generation:
                return
            self._in_flight.discard(key)
            self._crops[key] = images
            while len(self._crops) > CACHE_SIZE:
                self._crops.popitem(last=False)
            self.sig_ready.emit(key)

        def failed(exc: BaseException) -> None:
            done(CropImages(None, None, str(exc)))

        run_in_pool(lambda: decode_crop(path, bbox, frame, blur), done, failed, self)

    def request_thumbnail(self, rel_path: str) -> None:
        from .workers import run_in_pool

        tkey = "thumb:" + rel_path
        if self.folder is None or rel_path in self._thumbs or tkey in self._in_flight:
            return
        self._in_flight.add(tkey)
        gen, path = self._generation, self.folder / rel_path
        blur = self.blur_boxes(rel_path) if self.blur_boxes is not None else ()
        self._blur_of[tkey] = (rel_path, None, blur)

        def done(img: QImage | None) -> None:
            if gen != self._generation:
                return
            self._in_flight.discard(tkey)
            self._thumbs[rel_path] = img
            while len(self._thumbs) > CACHE_SIZE * 2:
                self._thumbs.popitem(last=False)
            self.sig_thumbnail_ready.emit(rel_path)

        run_in_pool(lambda: decode_thumbnail(path, blur), done, lambda _e: done(None), self)
