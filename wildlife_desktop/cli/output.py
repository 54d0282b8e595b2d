"""Printing helpers shared by the commands: JSON-lines events, progress line, ETA."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from ..core.progress import Progress


def jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit(kind: str, payload: Any) -> None:
    print(json.dumps({"event": kind, **jsonable(payload)}, ensure_ascii=False), flush=True)


def fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def progress_line(p: Progress, tty: bool) -> None:
    """A one-line progress bar (redrawn in place on a terminal, plain lines in a log)."""
    width = 30
    filled = int(width * p.fraction)
    rate = f"{p.rate:.2f} files/s" if p.rate else "-- files/s"
    text = f"  [{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total}  {rate}  ETA {fmt_eta(p.eta_s)}"
    print(f"\r{text}" if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)


def clear_line(tty: bool) -> None:
    if tty:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
