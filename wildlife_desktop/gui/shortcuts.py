"""Bind ``review.keymap`` to Qt: key events → key strings, the user's keymap file, help text.

The key map itself is data in ``review.keymap``; nothing here knows which key does what.
Users rebind keys in ``<AppPaths.config>/keymap.json`` (``AppPaths.default().config``), a JSON
object ``{"key": "action"}`` in QKeySequence text form, e.g. ``{"Space": "accept",
"Return": null}``: ``null``/``""`` unbinds a key, action names are ``ReviewAction`` values
(``accept``, ``reject``, ``unknown``, ``relabel``, ``quick_label_1`` … ``quick_label_9``,
``mark_empty``, ``apply_to_sequence``, ``skip``, ``back``, ``undo``, ``redo``, ``help``).
A broken file is logged and ignored: the defaults keep working.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence

from ..review.actions import ReviewAction
from ..review.keymap import action_for, load_keymap

logger = logging.getLogger(__name__)

KEYMAP_FILE: Final = "keymap.json"
_MODIFIER_KEYS: Final = frozenset({Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta,
                                   Qt.Key.Key_AltGr, Qt.Key.Key_CapsLock})


def keymap_path(config_dir: Path) -> Path:
    return Path(config_dir) / KEYMAP_FILE


def load_user_keymap(config_dir: Path) -> dict[str, ReviewAction]:
    """The default key map plus the overrides in ``<config_dir>/keymap.json`` (if present)."""
    path = keymap_path(config_dir)
    if not path.is_file():
        return load_keymap()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("keymap.json must hold a JSON object {key: action}")
        return load_keymap(raw)
    except (OSError, ValueError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return load_keymap()


def key_texts(event: QKeyEvent) -> list[str]:
    """Candidate key strings for ``event``, most specific first ("Ctrl+Shift+Z", then "?" for Shift+?).

    Symbols typed with Shift ("?" on most layouts) arrive with the Shift modifier, while the
    key map spells them bare, so the Shift-less spelling is tried second.
    """
    key = event.key()
    if key in _MODIFIER_KEYS or key == Qt.Key.Key_unknown:
        return []
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    combo = QKeySequence(int(mods.value) | int(key)).toString(QKeySequence.SequenceFormat.PortableText)
    out = [combo] if combo else []
    bare = QKeySequence(int(key)).toString(QKeySequence.SequenceFormat.PortableText)
    if mods == Qt.KeyboardModifier.ShiftModifier and bare and not bare.isalpha():
        out.append(bare)
    text = event.text()
    if text and text.isprintable() and not text.isspace() and text not in out and not (
            mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)):
        out.append(text)
    return out


def action_for_event(keymap: Mapping[str, ReviewAction], event: QKeyEvent) -> ReviewAction | None:
    """The review action ``event`` is bound to, or None."""
    for text in key_texts(event):
        action = action_for(keymap, text)
        if action is not None:
            return action
    return None
