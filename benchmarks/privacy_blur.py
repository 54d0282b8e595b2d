"""Cost of privacy by default: one grid thumbnail with and without a person box blurred.

What the thumbnail pool does per cell (``gui/workers.py``): the cached JPEG bytes become a
``QImage``; with a person box, the bytes are decoded to numpy, the box pixelated
(``pipeline/privacy.py``) and the array wrapped as a ``QImage``. Also one review-pane image
(1600 px) and one full-resolution copy for a species folder. Real Caltech JPEGs from
``../shared/samples``; nothing asserted; the last line is one JSON object.

    python benchmarks/privacy_blur.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[2] / "shared"
BOX = (0.55, 0.1, 0.3, 0.8)  # a standing person, a large box (the worst case: most pixels)


def _ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    from PySide6.QtGui import QImage

    from wildlife_desktop.core.records import BBox
    from wildlife_desktop.gui.image_io import array_to_qimage
    from wildlife_desktop.pipeline.images import load_image, thumbnail_bytes
    from wildlife_desktop.pipeline.privacy import blur_array, blur_encoded

    src = sorted((SHARED / "samples" / "caltech_cct").glob("*.jpg"))[0]
    data = thumbnail_bytes(src, 256)
    box = (BBox(*BOX),)
    plain = _ms(lambda: QImage.fromData(data), args.repeat)
    blurred = _ms(lambda: array_to_qimage(blur_encoded(data, box)), args.repeat)
    review = load_image(src, target=1600).array
    full = load_image(src).array
    review_ms = _ms(lambda: blur_array(review, box), max(10, args.repeat // 10))
    full_ms = _ms(lambda: blur_array(full, box), max(10, args.repeat // 10))
    print(f"thumbnail 256 px from cache: {plain:.2f} ms plain, {blurred:.2f} ms with a person blurred "
          f"(+{blurred - plain:.2f} ms a cell, on the 2-thread thumbnail pool)")
    print(f"blur only: review image {review.shape[1]}x{review.shape[0]} {review_ms:.2f} ms, "
          f"full {full.shape[1]}x{full.shape[0]} {full_ms:.2f} ms")
    print(json.dumps({"thumbnail_plain_ms": round(plain, 3), "thumbnail_blurred_ms": round(blurred, 3),
                      "review_blur_ms": round(review_ms, 3), "full_blur_ms": round(full_ms, 3),
                      "image": src.name}))


if __name__ == "__main__":
    main()
