"""The reviewer's own settings kept in QSettings: their name and their label vocabulary.

QSettings is the house place for small per-user UI state (architecture §5). Keys:
``review/reviewer`` (asked once), ``review/labels`` (every label the reviewer typed, so the
type-ahead offers it next time, also for detector-only results without classifier labels) and
``review/quick_labels`` (optional fixed labels of the number keys 1-9; without it the session
picks the reviewer's most used labels).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QInputDialog, QWidget

REVIEWER_KEY: Final = "review/reviewer"
LABELS_KEY: Final = "review/labels"
QUICK_LABELS_KEY: Final = "review/quick_labels"


def _str_list(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if str(v).strip())  # type: ignore[attr-defined]


def stored_reviewer() -> str:
    return str(QSettings().value(REVIEWER_KEY, "") or "")


def set_reviewer(name: str) -> None:
    QSettings().setValue(REVIEWER_KEY, name.strip())


def ask_reviewer(parent: QWidget | None, *, change: bool = False) -> str:
    """The stored reviewer name, asking once (QInputDialog) when there is none; "" if refused.

    With ``change``, always asks, the current name pre-filled (Cancel keeps it).
    """
    name = stored_reviewer()
    if name and not change:
        return name
    text, ok = QInputDialog.getText(
        parent, parent.tr("Reviewer") if parent else "Reviewer",
        parent.tr("Your name or initials (stored with every decision):") if parent else "Your name:",
        text=name)
    if change and not (ok and text.strip()):
        return ""
    if ok and text.strip():
        set_reviewer(text)
        return text.strip()
    return ""


def saved_labels() -> tuple[str, ...]:
    return _str_list(QSettings().value(LABELS_KEY))


def remember_labels(labels: Iterable[str]) -> None:
    known = dict.fromkeys(saved_labels())
    known.update(dict.fromkeys(x for x in labels if x))
    QSettings().setValue(LABELS_KEY, list(known))


def saved_quick_labels() -> tuple[str, ...] | None:
    labels = _str_list(QSettings().value(QUICK_LABELS_KEY))
    return labels or None


def set_quick_labels(labels: Iterable[str]) -> None:
    QSettings().setValue(QUICK_LABELS_KEY, list(labels))
