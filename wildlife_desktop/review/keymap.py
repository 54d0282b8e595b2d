"""Keyboard map for the review: data, not code (architecture §7 habit 8).

Key strings use Qt's portable ``QKeySequence`` text ("Return", "Ctrl+Shift+Z", "Left", "?"),
so ``gui/shortcuts.py`` can bind them with ``QKeySequence(key)`` without a translation table.
Letters are case-insensitive and stored upper-case; modifiers are normalised to the order
``Ctrl+Alt+Shift+Meta``. Users override bindings in Settings as ``{key: action_name}``; an empty
or ``None`` action unbinds a key. The ``?`` overlay is built from the same table by
:func:`help_rows`, so it can never drift from what the keys really do.

Defaults follow AddaxAI's crop-card review (Enter verify, R relabel, X false detection,
U unknown, 1-5 saved labels, multi-level undo); we allow 1-9.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .actions import ReviewAction

A = ReviewAction
DEFAULT_KEYMAP: Final[Mapping[str, ReviewAction]] = MappingProxyType({
    "Return": A.ACCEPT,
    "Enter": A.ACCEPT,
    "X": A.REJECT,
    "U": A.UNKNOWN,
    "R": A.RELABEL,
    **{str(n): getattr(A, f"QUICK_LABEL_{n}") for n in range(1, 10)},
    "E": A.MARK_EMPTY,
    "A": A.APPLY_TO_SEQUENCE,
    "G": A.ACCEPT_SUGGESTION,
    "S": A.SKIP,
    "Right": A.SKIP,
    "Left": A.BACK,
    "Backspace": A.BACK,
    "Ctrl+Z": A.UNDO,
    "Ctrl+Shift+Z": A.REDO,
    "Ctrl+Y": A.REDO,
    "?": A.HELP,
    "F1": A.HELP,
})

_MODIFIERS: Final[tuple[str, ...]] = ("Ctrl", "Alt", "Shift", "Meta")
_MOD_ALIASES: Final[dict[str, str]] = {"control": "Ctrl", "ctrl": "Ctrl", "alt": "Alt", "option": "Alt",
                                       "shift": "Shift", "meta": "Meta", "cmd": "Meta", "win": "Meta"}


def normalize_key(key: str) -> str:
    """Canonical form of a key string: ``"shift+ctrl+z"`` → ``"Ctrl+Shift+Z"``.

    Raises:
        ValueError: empty key, or more than one non-modifier key.
    """
    text = key.strip()
    if not text:
        raise ValueError("Empty key.")
    if text == "+" or text.endswith("++"):  # the "+" key itself
        parts, base = [p for p in text[:-1].split("+") if p], "+"
    else:
        *parts, base = text.split("+")
    mods = set()
    for p in parts:
        mod = _MOD_ALIASES.get(p.strip().lower())
        if mod is None:
            raise ValueError(f"Not a modifier in {key!r}: {p!r}")
        mods.add(mod)
    base = base.strip()
    if not base:
        raise ValueError(f"No key in {key!r}.")
    base = base.upper() if len(base) == 1 else base[0].upper() + base[1:]
    return "+".join([m for m in _MODIFIERS if m in mods] + [base])


def load_keymap(overrides: Mapping[str, str | ReviewAction | None] | None = None) -> dict[str, ReviewAction]:
    """The default key map with the user's overrides applied.

    Args:
        overrides: ``{key: action}``; the action is a :class:`ReviewAction` or its value
            (``"accept"``), and ``None``/``""`` removes the key's binding.

    Returns:
        A new ``{normalised key: action}`` dict.

    Raises:
        ValueError: an unknown action name or an unparsable key.
    """
    keymap = {normalize_key(k): a for k, a in DEFAULT_KEYMAP.items()}
    for key, action in (overrides or {}).items():
        k = normalize_key(key)
        if action is None or action == "":
            keymap.pop(k, None)
            continue
        try:
            keymap[k] = action if isinstance(action, ReviewAction) else ReviewAction(str(action).strip().lower())
        except ValueError:
            raise ValueError(f"Unknown review action {action!r} for key {key!r}.") from None
    return keymap


def action_for(keymap: Mapping[str, ReviewAction], key: str) -> ReviewAction | None:
    """The action bound to ``key`` (any spelling), or None."""
    try:
        return keymap.get(normalize_key(key))
    except ValueError:
        return None


def keys_for(keymap: Mapping[str, ReviewAction], action: ReviewAction) -> tuple[str, ...]:
    """Every key bound to ``action``, in the key map's order."""
    return tuple(k for k, a in keymap.items() if a is action)


def help_rows(
    keymap: Mapping[str, ReviewAction], quick_labels: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """Rows ``(keys, description)`` for the ``?`` overlay, in :class:`ReviewAction` order.

    Unbound actions are left out. With ``quick_labels`` (``ReviewSession.quick_labels``), the
    number-key rows name the label they set, and slots without a label are left out.
    """
    rows = []
    for action in ReviewAction:
        keys = keys_for(keymap, action)
        if not keys:
            continue
        text = action.description
        slot = action.quick_label_index
        if slot is not None and quick_labels:
            if slot >= len(quick_labels):
                continue
            text = f"Label as {quick_labels[slot]}"
        rows.append((" / ".join(keys), text))
    return rows
