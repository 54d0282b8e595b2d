"""A log file a field user can send: rotating, in the application's log folder.

Both entry points (the window and the CLI) call :func:`setup_logging` once at start-up. The
windowed build has no console, so without the file every traceback would be lost. People see
one readable sentence (:func:`user_message`); the detail (the traceback) goes to the log.

The log folder is :attr:`AppPaths.logs` (``WILDLIFE_DESKTOP_HOME/logs`` in portable mode).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Final

from .errors import WildlifeError
from .paths import AppPaths

LOG_FORMAT: Final = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"
MAX_BYTES: Final = 2_000_000
BACKUPS: Final = 5
_MARK: Final = "_wildlife_desktop_handler"


#: ``extra=FILE_ONLY`` keeps a record out of the console (it is already shown another way).
FILE_ONLY: Final = {"console": False}


class _OneLine(logging.Formatter):
    """The console gets one line per record; tracebacks are for the log file."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{record.levelname} {record.name}: {record.getMessage()}".split())


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (it may be replaced after set-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: ANN201 - the logging API's attribute
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _LazyRotatingFile(logging.handlers.RotatingFileHandler):
    """Creates the log folder with the first record (a run that logs nothing writes nothing) and
    goes quiet, after one line on stderr, if the file cannot be written."""

    def _open(self):  # noqa: ANN202 - logging's own hook
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's API
        self.setLevel(logging.CRITICAL + 1)
        print(f"logging to {self.baseFilename} stopped: {sys.exc_info()[1]}", file=sys.stderr)


def log_file(paths: AppPaths, app: str = "wildlife-desktop") -> Path:
    """The current log file of ``app`` (``gui`` and ``cli`` write separate files)."""
    return paths.logs / f"{app}.log"


def setup_logging(paths: AppPaths, *, app: str = "wildlife-desktop", console_level: int = logging.WARNING,
                  file_level: int = logging.INFO) -> Path | None:
    """Log to a rotating file in ``paths.logs`` (and to stderr at ``console_level``).

    Calling it again replaces the handlers it installed before (tests, a second window).

    Returns:
        The log file, or ``None`` when the log folder cannot be written (logging then goes to
        stderr only; the application must still start).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    console = _StderrHandler()
    console.setLevel(console_level)
    console.setFormatter(_OneLine())
    console.addFilter(lambda record: getattr(record, "console", True))
    setattr(console, _MARK, True)
    root.addHandler(console)
    path: Path | None = None
    target = log_file(paths, app)
    try:
        if paths.logs.exists() and not paths.logs.is_dir():
            raise NotADirectoryError(f"{paths.logs} is not a folder")
        handler: logging.Handler = _LazyRotatingFile(
            target, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file in %s: %s", paths.logs, exc)
    else:
        path = target
        handler.setLevel(file_level)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(min(console_level, file_level))
    logging.getLogger("exifread").setLevel(logging.ERROR)  # "PNG file does not have exif data" is not news
    return path


def user_message(exc: BaseException, paths: AppPaths | None = None) -> str:
    """One readable sentence about ``exc`` for a person; the traceback belongs in the log.

    Our own errors (:class:`WildlifeError`) are already written for people; anything else is
    a bug or a surprise, named briefly, with where the details are.
    """
    if isinstance(exc, WildlifeError):
        text = " ".join(str(exc).split())
        return text or type(exc).__name__
    detail = " ".join(str(exc).split())[:300]
    where = (paths or AppPaths.default()).logs
    return (f"Unexpected error ({type(exc).__name__}{': ' + detail if detail else ''}). "
            f"The details are in the log folder: {where}")
