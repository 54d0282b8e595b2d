"""Compaction of decisions.jsonl under the folder's write lock (issue 11, item 1).

What matters survives (the effective decision per detection in the same order, the box a bare
CSV row inherits, unreadable lines); every superseded record moves, verbatim, to
``decisions-history.jsonl``; and a compaction racing another process's appends loses nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from wildlife_desktop.core.records import BBox
from wildlife_desktop.formats.decisions import (
    HISTORY_FILE,
    ReviewDecision,
    _parse_lines,
    compact_decisions,
    decisions_path,
    latest_decisions,
    load_decisions,
    merge_decisions,
    needs_compaction,
    read_decisions,
    save_decisions,
)

REPO = Path(__file__).resolve().parents[2]


def _rec(i: int, kind: str = "accept", label: str = "red_fox", t: int = 0, box: bool = True) -> ReviewDecision:
    return ReviewDecision(f"cam/{i % 40:03d}.jpg", f"d{i:05d}", kind, label, "ana",  # type: ignore[arg-type]
                          f"2026-01-01T10:{t // 60 % 60:02d}:{t % 60:02d}+00:00",
                          BBox(0.1, 0.1, 0.2, 0.2) if box else None, None, "red_fox", 0.6)


def _archived(state: Path) -> list[ReviewDecision]:
    path = state / HISTORY_FILE
    return _parse_lines(path.read_bytes(), path)[0] if path.exists() else []


def test_compaction_keeps_what_matters_and_archives_the_rest(tmp_path: Path) -> None:
    history: list[ReviewDecision] = []
    t = 0
    for i in range(120):  # accept, relabel, undo (tombstone), accept again: 3 superseded per detection
        for kind, label in (("accept", "red_fox"), ("relabel", "badger"), ("clear", ""), ("relabel", "wolf")):
            t += 1
            history.append(_rec(i, kind, label, t))
    for i in range(120, 130):  # a bare CSV row (no box) after a boxed key press: a merge needs that box
        history += [_rec(i, "accept", t=t + 1), _rec(i, "relabel", "zebra", t=t + 2, box=False)]
    history += [ReviewDecision("cam/001.jpg", "", "empty", reviewer="ana", time="2026-01-02T00:00:00+00:00")]
    history += [_rec(5, "reject", t=t + 5)]  # after the file-level "empty": order matters
    state = tmp_path / ".wildlife"
    save_decisions(state, history)
    with open(decisions_path(state), "ab") as fh:
        fh.write(b'{"crc": 1, "d": {"file": "damaged"}}\n')  # a damaged line, kept where it is
    before = load_decisions(state)

    assert compact_decisions(state).compacted is False  # small: nothing to do unless forced
    res = compact_decisions(state, force=True)
    after = read_decisions(state)
    assert res.compacted and res.before == len(history) and res.after == len(after.decisions) == 120 + 20 + 1
    assert list(latest_decisions(after.decisions).items()) == list(latest_decisions(before).items())
    assert after.skipped == 1
    # everything that left the live file is in the history file, verbatim
    assert Counter(_archived(state)) + Counter(after.decisions) == Counter(history)
    # a bare CSV row merged later still inherits the box of its detection
    bare = replace(_rec(125, "relabel", "lynx", t=t + 9), bbox=None, reviewer="bob")
    merged = merge_decisions(after.decisions, [bare])
    assert merged.decisions[-1].bbox == BBox(0.1, 0.1, 0.2, 0.2)
    # a second compaction has nothing left to move
    again = compact_decisions(state, force=True)
    assert not again.compacted and len(_archived(state)) == len(history) - res.after


def test_compaction_threshold() -> None:
    many_on_few = [_rec(i % 100, t=i) for i in range(10_001)]
    assert needs_compaction(many_on_few)
    assert not needs_compaction(many_on_few[:10_000])  # not over 10,000 records
    mostly_live = [_rec(i % 6_000, t=i) for i in range(10_001)]
    assert not needs_compaction(mostly_live)  # fewer than 2 records per live one


_APPENDER = """
import sys, time
from pathlib import Path
from wildlife_desktop.formats.decisions import DecisionLog, ReviewDecision
log = DecisionLog(Path(sys.argv[1]))
stop = Path(sys.argv[2])
log.read_all()
print("ready", flush=True)
i = 0
while i < 50 or (not stop.exists() and i < 20000):  # key presses until the parent has compacted often enough
    log.append([ReviewDecision(f"new/{i % 25:02d}.jpg", "dnew", "relabel", f"label{i}", "bob",
                               f"2026-02-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}+00:00")])
    i += 1
    time.sleep(0.002)
print(i, flush=True)
"""


def test_compaction_racing_another_process_appending_loses_nothing(tmp_path: Path) -> None:
    state = tmp_path / ".wildlife"
    old = [_rec(i % 300, "relabel", f"old{i}", t=i) for i in range(3_000)]
    save_decisions(state, old)
    stop = tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-c", _APPENDER, str(state), str(stop)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    compactions = 0
    deadline = time.monotonic() + 120
    while compactions < 3 and proc.poll() is None and time.monotonic() < deadline:  # while it keeps appending
        compactions += compact_decisions(state, force=True).compacted
    stop.touch()
    n = int(proc.stdout.readline())
    assert proc.wait(timeout=120) == 0
    assert compactions >= 3, "the compactions did not overlap the appends"
    compact_decisions(state, force=True)
    live = load_decisions(state)
    every = Counter(_archived(state)) + Counter(live)
    appended = [(f"new/{i % 25:02d}.jpg", f"label{i}") for i in range(n)]
    assert sorted((d.file, d.label) for d in every.elements() if d.file.startswith("new/")) == sorted(appended)
    assert Counter({d: 1 for d in old}) == Counter({d: c for d, c in every.items() if not d.file.startswith("new/")})
    latest = latest_decisions(live)
    for k in range(25):
        last = max(i for i in range(n) if i % 25 == k)
        assert latest[(f"new/{k:02d}.jpg", "dnew")].label == f"label{last}"
    header = json.loads(decisions_path(state).read_text(encoding="utf-8").splitlines()[0])
    assert header["header"] is True and header["schema_version"] == 2
