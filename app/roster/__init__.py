"""Rosters: read an LMS export (parse), compare it with the course (plan); pure, no I/O.

The apply step, which talks to the Hub, lives beside these modules and uses their results.
"""

from app.roster.parse import (
    MAX_ROWS,
    ColumnMapping,
    ParsedRoster,
    RosterError,
    RosterRow,
    SkippedRow,
    parse_roster,
)
from app.roster.plan import (
    Duplicate,
    EnrollmentInfo,
    Enrolment,
    HubUserInfo,
    InvalidRow,
    Plan,
    ProtectedUser,
    Removal,
    make_plan,
)
from app.roster.usernames import (
    DEFAULT_PATTERN,
    DEFAULT_RULE,
    check_username,
    normalize_username,
    resolve_username,
    username_for,
)

__all__ = [
    "DEFAULT_PATTERN",
    "DEFAULT_RULE",
    "MAX_ROWS",
    "ColumnMapping",
    "Duplicate",
    "EnrollmentInfo",
    "Enrolment",
    "HubUserInfo",
    "InvalidRow",
    "ParsedRoster",
    "Plan",
    "ProtectedUser",
    "Removal",
    "RosterError",
    "RosterRow",
    "SkippedRow",
    "check_username",
    "make_plan",
    "normalize_username",
    "parse_roster",
    "resolve_username",
    "username_for",
]
