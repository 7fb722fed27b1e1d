"""Recognise LMS roster exports by their header row and pick the columns that matter."""

from __future__ import annotations

import re

# Fields a roster column can play, in the order they are shown to the instructor.
FIELDS = ("login", "email", "name", "first", "last", "section", "role", "status")

# Header spellings seen in LMS exports and hand-made files, compared after header_key().
# Deliberately absent: "admin", "group", "groups", "is admin", "staff" and the like. Hubclass
# never sends `admin` and only manages groups in its own namespace, so such columns are never
# read automatically (SECURITY.md item 8). Numeric identifiers ("id", "student id", "sis user
# id", "orgdefinedid") are not logins either; the instructor can still pick one by hand.
ALIASES: dict[str, tuple[str, ...]] = {
    "login": (
        "sis login id",
        "login id",
        "username",
        "user name",
        "login",
        "loginid",
        "login name",
        "netid",
        "net id",
        "student username",
        "account name",
    ),
    "email": (
        "email",
        "email address",
        "e mail",
        "e mail address",
        "emailaddress",
        "mail",
        "primary email",
        "student email",
        "school email",
        "university email",
        "institutional email",
    ),
    "name": ("student", "name", "full name", "fullname", "student name", "display name"),
    "first": ("first name", "firstname", "first", "given name", "forename", "preferred name"),
    "last": ("last name", "lastname", "last", "surname", "family name"),
    "section": ("section", "sections", "section name", "course section", "class section"),
    "role": ("role", "roles", "course role", "enrollment role"),
    # Blackboard calls it Availability, Moodle's participants page Status.
    "status": ("availability", "status", "enrollment status", "enrolment status"),
}

_ALIAS_RANK = {
    field: {alias: rank for rank, alias in enumerate(aliases)} for field, aliases in ALIASES.items()
}

_SEPARATORS = re.compile(r"[\s_.\-]+")


def header_key(header: str) -> str:
    """Reduce a column header to the form compared against ALIASES."""
    # D2L prefixes some headers with '#', Excel round-trips leave BOMs and stray quotes.
    key = header.replace("\ufeff", "").strip().strip('"').strip().lstrip("#").lower()
    return _SEPARATORS.sub(" ", key).strip()


def detect_format(keys: list[str]) -> str:
    """Return the LMS that produced a header row, or "generic"."""
    present = set(keys)
    if "orgdefinedid" in present or "end of line indicator" in present:
        return "d2l"
    if "sis login id" in present and ("student" in present or {"lastname", "firstname"} <= present):
        return "canvas"
    if {"last name", "first name", "username"} <= present and (
        present & {"student id", "last access", "availability"}
    ):
        return "blackboard"
    if {"first name", "last name", "email address"} <= present:
        return "moodle"
    return "generic"


def auto_mapping(columns: list[str]) -> dict[str, str | None]:
    """Pick the column for each field from the header: the best-ranked alias, leftmost on ties."""
    chosen: dict[str, str | None] = dict.fromkeys(FIELDS)
    best: dict[str, int] = {}
    for column in columns:
        key = header_key(column)
        for field in FIELDS:
            rank = _ALIAS_RANK[field].get(key)
            if rank is not None and rank < best.get(field, len(ALIASES[field])):
                best[field] = rank
                chosen[field] = column
    return chosen


def is_known_header(cells: list[str]) -> bool:
    """Tell whether any cell of a row is a header we recognise (the row is a header row)."""
    return any(header_key(c) in _ALIAS_RANK[f] for c in cells for f in FIELDS)
