"""Text from outside (a roster cell, a URL, git's stderr) made safe to show on one line, or to
put in a spreadsheet.

Pure (no Flask): the roster core and the git engine both use it.
"""

from __future__ import annotations

import unicodedata

# Cc: control (tab, newline, NUL...), Cf: format (zero-width, bidi overrides), Zl/Zp: line and
# paragraph separators, Cs/Co/Cn: surrogates, private use, unassigned.
INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def invisible(ch: str) -> bool:
    """Tell whether a character cannot be seen, or moves or hides the text around it."""
    return unicodedata.category(ch) in INVISIBLE


def printable(value: str, limit: int = 80) -> str:
    """Return a value safe to show in one line: invisible characters escaped, length cut."""
    shown = "".join(f"\\u{ord(ch):04x}" if invisible(ch) else ch for ch in value[:limit])
    return shown + "…" if len(value) > limit else shown


# A spreadsheet runs a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """Make a CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
