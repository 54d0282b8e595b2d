"""Repeat-detection elimination: the planted rock is found, moving and bedded animals are not;
suppress/restore are ordinary, reversible decisions that every export follows."""

from __future__ import annotations

from wildlife_desktop.formats.bundle import ExportBundle, ExportItem, ModelInfo, detection_id
from wildlife_desktop.formats.decisions import REASON_REPEAT, ReviewDecision, apply_decisions
from wildlife_desktop.pipeline.sequences import assign_sequences
from wildlife_desktop.review.rde import RdeOptions, find_repeat_clusters, restore_records, suppress_records

from .season import ROCK, planted_season


def _seqs(preds):
    return assign_sequences((r, p.meta.datetime) for r, p in preds.items())


def _bundle(preds, seqs) -> ExportBundle:
    items = tuple(ExportItem(preds[r], seqs[r], tuple(detection_id(r, d) for d in preds[r].detections))
                  for r in sorted(preds))
    return ExportBundle(items, ModelInfo("md"), "test", 0.2, 0.5)


def test_planted_static_box_is_the_only_cluster() -> None:
    preds = planted_season()
    clusters = find_repeat_clusters(preds, _seqs(preds))
    assert len(clusters) == 1
    c = clusters[0]
    assert c.location == "cam1" and c.images == 30 and len(c.boxes) == 30 and c.events == 8
    assert c.location_images == 40
    assert abs(c.bbox.x - ROCK.x) < 0.01 and abs(c.bbox.y - ROCK.y) < 0.01
    assert {b.model_label for b in c.boxes} == {"impala"}
    assert 1 <= len(c.examples) <= 4 and set(c.examples) <= set(c.boxes)
    assert not c.is_suppressed


def test_thresholds_change_what_is_found() -> None:
    preds = planted_season()
    seqs = _seqs(preds)
    assert find_repeat_clusters(preds, seqs, options=RdeOptions(min_count=31)) == ()
    # the deer bedded down for one event recurs in 5 images: a cluster only when one event is enough
    one_event = find_repeat_clusters(preds, seqs, options=RdeOptions(min_events=1))
    assert sorted(c.images for c in one_event) == [5, 30]
    # a fraction of the location's images: 30/40 = 75 %
    assert len(find_repeat_clusters(preds, seqs, options=RdeOptions(min_fraction=0.8))) == 0
    assert len(find_repeat_clusters(preds, seqs, options=RdeOptions(min_fraction=0.7))) == 1
    # boxes too large are ignored
    assert find_repeat_clusters(preds, seqs, options=RdeOptions(max_box_area=0.004)) == ()


def test_a_box_a_person_called_an_animal_is_left_out() -> None:
    preds = planted_season()
    seqs = _seqs(preds)
    rock_boxes = find_repeat_clusters(preds, seqs)[0].boxes
    accepted = [ReviewDecision(b.file, b.detection_id, "accept", "impala", "ana", f"2024-07-01T10:00:{i:02d}")
                for i, b in enumerate(rock_boxes[:26])]
    assert find_repeat_clusters(preds, seqs, accepted) == ()  # 4 boxes left: fewer than 5 images


def test_suppress_then_restore_flows_into_exports() -> None:
    preds = planted_season()
    seqs = _seqs(preds)
    cluster = find_repeat_clusters(preds, seqs)[0]
    own = ReviewDecision(cluster.boxes[0].file, cluster.boxes[0].detection_id, "relabel", "hyrax", "ana",
                         "2024-07-01T09:00:00", cluster.boxes[0].bbox)
    history = [own]
    cluster = find_repeat_clusters(preds, seqs, history)[0]
    sup = suppress_records(cluster, history, reviewer="ana", time="2024-07-01T10:00:00")
    assert len(sup) == 29  # the relabelled box keeps the person's decision
    assert all(d.decision == "reject" and d.reason == REASON_REPEAT and d.group == cluster.cluster_id for d in sup)
    history += sup
    again = find_repeat_clusters(preds, seqs, history)
    assert len(again) == 1 and again[0].suppressed == 29 and again[0].is_suppressed
    assert suppress_records(again[0], history, reviewer="ana", time="x") == ()

    def boxes(hist):
        out = apply_decisions(_bundle(preds, seqs), hist)
        return sum(len(it.prediction.detections) for it in out.items)

    total = sum(len(p.detections) for p in preds.values())
    assert boxes([own]) == total
    assert boxes(history) == total - 29
    res = restore_records(again[0], history, reviewer="ana", time="2024-07-01T11:00:00")
    assert len(res) == 29 and all(d.decision == "clear" for d in res)
    history += res
    assert boxes(history) == total
    after = find_repeat_clusters(preds, seqs, history)[0]
    assert after.suppressed == 0 and not after.is_suppressed
