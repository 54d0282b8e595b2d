"""Thresholds from the user's own decisions, and counts from verified boxes (multi-animal images)."""

from __future__ import annotations

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.bundle import SequenceInfo, detection_id
from wildlife_desktop.formats.decisions import ReviewDecision
from wildlife_desktop.review.calibration import precision_by_class, suggest_thresholds
from wildlife_desktop.review.counts import verified_counts


def _d(kind: str, conf: float, model: str = "red_fox", label: str = "", n: int = 0) -> ReviewDecision:
    return ReviewDecision(f"f{n}.jpg", f"d{n}", kind, label, "ana", f"2026-01-01T00:00:{n:02d}",  # type: ignore[arg-type]
                          model_label=model, confidence=conf)


def test_precision_per_class_and_suggested_threshold() -> None:
    # red_fox: wrong below 0.6 (reject, relabel to badger), right at and above 0.6
    decs = [_d("reject", 0.3, n=1), _d("relabel", 0.5, label="badger", n=2)]
    decs += [_d("accept", 0.6 + i * 0.05, n=10 + i) for i in range(6)]
    decs += [_d("relabel", 0.9, label="red_fox", n=30)]  # relabel to the same label counts as right
    decs += [_d("unknown", 0.2, n=31), _d("accept", 0.7, model="badger", n=32)]  # unknown says nothing
    curves = precision_by_class(decs, steps=(0.0, 0.5, 0.6))
    fox = {p.threshold: (p.precision, p.support) for p in curves["red_fox"]}
    assert fox == {0.0: (7 / 9, 9), 0.5: (7 / 8, 8), 0.6: (1.0, 7)}
    sug = suggest_thresholds(decs, 0.95, min_support=5)
    assert (sug["red_fox"].threshold, sug["red_fox"].precision, sug["red_fox"].support) == (0.6, 1.0, 7)
    assert sug["badger"].threshold is None  # one decision is not enough support


def _det(x: float, label: str) -> Detection:
    return Detection("1", 0.9, BBox(x, 0.1, 0.1, 0.1), (Classification(label, 0.9),))


def test_counts_per_image_and_sequence_from_verified_boxes_only() -> None:
    a = Prediction("a.jpg", "image", MediaMeta(), (_det(0.1, "zebra"), _det(0.3, "zebra"), _det(0.5, "zebra")))
    b = Prediction("b.jpg", "image", MediaMeta(), (_det(0.1, "zebra"), _det(0.5, "lion")))
    c = Prediction("c.jpg", "image", MediaMeta(), (_det(0.1, "zebra"),))
    preds = {p.rel_path: p for p in (a, b, c)}
    seqs = {r: SequenceInfo("cam", "s1", i, 3) for i, r in enumerate(preds)}

    def dec(p: Prediction, i: int, kind: str, label: str = "", t: int = 0) -> ReviewDecision:
        return ReviewDecision(p.rel_path, detection_id(p.rel_path, p.detections[i]), kind, label,  # type: ignore[arg-type]
                              time=f"t{t:02d}")

    decisions = [dec(a, 0, "accept", "zebra"), dec(a, 1, "accept", "zebra"), dec(a, 2, "reject"),
                 dec(b, 0, "accept", "zebra"), dec(b, 1, "relabel", "hyena"),
                 dec(c, 0, "accept", "zebra", 1), ReviewDecision("c.jpg", "", "empty", time="t02")]
    counts = verified_counts(preds, decisions, seqs)
    assert counts.per_image == {"a.jpg": {"zebra": 2}, "b.jpg": {"zebra": 1, "hyena": 1}, "c.jpg": {}}
    assert counts.per_sequence == {("cam", "s1"): {"zebra": 2, "hyena": 1}}  # max per frame, not a sum
    assert counts.verified_empty == frozenset({"c.jpg"})


def test_non_finite_confidences_never_divide_by_zero_or_show_nan(tmp_path) -> None:
    """An old decisions.json may hold NaN/inf confidences: they are left out of every curve and suggestion."""
    import json
    import math

    from wildlife_desktop.formats.decisions import load_decisions

    good = [_d("accept", 0.6 + i * 0.05, n=10 + i) for i in range(6)]
    odd = [_d("accept", float("nan"), n=1), _d("reject", float("inf"), n=2), _d("reject", float("-inf"), n=3),
           _d("accept", float("nan"), model="badger", n=4)]
    state = tmp_path / ".wildlife"
    state.mkdir()
    (state / "decisions.json").write_text(  # json.dumps writes NaN/Infinity, as an old release could
        json.dumps({"schema_version": 1, "decisions": [d.to_dict() for d in odd + good]}), encoding="utf-8")
    decs = load_decisions(state)
    assert sum(1 for d in decs if d.confidence is not None and not math.isfinite(d.confidence)) == 4
    curves = precision_by_class(decs, steps=(0.0, 0.5, 0.9))
    for pts in curves.values():
        assert all(p.precision is None or math.isfinite(p.precision) for p in pts)
    fox = {p.threshold: (p.precision, p.support) for p in curves["red_fox"]}
    assert fox == {0.0: (1.0, 6), 0.5: (1.0, 6), 0.9: (None, 0)}
    sug = suggest_thresholds(decs, 0.95, min_support=5)
    assert (sug["red_fox"].threshold, sug["red_fox"].support) == (0.6, 6)
    assert "badger" not in sug  # its only decision has no usable confidence
