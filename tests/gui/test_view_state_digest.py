"""PredictionDigest answers exactly what Thresholds.status/top answer, at every threshold."""

from __future__ import annotations

import random

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.gui.view_state import PredictionDigest, Thresholds


def _pred(rng: random.Random, i: int) -> Prediction:
    dets = []
    for _ in range(rng.choice((0, 1, 2, 3, 5))):
        cls = (Classification(rng.choice(("deer", "fox")), round(rng.random(), 2)),) if rng.random() < 0.5 else ()
        dets.append(Detection(rng.choice("11234"), round(rng.random(), 1), BBox(0.1, 0.1, 0.2, 0.2),
                              classifications=cls))
    failure = "unreadable" if rng.random() < 0.1 else None
    return Prediction(f"f{i}.jpg", "image", MediaMeta(), tuple(() if failure else dets), failure=failure)


def test_digest_matches_thresholds() -> None:
    rng = random.Random(5)
    preds = [_pred(rng, i) for i in range(300)]
    for det_t in (0.0, 0.1, 0.35, 0.5, 0.9, 1.0):
        for cls_t in (0.0, 0.5, 1.0):
            th = Thresholds(det_t, cls_t)
            for p in preds:
                d = PredictionDigest.of(p)
                assert th.status_of(d) == th.status(p)
                assert th.top_of(d) == th.top(p)
    assert Thresholds().status_of(None) == Thresholds().status(None)
    assert Thresholds().top_of(None) is None
