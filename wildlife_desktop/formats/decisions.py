"""The human-decision layer: what a person decided about a detection, stored beside the journal.

Decisions live in ``<state_dir>/decisions.jsonl`` (``state_dir`` is the folder's ``.wildlife/``),
never inside a model's journal, so re-running the AI (a new result layer) keeps every one. Like
the journal, the file is append-only JSON lines, each with a CRC of its payload::

    {"header": true, "schema_version": 2}
    {"crc": 1234567890, "d": {"file": ..., "detection_id": ..., "decision": ..., ...}}

Every writer (a review window, ``decisions import``, a second laptop on the same card) appends
its own records under the folder's write lock (``core.locks``) and never rewrites anyone
else's, so nothing a person decided is lost to a concurrent writer; a key press costs one
appended line, whatever the history's size. A torn, damaged or unknown record is skipped,
counted and named in a warning; it never makes the folder unreadable. A version-1
``decisions.json`` (one JSON document) is migrated on first open and kept as
``decisions.json.bak``.

Design decisions:

* The file is an **append-only history**; the latest record per ``(file, detection_id)``
  wins, *latest* meaning later in the file. Undo appends the restored record, or a ``"clear"``
  tombstone when there was none, so the file is also an audit trail.
* At quiet moments (an export, ``decisions compact``; never per key press) the file may be
  rewritten under the write lock, re-read under it so no appended record is lost:
  :func:`compact_decisions` moves superseded records to ``decisions-history.jsonl`` once they
  outnumber the live ones 2:1 (over 10,000 records), and :func:`fill_missing_boxes` gives
  box-less records stored by an older release their detection's box (once, flagged in the
  header). Readers notice the new file and re-read it.
* A file-level decision (``"empty"``) has ``detection_id == ""``. It applies only when it is
  newer than every positive decision on a box of the same file.
* A record keeps the box (``bbox``, ``frame``) and what the model said when the person decided
  (``model_label``, ``confidence``). The box lets a decision follow its animal when another
  model re-ran (same file/frame, IoU >= 0.5); the model fields feed calibration.
* Merging several reviewers (:func:`merge_decisions`) compares ``time`` (ISO 8601): a later
  decision on the same detection wins, and every disagreement is listed as a conflict.

Merge rules at export (:func:`apply_decisions`): accept → verified (with the decision's label
when it differs from the model's); relabel → classifications ``((label, 1.0),)`` + verified;
unknown → label ``"unknown"`` + verified; reject → the box is removed; empty → the file is
verified empty and *all* its boxes are removed, so every sidecar (MD JSON included) shows it
empty. A verified label also sets the box's detector category (:func:`category_for_label`): a
species means animal, a person or vehicle label the matching category, so every output says
the same thing. A verified box (accept/relabel/unknown) that the current model missed stays in
every export as a human-verified detection with the box the person saw (confidence 1.0).

The layer is split by responsibility; every name stays importable from here:
``decision_record`` (the record type and constants), ``decision_lines`` (the line format),
``decision_log`` (reading, appending, migration), ``decision_merge`` (latest-wins view, merging
reviewers), ``decision_apply`` (matching to detections, the export merge) and
``decision_upkeep`` (compaction, box fill-in).
"""

from __future__ import annotations

import logging

from .decision_apply import (
    apply_decisions,
    attach_boxes,
    category_for_label,
    match_file,
)
from .decision_lines import (
    _parse_lines,
)
from .decision_log import (
    DecisionLog,
    DecisionsRead,
    LogUpdate,
    append_decisions,
    decisions_path,
    load_decisions,
    read_decisions,
    save_decisions,
    update_decisions,
)
from .decision_merge import (
    DecisionConflict,
    MergeResult,
    latest_decisions,
    merge_decisions,
)
from .decision_record import (
    BLANK_LABELS,
    COMPACT_MIN_RECORDS,
    COMPACT_RATIO,
    COUNT_PREFIX,
    DECISION_KINDS,
    DECISIONS_FILE,
    DECISIONS_SCHEMA_VERSION,
    HISTORY_FILE,
    LEGACY_DECISIONS_FILE,
    LEGACY_SCHEMA_VERSION,
    MATCH_IOU,
    PERSON_LABELS,
    POSITIVE_KINDS,
    REASON_REPEAT,
    SOURCE_SMOOTHING,
    UNKNOWN_LABEL,
    VEHICLE_LABELS,
    DecisionKey,
    DecisionKind,
    ReviewDecision,
    count_key,
)
from .decision_upkeep import (
    CompactResult,
    compact_decisions,
    fill_missing_boxes,
    needs_compaction,
)

# The one logger of the layer: every decision_* module logs under this name, as before the split.
logger = logging.getLogger(__name__)

__all__ = [
    "BLANK_LABELS",
    "COMPACT_MIN_RECORDS",
    "COMPACT_RATIO",
    "COUNT_PREFIX",
    "CompactResult",
    "DECISIONS_FILE",
    "DECISIONS_SCHEMA_VERSION",
    "DECISION_KINDS",
    "DecisionConflict",
    "DecisionKey",
    "DecisionKind",
    "DecisionLog",
    "DecisionsRead",
    "HISTORY_FILE",
    "LEGACY_DECISIONS_FILE",
    "LEGACY_SCHEMA_VERSION",
    "LogUpdate",
    "MATCH_IOU",
    "MergeResult",
    "PERSON_LABELS",
    "POSITIVE_KINDS",
    "REASON_REPEAT",
    "ReviewDecision",
    "SOURCE_SMOOTHING",
    "UNKNOWN_LABEL",
    "VEHICLE_LABELS",
    "_parse_lines",
    "append_decisions",
    "apply_decisions",
    "attach_boxes",
    "category_for_label",
    "compact_decisions",
    "count_key",
    "decisions_path",
    "fill_missing_boxes",
    "latest_decisions",
    "load_decisions",
    "match_file",
    "merge_decisions",
    "needs_compaction",
    "read_decisions",
    "save_decisions",
    "update_decisions",
]
