"""Result layers and the append-only journal: torn lines, changed files, model separation."""

from __future__ import annotations

from pathlib import Path

from wildlife_desktop.core.codec import prediction_from_dict, prediction_to_dict
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.records import BBox, Classification, Detection, MediaFile, MediaMeta, Prediction
from wildlife_desktop.pipeline.journal import Journal, LayerInfo, Workspace, current_entries


def _pred(rel: str, conf: float = 0.9) -> Prediction:
    det = Detection("1", conf, BBox(0.1, 0.2, 0.3, 0.4), (Classification("ñandú", 0.7), Classification("fox", 0.2)))
    return Prediction(rel, "image", MediaMeta(640, 480, "2024-05-01 06:00:00", "RECONYX", "HC600"), (det,))


def test_codec_round_trip_is_lossless() -> None:
    video = Prediction("v.mp4", "video", MediaMeta(320, 180), (Detection("2", 0.5, BBox(0, 0, 1, 1), frame=30),),
                       frame_rate=29.97, frames_processed=(0, 30), video_label="person")
    failed = Prediction("bad.jpg", "image", failure="truncated or corrupt JPEG")
    for p in (_pred("a.jpg"), video, failed):
        assert prediction_from_dict(prediction_to_dict(p)) == p


def test_journal_skips_torn_and_corrupt_lines(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")
    j.append(("a.jpg", 10, 1), _pred("a.jpg"))
    j.append(("b.jpg", 11, 2), _pred("b.jpg"))
    j.close()
    raw = (tmp_path / "journal.jsonl").read_text(encoding="utf-8")
    lines = raw.splitlines()
    # corrupt b's payload (CRC no longer matches) and add a torn line as a kill -9 would leave it
    lines[2] = lines[2].replace("0.9", "0.1")
    (tmp_path / "journal.jsonl").write_text("\n".join(lines) + "\n" + lines[1][:40], encoding="utf-8")
    loaded = Journal(tmp_path / "journal.jsonl").load()
    assert set(loaded) == {"a.jpg"}
    # appending after a torn tail starts a fresh line instead of gluing onto the torn one
    j2 = Journal(tmp_path / "journal.jsonl")
    j2.append(("c.jpg", 12, 3), _pred("c.jpg"))
    j2.close()
    assert set(Journal(tmp_path / "journal.jsonl").load()) == {"a.jpg", "c.jpg"}


def test_changed_file_is_not_current(tmp_path: Path) -> None:
    entries = {"a.jpg": (("a.jpg", 10, 1), _pred("a.jpg")), "b.jpg": (("b.jpg", 11, 2), _pred("b.jpg"))}
    files = (MediaFile("a.jpg", 10, 1, "image"), MediaFile("b.jpg", 99, 2, "image"))  # b was replaced
    assert set(current_entries(entries, files)) == {"a.jpg"}


def test_other_model_or_floor_gives_another_layer(tmp_path: Path) -> None:
    base = LayerInfo(source="run", detector="md.onnx", detector_id="md", detector_sha256="aa")
    assert base.layer_id == LayerInfo(source="run", detector="md.onnx", detector_id="md",
                                      detector_sha256="aa").layer_id
    assert base.layer_id != LayerInfo(source="run", detector="md.onnx", detector_id="md",
                                      detector_sha256="bb").layer_id
    assert base.layer_id != LayerInfo(source="run", detector="md.onnx", detector_id="md", detector_sha256="aa",
                                      conf_floor=0.1).layer_id
    assert base.layer_id != LayerInfo(source="run", detector="md.onnx", detector_id="md", detector_sha256="aa",
                                      classifier_sha256="cc").layer_id


def test_workspace_falls_back_when_folder_is_read_only(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "sd card"
    folder.mkdir()
    paths = AppPaths.under(tmp_path / "home")
    os.chmod(folder, 0o555)
    try:
        ws = Workspace.locate(folder, paths, create=True)
        assert ws is not None
        # even as root (who bypasses permission bits) a folder with no write bits is left alone
        assert ws.redirected and str(ws.out_dir).startswith(str(paths.data))
        assert not (folder / ".wildlife").exists()
        lid = ws.ensure_layer(LayerInfo(source="run", detector="x.onnx"))
        ws.set_active(lid)
        again = Workspace.locate(folder, paths, create=False)
        assert again is not None and again.out_dir == ws.out_dir and again.active_layer_id == lid
    finally:
        os.chmod(folder, 0o755)
