"""Inter-process locks per ``.wildlife/`` folder (``filelock``), so two writers never clobber each other.

Three, all files inside the folder's state directory:

* ``write.lock`` (:func:`write_lock`): held for milliseconds around every change of a shared
  file (appending decisions, compacting or migrating them, rewriting ``state.json``). Writers
  wait for each other (up to ``timeout``), so a review window, a ``decisions import`` and a
  second laptop on the same card all keep their records.
* ``sidecars.lock`` (:func:`sidecar_lock`): held while the sidecars are rebuilt from the
  decisions read under it, so the last sidecars written always include every decision stored
  before them (two ``decisions import`` at once). A separate lock, so a key press never waits
  for a large folder's sidecars.
* ``run.lock`` (:func:`run_lock`): held for a whole ``detect`` run. It is never waited for: a
  second run (or ``import-results``) on a folder already being processed stops at once with :class:`FolderBusyError`
  instead of doubling the work.

The locks are advisory OS locks (``flock`` / ``LockFileEx``): a process killed with ``kill -9``
releases them, so a crash never leaves a folder locked. The lock files stay behind (empty).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from filelock import FileLock, Timeout

from .errors import SidecarWriteError, WildlifeError

WRITE_LOCK: Final = "write.lock"
SIDECAR_LOCK: Final = "sidecars.lock"
RUN_LOCK: Final = "run.lock"
WRITE_TIMEOUT_S: Final = 60.0
SIDECAR_TIMEOUT_S: Final = 600.0


class FolderBusyError(WildlifeError):
    """Another process holds the folder (a second ``detect`` on a folder already being processed)."""


def _lock(state_dir: Path, name: str) -> FileLock:
    state_dir = Path(state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SidecarWriteError(f"Cannot write in {state_dir}: {exc.strerror or exc}") from exc
    # thread_local=False: the GUI acquires in a worker thread and may release from another.
    return FileLock(str(state_dir / name), thread_local=False, is_singleton=False)


def write_lock(state_dir: Path, *, timeout: float = WRITE_TIMEOUT_S) -> contextlib.AbstractContextManager[None]:
    """Hold the folder's short write lock; waits up to ``timeout`` seconds for another writer.

    Raises:
        FolderBusyError: another writer held it for longer than ``timeout``.
        SidecarWriteError: the state folder cannot be written (read-only card, permissions).
    """
    return _hold(state_dir, WRITE_LOCK, timeout)


def sidecar_lock(state_dir: Path, *, timeout: float = SIDECAR_TIMEOUT_S) -> contextlib.AbstractContextManager[None]:
    """Hold the folder's sidecar lock (see the module docstring); same errors as :func:`write_lock`."""
    return _hold(state_dir, SIDECAR_LOCK, timeout)


@contextlib.contextmanager
def _hold(state_dir: Path, name: str, timeout: float, busy: str | None = None) -> Iterator[None]:
    """Hold lock ``name`` of ``state_dir``; ``busy`` is the message when another holder keeps it past ``timeout``."""
    lock = _lock(state_dir, name)
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise FolderBusyError(busy or f"{state_dir} is locked by another program for more than {timeout:g} s; "
                              "try again when it has finished.") from exc
    except OSError as exc:
        raise SidecarWriteError(f"Cannot lock {state_dir}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


def run_lock(state_dir: Path, folder: Path | str) -> contextlib.AbstractContextManager[None]:
    """Hold the folder's run lock for a whole run; never waits.

    Raises:
        FolderBusyError: ``folder`` is already being processed by another process or window.
    """
    return _hold(state_dir, RUN_LOCK, 0, busy=f"{folder} is already being processed (by another detect or "
                 "import-results command, or a window); wait for that run to finish, or cancel it, then run "
                 "again to resume.")
