"""Privacy by default: the people (and optionally vehicles) in an image, blurred before anyone sees them.

Which boxes: the detection *category* after the human decisions (``formats.decisions``): a box a
person verified as a person is a person at any confidence, a box a person rejected is not, a box
relabelled to ``person`` becomes one. Model boxes count from :func:`privacy_threshold`, taken from
the detector's own thresholds (its manifest, stored in the result layer) rather than from any
model name: the detector's *conservative* threshold, because an unblurred person costs more than
a blurred badger. (Category floors, e.g. NanoDet's person floor, are applied when the boxes are
made: a box below its floor is never stored.)

How: the whole box, enlarged by :data:`BOX_MARGIN` on each side, is averaged down to blocks of
about 1/:data:`BLOCKS_PER_BOX` of its long side and scaled back up bilinearly (smooth, not
blocky). The averaging throws the pixels away (not reversible, unlike a light blur); pixels
outside the enlarged box are unchanged.

Everything here is Qt-free and returns new arrays or bytes: the GUI blurs on its worker pool
before pixels reach Qt, and exports blur their copies; originals are never touched. The
thumbnail disk cache keeps the unblurred thumbnail and the blur is applied after the cache, so a
decision that unblurs (a rejected false person) needs no cache rewrite, and nothing blurred is
ever cached under an unblurred key.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np

from ..core.records import BBox, Prediction
from ..formats.bundle import ExportBundle, ExportItem, ModelInfo, SequenceInfo, detection_id
from ..formats.decisions import ReviewDecision, apply_decisions

PERSON: Final = "2"
VEHICLE: Final = "3"
#: Person confidence from which a box is blurred when the layer does not say (conservative).
DEFAULT_PERSON_THRESHOLD: Final = 0.1
#: Each side of a box grows by this fraction of its size before blurring (limbs, hair, shadows).
BOX_MARGIN: Final = 0.1
#: The blurred region is pixelated to about this many blocks along its long side.
BLOCKS_PER_BOX: Final = 8
MIN_BLOCK_PX: Final = 4
#: ``frame`` argument meaning "the boxes of every frame" (a video's thumbnail, first frame).
ANY_FRAME: Final = -1


def privacy_threshold(layer: object | None) -> float:
    """Confidence from which a model's person box is blurred: the detector's conservative threshold.

    ``layer``: a ``pipeline.journal.LayerInfo`` (or anything with ``conservative_threshold``);
    ``None`` gives :data:`DEFAULT_PERSON_THRESHOLD`.
    """
    value = getattr(layer, "conservative_threshold", None)
    if not isinstance(value, int | float) or not 0.0 < float(value) <= 1.0:
        return DEFAULT_PERSON_THRESHOLD
    return min(float(value), float(getattr(layer, "typical_threshold", value) or value))


def categories(blur_vehicles: bool = False) -> frozenset[str]:
    """The detector categories that are blurred: people, and vehicles when asked."""
    return frozenset({PERSON, VEHICLE}) if blur_vehicles else frozenset({PERSON})


def item_boxes(item: ExportItem, threshold: float, cats: Iterable[str] = (PERSON,),
               frame: int | None = ANY_FRAME) -> tuple[BBox, ...]:
    """Boxes of ``item`` (decisions already merged) to blur: category in ``cats``, confident or verified.

    ``frame``: :data:`ANY_FRAME` for every frame's boxes, ``None`` for a still image's, else one
    video frame's.
    """
    wanted = frozenset(cats)
    dets = item.prediction.detections
    return tuple(
        d.bbox for i, d in enumerate(dets)
        if d.category in wanted and (d.confidence >= threshold or item.is_verified(i))
        and (frame == ANY_FRAME or d.frame == frame)
    )


def decided_item(prediction: Prediction, decisions: Sequence[ReviewDecision] = ()) -> ExportItem:
    """``prediction`` as the people who reviewed it decided (``formats.decisions.apply_decisions``).

    ``decisions``: that file's decisions (others are ignored).
    """
    rel = prediction.rel_path
    ids = tuple(detection_id(rel, d) for d in prediction.detections)
    item = ExportItem(prediction, SequenceInfo("", "", 0, 1), ids)
    mine = [d for d in decisions if d.file == rel]
    if not mine:
        return item
    bundle = ExportBundle((item,), ModelInfo(detector=""), "", 1.0, 1.0)
    return apply_decisions(bundle, mine).items[0]


def privacy_boxes(prediction: Prediction | None, decisions: Sequence[ReviewDecision] = (), *,
                  threshold: float = DEFAULT_PERSON_THRESHOLD, blur_vehicles: bool = False,
                  frame: int | None = ANY_FRAME) -> tuple[BBox, ...]:
    """The boxes of one file to blur on screen or in a copy (empty when there are none, or no results)."""
    if prediction is None or prediction.failed or not prediction.detections:
        return ()
    cats = categories(blur_vehicles)
    if not decisions and not any(d.category in cats for d in prediction.detections):
        return ()  # the usual case, without building an item
    return item_boxes(decided_item(prediction, decisions), threshold, cats, frame)


def _pixel_rect(box: BBox, width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of ``box`` grown by ``margin``, rounded outwards, clipped to the image."""
    mx, my = box.w * margin, box.h * margin
    x0 = max(0, math.floor((box.x - mx) * width))
    y0 = max(0, math.floor((box.y - my) * height))
    x1 = min(width, math.ceil((box.x + box.w + mx) * width))
    y1 = min(height, math.ceil((box.y + box.h + my) * height))
    return x0, y0, x1, y1


def blur_region(region: np.ndarray) -> np.ndarray:
    """A pixelated (block means) and smoothed copy of ``region`` (``(h, w, c)`` uint8); same shape."""
    import cv2

    h, w = region.shape[:2]
    block = max(MIN_BLOCK_PX, math.ceil(max(h, w) / BLOCKS_PER_BOX))
    small = cv2.resize(region, (max(1, math.ceil(w / block)), max(1, math.ceil(h / block))),
                       interpolation=cv2.INTER_AREA)
    # Bilinear back up: the blocks' means blend smoothly (a blur of block size, at the cost of a
    # resize; a Gaussian of that width took 220 ms on a 3 MP frame).
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def blur_array(array: np.ndarray, boxes: Iterable[BBox], *, margin: float = BOX_MARGIN) -> np.ndarray:
    """A copy of ``array`` (RGB ``(h, w, 3)`` uint8) with every box (enlarged) blurred.

    Returns ``array`` itself when there is nothing to blur (no copy).
    """
    boxes = tuple(boxes)
    if not boxes:
        return array
    out = np.array(array, copy=True)
    h, w = out.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = _pixel_rect(box, w, h, margin)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = blur_region(out[y0:y1, x0:x1])
    return out


def blur_encoded(data: bytes, boxes: Iterable[BBox]) -> np.ndarray:
    """Decode image bytes (a cached thumbnail) and return the RGB array with ``boxes`` blurred."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        array = np.asarray(im.convert("RGB"))
    return blur_array(array, boxes)


def encode_jpeg(array: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of an RGB array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
