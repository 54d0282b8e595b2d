"""Leftovers of interrupted runs: temp files of atomic writes a ``kill -9`` left behind."""

from __future__ import annotations

import logging

from ..core.atomic import remove_stale_temps
from ..core.locks import sidecar_lock, write_lock
from .journal import Workspace
from .results import SIDECAR_NAMES

logger = logging.getLogger(__name__)


def remove_leftovers(ws: Workspace) -> int:
    """Delete the temp files of interrupted sidecar and state writes in ``ws``; return how many.

    Each folder is cleaned under the lock its files are written under (``core.locks``), so a
    write in progress in another process or window keeps its temp file.
    """
    with sidecar_lock(ws.state_dir):
        removed = remove_stale_temps(ws.out_dir, SIDECAR_NAMES)
    with write_lock(ws.state_dir):
        removed += remove_stale_temps(ws.state_dir)
    if removed:
        logger.info("removed %d temp file(s) left by an interrupted run: %s", len(removed),
                    ", ".join(p.name for p in removed[:5]))
    return len(removed)
