"""Spreadsheet-safe CSV cells: every CSV writer goes through :func:`csv_cell` / :func:`csv_row`.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(and a leading tab or carriage return can smuggle one in), so a file name, location, label or
reviewer name like ``=HYPERLINK(...)`` would execute when the CSV is opened, and a real camera
folder such as ``-33.9_18.4`` would be mangled into a number. Following OWASP's *CSV injection*
advice, such a text cell is written with a single quote in front (``'-33.9_18.4``), which the
spreadsheet shows as the plain text.

Numbers we write ourselves (confidences, coordinates) are passed through :func:`csv_row`'s
``numeric`` columns untouched: ``-0.5`` there is a number, not a formula.

Our own readers undo the quoting with :func:`csv_uncell`; a cell that starts with a quote
followed by one of the trigger characters is always one we wrote (a real value starting with
``'=`` is itself quoted again: ``''=``), so the round trip is exact.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

#: First characters that make a spreadsheet treat a cell as a formula (OWASP).
FORMULA_TRIGGERS: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")
QUOTE: Final = "'"


def _needs_quote(text: str) -> bool:
    if text.startswith(FORMULA_TRIGGERS):
        return True
    # A value that already looks like one of our quoted cells is quoted once more, so that
    # csv_uncell gives it back unchanged.
    return text.startswith(QUOTE) and text.lstrip(QUOTE).startswith(FORMULA_TRIGGERS)


def csv_cell(value: object) -> str:
    """``value`` as text, with a leading ``'`` when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return QUOTE + text if _needs_quote(text) else text


def csv_uncell(text: str) -> str:
    """Undo :func:`csv_cell` (for our readers); any other text comes back unchanged."""
    if text.startswith(QUOTE) and text[1:].lstrip(QUOTE).startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def csv_row(row: Mapping[str, object], numeric: Collection[str] = ()) -> dict[str, str]:
    """Every cell of ``row`` through :func:`csv_cell`, except the ``numeric`` columns we formatted."""
    return {k: ("" if v is None else str(v)) if k in numeric else csv_cell(v) for k, v in row.items()}
