"""What a reviewer can do, as an enum the key map, the session and the GUI share.

The GUI never interprets keys itself: ``review.keymap`` turns a key string into a
:class:`ReviewAction`, and :meth:`ReviewSession.handle` carries it out. Actions that need more
input than a key (``RELABEL`` needs a label from the type-ahead search, ``HELP`` shows the
overlay) are reported back as not handled so the GUI can open its popup.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class ReviewAction(str, Enum):
    """One reviewer command. The value is the stable name used in keymap overrides."""

    ACCEPT = "accept"
    REJECT = "reject"
    UNKNOWN = "unknown"
    RELABEL = "relabel"
    QUICK_LABEL_1 = "quick_label_1"
    QUICK_LABEL_2 = "quick_label_2"
    QUICK_LABEL_3 = "quick_label_3"
    QUICK_LABEL_4 = "quick_label_4"
    QUICK_LABEL_5 = "quick_label_5"
    QUICK_LABEL_6 = "quick_label_6"
    QUICK_LABEL_7 = "quick_label_7"
    QUICK_LABEL_8 = "quick_label_8"
    QUICK_LABEL_9 = "quick_label_9"
    MARK_EMPTY = "mark_empty"
    APPLY_TO_SEQUENCE = "apply_to_sequence"
    ACCEPT_SUGGESTION = "accept_suggestion"
    SKIP = "skip"
    BACK = "back"
    UNDO = "undo"
    REDO = "redo"
    HELP = "help"

    @property
    def quick_label_index(self) -> int | None:
        """0-based slot of a ``QUICK_LABEL_n`` action, else None."""
        if self.value.startswith("quick_label_"):
            return int(self.value.rsplit("_", 1)[1]) - 1
        return None

    @property
    def description(self) -> str:
        return ACTION_DESCRIPTIONS[self]


QUICK_LABEL_ACTIONS: Final[tuple[ReviewAction, ...]] = tuple(
    a for a in ReviewAction if a.quick_label_index is not None
)

#: One line of help per action, in overlay order (English; the GUI may translate by action).
ACTION_DESCRIPTIONS: Final[dict[ReviewAction, str]] = {
    ReviewAction.ACCEPT: "Accept the model's label (verify)",
    ReviewAction.REJECT: "Reject: false detection (the box is dropped)",
    ReviewAction.UNKNOWN: "Animal, species unknown",
    ReviewAction.RELABEL: "Relabel: type-ahead search over all labels",
    **{a: f"Label as saved label {a.quick_label_index + 1}" for a in QUICK_LABEL_ACTIONS},  # type: ignore[operator]
    ReviewAction.MARK_EMPTY: "Whole image is empty (no animal)",
    ReviewAction.APPLY_TO_SEQUENCE: "Apply the last decision to the rest of its sequence",
    ReviewAction.ACCEPT_SUGGESTION: "Take the smoothing suggestion (the label the rest of the image/sequence has)",
    ReviewAction.SKIP: "Skip (decide later)",
    ReviewAction.BACK: "Go back to the previous crop",
    ReviewAction.UNDO: "Undo",
    ReviewAction.REDO: "Redo",
    ReviewAction.HELP: "Show this list of keys",
}
