"""Turn a roster row into a Hub username: a course's rule, Hub normalisation, a strict check.

The Hub itself accepts spaces, tabs, newlines, unicode and 300-character names (HUB_FACTS.md),
and one name it does reject fails a whole bulk create. So every name is checked here, with a
reason an instructor can act on, before anything is sent.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from app.roster.accounts import BUILTIN_ONLY, SystemAccounts
from app.roster.parse import RosterError, RosterRow
from app.text import invisible

RULES = ("email-local", "email", "column:NAME")
DEFAULT_RULE = "email-local"
MAX_LENGTH = 64
# Whatever a configured pattern allows, nothing longer reaches the Hub (NAME_MAX for homes).
HARD_MAX_LENGTH = 255
# Lowercase letters, digits, '.', '_' and '-'; not starting with '-' or '.'; at most 64.
DEFAULT_PATTERN = r"[a-z0-9_][a-z0-9._-]{0,63}"
# The same, plus '@', for the whole-email rule.
DEFAULT_EMAIL_PATTERN = r"[a-z0-9_][a-z0-9._@-]{0,63}"

# The Hub's own names: a student called `jupyterhub` or `hubclass` would look like staff in
# every listing. System accounts (`root`, `games`, the cloud images' `admin`...) are refused by
# the one rule of app/roster/accounts.py, which also reads this machine's own.
HUB_NAMES = frozenset(
    {"administrator", "jupyter", "jupyterhub", "jupyterhub-admin", "hubclass", "hub"}
)

_FAST_OK = re.compile(DEFAULT_PATTERN)
# Markup and quoting characters: harmless once escaped, but nothing legitimate needs them.
_MARKUP = frozenset("<>&\"'`")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True, slots=True)
class Resolution:
    """The username for one row, or why there is none; `value` is what the file held."""

    username: str | None
    value: str
    reason: str | None
    column: str | None = None


def username_for(
    row: RosterRow,
    rule: str = DEFAULT_RULE,
    pattern: re.Pattern[str] | str | None = None,
    accounts: SystemAccounts = BUILTIN_ONLY,
) -> tuple[str | None, str | None]:
    """Return (username, None) for a row, or (None, reason) when it has no acceptable one."""
    result = resolve_username(row, rule, pattern, accounts)
    return result.username, result.reason


def resolve_username(
    row: RosterRow,
    rule: str = DEFAULT_RULE,
    pattern: re.Pattern[str] | str | None = None,
    accounts: SystemAccounts = BUILTIN_ONLY,
) -> Resolution:
    """Apply a rule to a row: pick the value, normalise it like the Hub, check it strictly."""
    return make_resolver(rule, pattern, accounts)(row)


def make_resolver(
    rule: str = DEFAULT_RULE,
    pattern: re.Pattern[str] | str | None = None,
    accounts: SystemAccounts = BUILTIN_ONLY,
) -> Callable[[RosterRow], Resolution]:
    """Validate a rule and pattern once; return the function that resolves each row.

    `accounts` are the system accounts refused as students: the built-in list unless the
    caller read a machine's (accounts.this_machine()).
    """
    kind, column = parse_rule(rule)
    compiled = compile_pattern(pattern)
    allow_at = kind == "email"

    def resolve(row: RosterRow) -> Resolution:
        # The email (or a login that is one) is stored with the student, and PostgreSQL cannot
        # store a NUL: a control character anywhere in it costs the row, not only in the part
        # that becomes the username.
        for value in (row.email, row.login):
            if value and any(invisible(ch) for ch in value.strip()):
                return Resolution(None, value, "contains control or invisible characters", column)
        if column is not None:
            value = _column_value(row, column)
            if not value.strip():
                return Resolution(None, "", f"the {column!r} cell is empty", column)
            candidate = value
        else:
            value, candidate, reason = _from_email(row, whole=allow_at)
            if reason:
                return Resolution(None, value, reason)
        name = normalize_username(candidate)
        reason = check_username(name, allow_at=allow_at, pattern=compiled, accounts=accounts)
        if reason:
            return Resolution(None, value, reason, column)
        return Resolution(name, value, None, column)

    return resolve


def parse_rule(rule: str) -> tuple[str, str | None]:
    """Split a rule into ("email-local"|"email"|"column", column name); refuse unknown rules."""
    if rule in ("email-local", "email"):
        return rule, None
    if rule.startswith("column:") and rule[len("column:") :].strip():
        return "column", rule[len("column:") :].strip()
    raise RosterError(
        "bad_rule",
        f"Unknown username rule {rule!r}: use email-local, email, or column:<column name>.",
    )


@functools.lru_cache(maxsize=32)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RosterError(
            "bad_pattern",
            f"The username pattern {pattern!r} (HUBCLASS_USERNAME_PATTERN) is not a valid "
            f"regular expression: {exc}.",
        ) from None


def compile_pattern(pattern: re.Pattern[str] | str | None) -> re.Pattern[str] | None:
    """Compile a configured pattern (matched against the whole name); None means the default."""
    if pattern is None or isinstance(pattern, re.Pattern):
        return pattern
    return _compile(pattern) if pattern.strip() else None


def normalize_username(value: str) -> str:
    """Normalise as the Hub does: strip surrounding whitespace, lowercase."""
    return value.strip().lower()


def check_username(
    name: str,
    *,
    allow_at: bool = False,
    pattern: re.Pattern[str] | None = None,
    accounts: SystemAccounts = BUILTIN_ONLY,
) -> str | None:
    """Return why a normalised name is refused, or None when it is acceptable.

    The safety checks (control characters, spaces, '/', '..', markup, a leading '-' or '.',
    '@' outside the email rule, system accounts, the Hub's names) apply whatever pattern is
    configured; the pattern only narrows further, or widens the character set and the length.
    """
    # Fast path for the common case; everything it accepts passes the checks below too.
    fast = pattern is None and not allow_at and _FAST_OK.fullmatch(name)
    if fast and ".." not in name and name not in HUB_NAMES and name not in accounts:
        return None
    if not name:
        return "the username is empty"
    if any(invisible(ch) for ch in name):
        return "contains control or invisible characters"
    if _MARKUP.intersection(name):
        return "contains markup or quote characters (< > & \" ' `)"
    if any(ch.isspace() for ch in name):
        return "contains a space"
    if "/" in name or "\\" in name:
        return "contains '/' or '\\'"
    if ".." in name:
        return "contains '..'"
    if name[0] in "-.":
        return f"starts with {name[0]!r}"
    if "@" in name and not allow_at:
        return "contains '@' (only the whole-email rule keeps it)"
    limit = MAX_LENGTH if pattern is None else HARD_MAX_LENGTH
    if len(name) > limit:
        return f"is {len(name):,} characters long (at most {limit})"
    if (reason := accounts.reason(name)) is not None:
        return reason
    if name in HUB_NAMES:
        return (
            f"{name!r} is reserved for the Hub and its services: a student of that name would "
            "look like staff"
        )
    if pattern is not None:
        if pattern.fullmatch(name):
            return None
        return "does not match the username pattern set by the Hub admin"
    if not name.isascii():
        ch = next(c for c in name if not c.isascii())
        return (
            f"contains the non-ASCII letter {ch!r} ({unicodedata.name(ch, 'unknown')}), "
            "which can look like another letter"
        )
    default = DEFAULT_EMAIL_PATTERN if allow_at else DEFAULT_PATTERN
    if not re.fullmatch(default, name):
        bad = sorted({c for c in name if not re.fullmatch(r"[a-z0-9._@-]", c)})
        shown = " ".join(repr(c) for c in bad)
        return f"contains characters not allowed in usernames: {shown}"
    return None


def _column_value(row: RosterRow, column: str) -> str:
    if column in row.raw:
        return row.raw[column]
    lowered = column.lower()
    for key, value in row.raw.items():
        if key.lower() == lowered:
            return value
    return ""


def has_column(columns: list[str], column: str) -> bool:
    """Tell whether the "column:NAME" rule can find its column (case-insensitively)."""
    return column.lower() in (c.lower() for c in columns)


def _from_email(row: RosterRow, *, whole: bool) -> tuple[str, str, str | None]:
    """Return (value from the file, candidate name, reason) for the email rules.

    The email wins; without one, the login column is used, and a login that is an email
    counts as the email (Canvas' SIS Login ID, a plain list of addresses).
    """
    source = row.email or row.login or ""
    source = source.strip()
    if not source:
        return "", "", "no email or username in this row"
    is_email = "@" in source
    if is_email and not _EMAIL.fullmatch(source):
        return source, "", f"{source!r} is not an email address"
    if whole:
        if not is_email:
            return source, "", "no email address in this row (the whole-email rule needs one)"
        return source, source, None
    if is_email:
        return source, source.split("@", 1)[0], None
    return source, source, None
