"""Help > Open log folder, and one readable sentence from both workers (issue 11, item 11)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.paths import AppPaths
from wildlife_desktop.core.progress import CancelToken
from wildlife_desktop.gui.finetune_controller import FinetuneWorker
from wildlife_desktop.gui.main_window import MainWindow
from wildlife_desktop.gui.workers import InferenceWorker


def test_help_menu_opens_the_log_folder(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    paths = AppPaths.default()
    win = MainWindow(paths)
    qtbot.addWidget(win)
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    assert "Help" in menus
    (item,) = [a for a in menus["Help"].actions() if a.text().replace("&", "") == "Open log folder"]
    item.trigger()
    assert [Path(p) for p in opened] == [paths.logs] and paths.logs.is_dir()


def _boom(exc: BaseException) -> Any:
    def run(*_a: object, **_k: object) -> Any:
        raise exc
        yield  # a generator, like the real ones

    return run


@pytest.mark.parametrize("exc, expected", [(RuntimeError("kaboom\nsecond line"), "Unexpected error (RuntimeError"),
                                           (DatasetError("Not a folder: /x"), "Not a folder: /x")])
def test_both_workers_report_one_sentence_and_log_the_traceback(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, exc: BaseException, expected: str) -> None:
    from wildlife_desktop.pipeline import job as job_mod
    from wildlife_desktop.training import finetune as finetune_mod

    monkeypatch.setattr(job_mod, "run_job", _boom(exc))
    monkeypatch.setattr(finetune_mod, "run_finetune", _boom(exc))
    got: list[str] = []
    inference = InferenceWorker(AppPaths.default())
    inference.sig_failed.connect(got.append)
    finetune = FinetuneWorker(object(), CancelToken(), AppPaths.default())  # type: ignore[arg-type]
    finetune.sig_failed.connect(got.append)
    with caplog.at_level(logging.INFO):
        inference.run(object(), CancelToken())
        finetune.run()
    assert len(got) == 2 and got[0] == got[1] and got[0].startswith(expected) and "\n" not in got[0]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == (2 if isinstance(exc, RuntimeError) else 0)
