"""Logs a field user can send (issue 11, item 11): a rotating file in the app's log folder, set
up by the CLI (and the window, see tests/gui/test_logs_gui.py); one readable sentence for people."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from wildlife_desktop.cli import folder as folder_cmd
from wildlife_desktop.cli import main as cli_main
from wildlife_desktop.core import logs
from wildlife_desktop.core.errors import DatasetError
from wildlife_desktop.core.paths import AppPaths


@pytest.fixture(autouse=True)
def _restore_root_logger() -> object:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for h in [h for h in root.handlers if h not in before]:
        root.removeHandler(h)
        h.close()
    root.setLevel(level)


def test_log_file_rotates_in_the_home_log_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WILDLIFE_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    path = logs.setup_logging(AppPaths.default(), app="cli")
    assert path == tmp_path / "home" / "logs" / "cli.log"
    log = logging.getLogger("wildlife_desktop.test")
    for i in range(100):
        log.info("line %d %s", i, "x" * 50)
    files = sorted(p.name for p in path.parent.iterdir())
    assert "cli.log" in files and "cli.log.1" in files and len(files) <= 1 + logs.BACKUPS
    assert "line 99" in path.read_text(encoding="utf-8")
    logs.setup_logging(AppPaths.default(), app="cli")  # again: handlers replaced, not doubled
    marked = [h for h in logging.getLogger().handlers if getattr(h, "_wildlife_desktop_handler", False)]
    assert len(marked) == 2


def test_unwritable_log_folder_does_not_stop_the_app(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where the folder should be")
    assert logs.setup_logging(AppPaths.under(tmp_path)) is None


def test_user_message_is_one_sentence() -> None:
    paths = AppPaths.under(Path("/x"))
    assert logs.user_message(DatasetError("Not a folder:\n  /a"), paths) == "Not a folder: /a"
    msg = logs.user_message(KeyError("k"), paths)
    assert "\n" not in msg and msg.startswith("Unexpected error (KeyError: 'k')") and str(paths.logs) in msg


def test_cli_unexpected_error_is_one_line_with_the_traceback_in_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(args: object, paths: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(folder_cmd, "cmd_scan", boom)
    assert cli_main(["scan", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Unexpected error (RuntimeError: a bug)") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    text = (Path(os.environ["WILDLIFE_DESKTOP_HOME"]) / "logs" / "cli.log").read_text(encoding="utf-8")
    assert "Traceback" in text and "RuntimeError: a bug" in text
