"""Compact, lossless JSON codec for :class:`Prediction` (used by the journal)."""

from __future__ import annotations

from typing import Any

from .records import BBox, Classification, Detection, MediaMeta, Prediction


def detection_to_dict(d: Detection) -> dict[str, Any]:
    out: dict[str, Any] = {"c": d.category, "p": d.confidence, "b": d.bbox.as_list()}
    if d.classifications:
        out["k"] = [[c.label, c.confidence] for c in d.classifications]
    if d.frame is not None:
        out["f"] = d.frame
    return out


def detection_from_dict(o: dict[str, Any]) -> Detection:
    x, y, w, h = (float(v) for v in o["b"])
    return Detection(
        category=str(o["c"]),
        confidence=float(o["p"]),
        bbox=BBox(x, y, w, h),
        classifications=tuple(Classification(str(lab), float(conf)) for lab, conf in o.get("k", ())),
        frame=None if o.get("f") is None else int(o["f"]),
    )


def prediction_to_dict(p: Prediction) -> dict[str, Any]:
    m = p.meta
    out: dict[str, Any] = {"file": p.rel_path, "kind": p.kind}
    meta = {
        k: v
        for k, v in (("w", m.width), ("h", m.height), ("dt", m.datetime), ("make", m.make), ("model", m.model))
        if v is not None
    }
    if m.orientation != 1:
        meta["o"] = m.orientation
    if meta:
        out["meta"] = meta
    if p.failure is not None:
        out["failure"] = p.failure
    else:
        out["det"] = [detection_to_dict(d) for d in p.detections]
    if p.frame_rate is not None:
        out["fps"] = p.frame_rate
    if p.frames_processed:
        out["frames"] = list(p.frames_processed)
    if p.video_label is not None:
        out["vlabel"] = p.video_label
    return out


def prediction_from_dict(o: dict[str, Any]) -> Prediction:
    meta = o.get("meta", {})
    return Prediction(
        rel_path=str(o["file"]),
        kind=o.get("kind", "image"),
        meta=MediaMeta(
            width=meta.get("w"),
            height=meta.get("h"),
            datetime=meta.get("dt"),
            make=meta.get("make"),
            model=meta.get("model"),
            orientation=int(meta.get("o", 1)),
        ),
        detections=tuple(detection_from_dict(d) for d in o.get("det", ())),
        failure=o.get("failure"),
        frame_rate=o.get("fps"),
        frames_processed=tuple(int(f) for f in o.get("frames", ())),
        video_label=o.get("vlabel"),
    )
