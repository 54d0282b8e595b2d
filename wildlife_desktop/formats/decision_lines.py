"""The line format of ``decisions.jsonl``: one JSON record per line with a CRC of its payload.

Encoding, decoding (a torn, damaged or unknown line is ``_BAD``, never an error) and appending
whole lines (the caller holds the folder's write lock).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ..core.errors import DatasetError
from .decision_record import DECISIONS_SCHEMA_VERSION, ReviewDecision


def _line(d: ReviewDecision) -> str:
    payload = json.dumps(d.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'{{"crc":{zlib.crc32(payload.encode("utf-8"))},"d":{payload}}}\n'


def _header(**flags: Any) -> str:
    """The first line; ``flags`` (e.g. ``boxes_filled``) record upkeep already done on the file."""
    return json.dumps({"header": True, "schema_version": DECISIONS_SCHEMA_VERSION, **flags}) + "\n"


_BAD: Final = object()  # an unreadable line (torn, damaged, unknown kind)
_LineItem = ReviewDecision | dict[str, Any] | None | object


def _decode(raw: bytes) -> ReviewDecision | dict[str, Any] | None:
    """One stored line: its record, the header's fields, or None when blank.

    Raises:
        ValueError, TypeError, AttributeError, DatasetError: the line is unreadable.
    """
    line = raw.decode("utf-8", errors="replace").strip()
    if not line:
        return None
    if line.startswith('{"header"'):
        head = json.loads(line)
        int(head.get("schema_version", 0))  # a header without a usable version is damaged
        return dict(head)
    # The CRC covers the payload text exactly as written; "crc" is an int, so the first
    # ',"d":' starts the payload.
    start = line.index(',"d":') + 5
    payload = line[start:line.rindex("}")]
    if not line.startswith('{"crc":') or zlib.crc32(payload.encode("utf-8")) != int(line[7:start - 5]):
        raise ValueError("crc mismatch")
    return ReviewDecision.from_dict(json.loads(payload))


def _items(data: bytes, path: Path) -> list[tuple[bytes, _LineItem]]:
    """Every non-blank line of ``data`` with what it holds (``_BAD`` when unreadable).

    Raises:
        DatasetError: a header says the file was written by a newer version of the app.
    """
    out: list[tuple[bytes, _LineItem]] = []
    for raw in data.split(b"\n"):
        try:
            item: _LineItem = _decode(raw)
        except (ValueError, TypeError, AttributeError, DatasetError):
            item = _BAD
        if isinstance(item, dict) and int(item.get("schema_version", 0)) > DECISIONS_SCHEMA_VERSION:
            raise DatasetError(f"{path} was written by a newer version of Wildlife Desktop.")
        if item is not None:
            out.append((raw.strip(), item))
    return out


def _parse_lines(data: bytes, path: Path) -> tuple[list[ReviewDecision], int]:
    """Records of complete lines in ``data``; bad lines (torn, CRC, unknown kind) are counted."""
    items = _items(data, path)
    return [it for _, it in items if isinstance(it, ReviewDecision)], sum(1 for _, it in items if it is _BAD)


def _append_lines(path: Path, lines: Sequence[str]) -> None:
    """Append whole lines (caller holds the write lock); a torn last line is closed first."""
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "ab") as fh:
        if new:
            fh.write(_header().encode("utf-8"))
        else:
            with open(path, "rb") as rd:
                rd.seek(-1, os.SEEK_END)
                if rd.read(1) != b"\n":
                    fh.write(b"\n")  # a line torn by a killed writer: never glue onto it
        fh.write("".join(lines).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
