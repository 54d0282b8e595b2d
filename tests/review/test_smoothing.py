"""Smoothing suggestions on hand-made sequences whose answer is known."""

from __future__ import annotations

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.bundle import ExportBundle, ExportItem, ModelInfo, detection_id
from wildlife_desktop.formats.decisions import SOURCE_SMOOTHING, ReviewDecision, apply_decisions
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.smoothing import accept_records, smoothing_suggestions


def _pred(rel: str, t: str, *labels: tuple[str, float]) -> Prediction:
    dets = tuple(Detection("1", 0.8, BBox(0.1 + 0.2 * i, 0.2, 0.1, 0.1), (Classification(lab, c),))
                 for i, (lab, c) in enumerate(labels))
    return Prediction(rel, "image", MediaMeta(datetime=t), dets)


def _event() -> dict[str, Prediction]:
    """cam/A: 6 frames 5 s apart: 5 x zebra (0.9), 1 x wildebeest (0.3); an hour later a lone
    wildebeest at 0.3 (its own event: nothing to smooth). cam/B: two frames zebra vs impala at
    0.9 each (a tie: nothing)."""
    p = {f"A/{i}.jpg": _pred(f"A/{i}.jpg", f"2024-06-01 06:00:{5 * i:02d}", ("zebra", 0.9)) for i in range(6)}
    p["A/3.jpg"] = _pred("A/3.jpg", "2024-06-01 06:00:15", ("wildebeest", 0.3))
    p["A/lone.jpg"] = _pred("A/lone.jpg", "2024-06-01 07:00:00", ("wildebeest", 0.3))
    p["B/1.jpg"] = _pred("B/1.jpg", "2024-06-01 06:00:00", ("zebra", 0.9))
    p["B/2.jpg"] = _pred("B/2.jpg", "2024-06-01 06:00:05", ("impala", 0.9))
    return p


def _seqs(p):
    return assign_sequences((r, x.meta.datetime) for r, x in p.items())


def test_sequence_majority_is_proposed_for_the_odd_frame_only() -> None:
    p = _event()
    got = smoothing_suggestions(p, _seqs(p))
    assert [(s.file, s.current, s.suggested, s.support, s.level) for s in got] == [
        ("A/3.jpg", "wildebeest", "zebra", 5, "sequence")]
    assert got[0].group == "A/seq_00000"


def test_a_confident_minority_of_two_is_left_alone_and_decided_boxes_are_never_proposed() -> None:
    p = _event()
    p["A/4.jpg"] = _pred("A/4.jpg", "2024-06-01 06:00:20", ("wildebeest", 0.95))
    p["A/5.jpg"] = _pred("A/5.jpg", "2024-06-01 06:00:25", ("wildebeest", 0.95))
    # zebra 3 (frames 0-2) vs 2 confident wildebeest (> max_minority: left alone); frame 3 is
    # low-confidence, so the majority is proposed for it
    got = smoothing_suggestions(p, _seqs(p))
    assert [(s.file, s.suggested) for s in got] == [("A/3.jpg", "zebra")]
    odd = p["A/3.jpg"].detections[0]
    decided = [ReviewDecision("A/3.jpg", detection_id("A/3.jpg", odd), "accept", "wildebeest", "ana", "t")]
    assert smoothing_suggestions(p, _seqs(p), decided) == ()
    # a person's labels count: three verified wildebeest make it the majority
    verified = [ReviewDecision(r, detection_id(r, p[r].detections[0]), "relabel", "wildebeest", "ana", "t")
                for r in ("A/0.jpg", "A/1.jpg", "A/2.jpg")]
    got = smoothing_suggestions(p, _seqs(p), verified)
    assert got == ()  # wildebeest is now the majority (3 verified + 2 confident), frame 3 already says it


def test_image_level_many_boxes_and_other_labels() -> None:
    herd = _pred("C/herd.jpg", "2024-06-01 06:00:00", ("cow", 0.9), ("cow", 0.8), ("cow", 0.7), ("deer", 0.6),
                 ("unknown", 0.9))
    p = {"C/herd.jpg": herd}
    got = smoothing_suggestions(p, _seqs(p))
    assert sorted((s.current, s.suggested, s.level) for s in got) == [("deer", "cow", "image"),
                                                                       ("unknown", "cow", "image")]


def test_accepting_is_a_relabel_from_smoothing_and_exports_say_so() -> None:
    p = _event()
    seqs = _seqs(p)
    sugg = smoothing_suggestions(p, seqs)
    recs = accept_records(sugg, reviewer="ana", time="2024-07-01T10:00:00")
    assert [(r.decision, r.label, r.source) for r in recs] == [("relabel", "zebra", SOURCE_SMOOTHING)]
    items = tuple(ExportItem(p[r], seqs[r], tuple(detection_id(r, d) for d in p[r].detections)) for r in sorted(p))
    out = apply_decisions(ExportBundle(items, ModelInfo("md"), "t", 0.2, 0.5), recs)
    odd = next(it for it in out.items if it.prediction.rel_path == "A/3.jpg")
    assert odd.is_smoothed(0) and odd.is_verified(0) and odd.prediction.detections[0].top_label == "zebra"
    assert not any(it.is_smoothed(0) for it in out.items if it.prediction.rel_path != "A/3.jpg")
    assert smoothing_suggestions(p, seqs, recs) == ()
