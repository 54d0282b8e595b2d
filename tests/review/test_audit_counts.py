"""The empty-image audit on a folder whose true miss rate is known; event counts with edits."""

from __future__ import annotations

from wildlife_desktop.core.records import BBox, Classification, Detection, MediaMeta, Prediction
from wildlife_desktop.formats.bundle import detection_id
from wildlife_desktop.formats.decisions import ReviewDecision
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.audit import audit_report, audit_sample, wilson_interval
from wildlife_desktop.review.counts import count_record, event_counts, image_counts


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(10, 100)
    assert abs(low - 0.0552) < 1e-3 and abs(high - 0.1744) < 1e-3
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0


def _folder() -> tuple[dict[str, Prediction], dict[str, bool]]:
    """cam1: 100 detected images (conf 0.9) and 200 'empty' ones; exactly 1 in 5 of those holds a
    missed animal (truth), whose best box is at 0.12; the truly empty have a box at 0.03 or none."""
    preds, truth = {}, {}
    for i in range(100):
        rel = f"cam1/det_{i:03d}.jpg"
        preds[rel] = Prediction(rel, "image", MediaMeta(), (Detection("1", 0.9, BBox(0.1, 0.1, 0.2, 0.2)),))
    for i in range(200):
        rel = f"cam1/emp_{i:03d}.jpg"
        animal = i % 5 == 0
        conf = 0.12 if animal else 0.03
        dets = (Detection("1", conf, BBox(0.5, 0.5, 0.1, 0.1)),) if animal or i % 2 else ()
        preds[rel] = Prediction(rel, "image", MediaMeta(), dets)
        truth[rel] = animal
    return preds, truth


def test_audit_estimates_the_known_miss_rate_and_suggests_a_threshold() -> None:
    preds, truth = _folder()
    locs = {r: "cam1" for r in preds}
    sample = audit_sample(preds, locs, threshold=0.2, per_camera=60, seed=7)
    assert sample == audit_sample(preds, locs, threshold=0.2, per_camera=60, seed=7)  # seeded
    assert sample != audit_sample(preds, locs, threshold=0.2, per_camera=60, seed=8)
    files = sample["cam1"]
    assert len(files) == 60 and all(r.startswith("cam1/emp_") for r in files)
    answers = [ReviewDecision(r, "", "missed" if truth[r] else "empty", "", "ana", "t", source="audit") for r in files]
    rep = audit_report(preds, locs, sample, answers, threshold=0.2, target_recall=0.95, seed=7, per_camera=60)
    cam = rep.cameras[0]
    k = sum(truth[r] for r in files)
    assert cam.empty_images == 200 and cam.detected_images == 100 and cam.answered == 60 and cam.missed == k
    assert cam.miss_rate_low <= 0.2 <= cam.miss_rate_high  # the true rate is inside the interval
    assert abs(cam.miss_rate - k / 60) < 1e-12
    assert abs(cam.estimated_recall - 100 / (100 + 200 * k / 60)) < 1e-12
    assert cam.suggested_threshold == 0.12  # the missed animals' boxes
    # at 0.12 every sampled animal is caught and no truly empty image (0.03) is added
    assert abs(cam.extra_images_to_review - 200 * k / 60) < 1e-9


def test_unanswered_sample_gives_no_estimate() -> None:
    preds, _ = _folder()
    locs = {r: "cam1" for r in preds}
    sample = audit_sample(preds, locs, threshold=0.2, per_camera=10)
    cam = audit_report(preds, locs, sample, [], threshold=0.2).cameras[0]
    assert cam.answered == 0 and cam.miss_rate is None and cam.suggested_threshold is None


def test_event_counts_are_the_max_over_frames_and_edits_win() -> None:
    def pred(rel, t, n):
        dets = tuple(Detection("1", 0.9, BBox(0.1 * i, 0.1, 0.05, 0.05), (Classification("zebra", 0.9),))
                     for i in range(n))
        return Prediction(rel, "image", MediaMeta(datetime=t), dets)
    p = {"A/1.jpg": pred("A/1.jpg", "2024-06-01 06:00:00", 2), "A/2.jpg": pred("A/2.jpg", "2024-06-01 06:00:05", 3),
         "A/3.jpg": pred("A/3.jpg", "2024-06-01 06:00:10", 1)}
    seqs = assign_sequences((r, x.meta.datetime) for r, x in p.items())
    (ev,) = event_counts(p, seqs)
    assert (ev.label, ev.count, ev.start, ev.end, ev.verified, ev.edited) == (
        "zebra", 3, "2024-06-01 06:00:00", "2024-06-01 06:00:10", False, False)
    # the person counts 7 zebras in frame 1 (the herd is partly hidden) and rejects a box of frame 2
    rej = ReviewDecision("A/2.jpg", detection_id("A/2.jpg", p["A/2.jpg"].detections[0]), "reject", "", "ana", "t")
    decs = [count_record("A/1.jpg", "zebra", 7, reviewer="ana", time="t"), rej]
    assert image_counts(p, decs)["A/1.jpg"] == {"zebra": (7, True, True)}
    assert image_counts(p, decs)["A/2.jpg"] == {"zebra": (2, False, False)}
    (ev,) = event_counts(p, seqs, decs)
    assert ev.count == 7 and ev.edited and not ev.verified
    assert event_counts(p, seqs, decs, verified_only=True)[0].count == 7
