"""Runs that never die on one file, a full disk, leftovers of a kill (issue 11, items 6 and 7)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.md_validator import md_validation
from wildlife_desktop.core.errors import SidecarWriteError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.pipeline import job as job_mod
from wildlife_desktop.pipeline.job import FileProcessed, JobConfig, JobFinished, run_job
from wildlife_desktop.pipeline.journal import Journal

SHAPES = {"wide.jpg": (8000, 1), "tall.jpg": (1, 8000), "dot.jpg": (1, 1), "strip.png": (2000, 3),
          "normal.jpg": (64, 48)}


def _card(root: Path) -> Path:
    root.mkdir(parents=True)
    for i, (name, size) in enumerate(SHAPES.items()):
        Image.new("RGB", size, (200 - 30 * i, 180, 90)).save(root / name)
    return root


def _processed(events: list[object]) -> dict[str, object]:
    return {e.prediction.rel_path: e.prediction for e in events if isinstance(e, FileProcessed)}


@pytest.mark.parametrize("decode_workers", [1, 3])
def test_extreme_shapes_are_processed_or_fail_cleanly(tmp_path: Path, paths: AppPaths, models: tuple[str, str],
                                                      decode_workers: int) -> None:
    card = _card(tmp_path / "card")
    events = list(run_job(JobConfig(card, models[0], models[1], decode_workers=decode_workers), paths=paths))
    done = _processed(events)
    assert set(done) == set(SHAPES)
    for rel, pred in done.items():
        assert pred.failure is None or "unexpected" not in pred.failure, (rel, pred.failure)
        if pred.failure is None:
            assert (pred.meta.width, pred.meta.height) == SHAPES[rel]
    assert done["normal.jpg"].failure is None and done["wide.jpg"].failure is None
    assert isinstance(events[-1], JobFinished)
    assert md_validation(card / "recognitions.json", card)["errors"] == []


def test_an_unexpected_exception_is_that_files_failure(tmp_path: Path, paths: AppPaths, models: tuple[str, str],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    card = _card(tmp_path / "card")
    real_predict, real_load = job_mod.predict_image, job_mod.load_image

    def predict(path: Path, rel: str, *args: object, **kw: object) -> object:
        if rel == "dot.jpg":
            raise RuntimeError("model exploded")
        return real_predict(path, rel, *args, **kw)

    def load(path: Path, **kw: object) -> object:
        if path.name == "tall.jpg":
            raise ZeroDivisionError("decoder bug")
        return real_load(path, **kw)

    monkeypatch.setattr(job_mod, "predict_image", predict)
    monkeypatch.setattr(job_mod, "load_image", load)
    with caplog.at_level(logging.ERROR, logger="wildlife_desktop.pipeline.job"):
        events = list(run_job(JobConfig(card, models[0], models[1]), paths=paths))
    done = _processed(events)
    assert set(done) == set(SHAPES)
    assert "RuntimeError: model exploded" in (done["dot.jpg"].failure or "")
    assert "ZeroDivisionError: decoder bug" in (done["tall.jpg"].failure or "")
    assert done["normal.jpg"].failure is None
    summary = events[-1].summary  # type: ignore[attr-defined]
    assert summary.failed == 2 and {p.name for p in summary.sidecars} >= {"recognitions.json"}
    logged = [r for r in caplog.records if r.exc_info]
    assert {"dot.jpg" in r.getMessage() or "tall.jpg" in r.getMessage() for r in logged} == {True}
    assert len(logged) == 2  # the traceback is in the log, the reason in the failure entry


def test_full_disk_while_journaling_is_a_clear_error_and_the_run_resumes(
        tmp_path: Path, paths: AppPaths, models: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    card = _card(tmp_path / "card")
    real_append = Journal.append
    calls = {"n": 0}

    def append(self: Journal, key: object, prediction: object) -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, key, prediction)  # type: ignore[arg-type]

    monkeypatch.setattr(Journal, "append", append)
    with pytest.raises(SidecarWriteError, match="No space left on device.*run again.*2 file"):
        list(run_job(JobConfig(card, models[0], models[1]), paths=paths))
    monkeypatch.setattr(Journal, "append", real_append)
    events = list(run_job(JobConfig(card, models[0], models[1]), paths=paths))
    assert events[0].already_done == 2 and events[0].todo == len(SHAPES) - 2  # type: ignore[attr-defined]
    assert isinstance(events[-1], JobFinished) and events[-1].summary.failed == 0


def test_temp_files_left_by_a_kill_are_removed_on_the_next_run(tmp_path: Path, paths: AppPaths,
                                                                models: tuple[str, str]) -> None:
    card = _card(tmp_path / "card")
    list(run_job(JobConfig(card, models[0]), paths=paths))
    state = card / ".wildlife"
    left = [card / ".recognitions.json.k3j9x2ab.tmp", card / ".detections.csv.a_b1c2d3.tmp",
            state / ".state.json.zz99yy88.tmp"]
    keep = [card / ".holiday.jpg.k3j9x2ab.tmp", card / ".recognitions.json.tmp", card / "recognitions.json"]
    for p in left + keep[:2]:
        p.write_bytes(b"x" * 1000)
    list(run_job(JobConfig(card, models[0]), paths=paths))
    assert [p for p in left if p.exists()] == []
    assert all(p.exists() for p in keep)
