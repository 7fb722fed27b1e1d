"""Compare a parsed roster with the course and the Hub: who is added, kept, removed, and why not.

Pure: the caller passes the current state (enrolled usernames, the Hub's users from a complete
paginated listing). Nothing here changes anything; the plan is what the instructor previews.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from app.roster.accounts import BUILTIN_ONLY, SystemAccounts
from app.roster.parse import ParsedRoster, RosterError, RosterRow, SkippedRow
from app.roster.protection import HubUserInfo, Safeguards, account_kept, never_removed
from app.roster.usernames import DEFAULT_RULE, has_column, make_resolver, parse_rule
from app.text import printable


class RemoveMode(StrEnum):
    """What happens to enrolled students missing from the file (stored in roster_import)."""

    NONE = "none"  # they stay
    GROUP = "group"  # they leave the course's groups; account and files stay
    DELETE = "delete"  # their Hub account is deleted, where Hubclass created it for this course


# A removal of more than this share of the course is applied only when the course's slug is
# typed to confirm it.
MAX_REMOVE_SHARE = 0.10
# What a student of the file becomes: a new Hub account, an existing one joins, or kept as is.
Action = Literal["create", "enrol existing", "keep"]


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A student of the file: to add (action "create" or "enrol existing") or to keep."""

    username: str
    row: RosterRow
    action: Action
    hub_exists: bool
    in_group: bool


@dataclass(frozen=True, slots=True)
class Removal:
    """An enrolled student missing from the file; acted on only when removal is chosen.

    `account_kept` says why their Hub account is not deleted although deletion was chosen:
    they leave the course's groups only.
    """

    username: str
    hub_exists: bool
    in_group: bool
    account_kept: str | None = None


@dataclass(frozen=True, slots=True)
class ProtectedUser:
    """Would be removed, but never is: an admin, a role holder, an instructor or staff."""

    username: str
    reason: str


@dataclass(frozen=True, slots=True)
class InvalidRow:
    """A row with no acceptable username: its row number, the value shown safely, the reason."""

    row: int
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """One username produced by several rows; the first row is the one enrolled."""

    username: str
    rows: tuple[int, ...]
    values: tuple[str, ...]

    @property
    def case_only(self) -> bool:
        """Tell whether the rows differ only by upper/lower case."""
        return len(set(self.values)) > 1 and len({v.lower() for v in self.values}) == 1


@dataclass(frozen=True, slots=True)
class EnrollmentInfo:
    """What the app stores for each student enrolled by the plan."""

    username: str
    name: str
    email: str | None
    section: str | None
    sections: tuple[str, ...]
    row: int


@dataclass
class Plan:
    """Everything that applying the roster would do, and everything it refused, with reasons."""

    course_group: str
    rule: str
    remove_mode: RemoveMode
    add: list[Enrolment] = field(default_factory=list)
    keep: list[Enrolment] = field(default_factory=list)
    remove: list[Removal] = field(default_factory=list)
    protected: list[ProtectedUser] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    collisions: list[Duplicate] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    needs_confirmation: bool = False
    removal_share: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def to_create(self) -> list[str]:
        """Return the usernames that have no Hub user yet (new, or deleted on the Hub meanwhile)."""
        return [e.username for e in (*self.add, *self.keep) if not e.hub_exists]

    @property
    def to_group(self) -> list[str]:
        """Return the usernames of the file that are not in the course group yet."""
        return [e.username for e in (*self.add, *self.keep) if not e.in_group]

    @property
    def removes(self) -> bool:
        """Tell whether applying the plan acts on the removal candidates."""
        return self.remove_mode != RemoveMode.NONE and bool(self.remove)

    def enrollments(self) -> list[EnrollmentInfo]:
        """Return name, email and section of every student the course has after applying.

        Canvas and D2L exports often have no email column but a login that is an email: that
        login is the student's email then.
        """
        return [
            EnrollmentInfo(
                username=e.username,
                name=e.row.name,
                email=e.row.email or (e.row.login if e.row.login and "@" in e.row.login else None),
                section=e.row.section,
                sections=e.row.sections,
                row=e.row.row,
            )
            for e in (*self.add, *self.keep)
        ]

    def to_json(self) -> dict[str, Any]:
        """Return the plan in the CLI/API shape (the app adds "applied" and "results")."""
        return {
            "add": [e.username for e in self.add],
            "keep": [e.username for e in self.keep],
            "remove": [r.username for r in self.remove],
            "invalid": [{"row": i.row, "value": i.value, "reason": i.reason} for i in self.invalid],
            "duplicates": [{"username": d.username, "rows": list(d.rows)} for d in self.duplicates],
            "skipped": [{"row": s.row, "reason": s.reason} for s in self.skipped],
        }

    def details(self) -> dict[str, Any]:
        """Return what the preview shows beyond to_json(), JSON-ready, for storing the import."""
        return {
            "create": [e.username for e in self.add if e.action == "create"],
            "enrol_existing": [e.username for e in self.add if e.action != "create"],
            "delete": [
                r.username
                for r in self.remove
                if self.remove_mode == RemoveMode.DELETE and not r.account_kept
            ],
            "account_kept": [
                {"username": r.username, "reason": r.account_kept}
                for r in self.remove
                if r.account_kept
            ],
            "protected": [{"username": p.username, "reason": p.reason} for p in self.protected],
            "collisions": [
                {"username": c.username, "rows": list(c.rows), "values": list(c.values)}
                for c in self.collisions
            ],
            "remove_mode": self.remove_mode,
            "needs_confirmation": self.needs_confirmation,
            "removal_share": round(self.removal_share, 4),
            "notes": list(self.notes),
        }


def removal_mode(value: str) -> RemoveMode:
    """Read the removal mode a person or a program chose; refuse any other word."""
    try:
        return RemoveMode(value)
    except ValueError:
        choices = ", ".join(RemoveMode)
        raise RosterError("bad_remove", f"Unknown removal mode {value!r}: use {choices}.") from None


def make_plan(
    parsed: ParsedRoster,
    *,
    rule: str = DEFAULT_RULE,
    pattern: re.Pattern[str] | str | None = None,
    enrolled: Collection[str],
    hub_users: Mapping[str, HubUserInfo],
    instructor_groups: Collection[str],
    course_group: str,
    remove: str = RemoveMode.NONE,
    max_remove_share: float = MAX_REMOVE_SHARE,
    section_groups: Collection[str] = (),
    staff_groups: Collection[str] = (),
    staff_users: Collection[str] = (),
    any_staff_users: Collection[str] = (),
    created_here: Collection[str] = (),
    accounts: SystemAccounts = BUILTIN_ONLY,
) -> Plan:
    """Compare the file with the course; `section_groups` are this course's own sub-groups.

    `hub_users` must come from a complete listing: a user missing from it counts as absent.
    Instructors (`instructor_groups`) and this course's staff (`staff_groups`, `staff_users`)
    are never removed; an account is deleted only when it is in `created_here` (Hubclass
    created it for this course), is no course's staff and no other group holds it.
    `accounts` are the system accounts no student may be named after (the caller reads the
    machine's; the built-in list otherwise).
    """
    mode = removal_mode(remove)
    if not 0 <= max_remove_share <= 1:
        raise ValueError("max_remove_share must be between 0 and 1")
    if not course_group:
        raise ValueError("course_group is required")
    _, column = parse_rule(rule)
    if column is not None and not has_column(parsed.columns, column):
        raise RosterError(
            "unknown_column",
            f"The username rule uses the column {column!r}, which is not in this file"
            + (f" (columns: {', '.join(parsed.columns)})." if parsed.columns else "."),
            columns=parsed.columns,
        )
    resolve = make_resolver(rule, pattern, accounts)
    plan = Plan(course_group=course_group, rule=rule, remove_mode=mode)
    plan.skipped = list(parsed.skipped)

    found: dict[str, list[tuple[RosterRow, str]]] = {}
    for row in parsed.rows:
        result = resolve(row)
        if result.username is None:
            plan.invalid.append(
                InvalidRow(row.row, printable(result.value), result.reason or "refused")
            )
            continue
        found.setdefault(result.username, []).append((row, result.value))

    enrolled_set = set(enrolled)
    for username, occurrences in found.items():
        row = occurrences[0][0]
        if len(occurrences) > 1:
            duplicate = Duplicate(
                username,
                tuple(r.row for r, _ in occurrences),
                tuple(printable(v) for _, v in occurrences),
            )
            plan.duplicates.append(duplicate)
            if duplicate.case_only:
                plan.collisions.append(duplicate)
        info = hub_users.get(username)
        in_group = info is not None and course_group in info.groups
        if username in enrolled_set:
            plan.keep.append(Enrolment(username, row, "keep", info is not None, in_group))
        else:
            action: Action = "create" if info is None else "enrol existing"
            plan.add.append(Enrolment(username, row, action, info is not None, in_group))

    guards = Safeguards(
        own_groups=frozenset({course_group, *section_groups}),
        instructor_groups=frozenset(instructor_groups),
        staff_groups=frozenset(staff_groups),
        staff_users=frozenset(staff_users),
        any_staff_users=frozenset(any_staff_users),
        created_here=frozenset(created_here),
    )
    for username in sorted(enrolled_set - found.keys()):
        info = hub_users.get(username)
        if info is None or mode == RemoveMode.NONE:  # nothing to protect anyone from
            in_group = info is not None and course_group in info.groups
            plan.remove.append(Removal(username, info is not None, in_group))
            continue
        reason = never_removed(username, info, guards)
        if reason:
            plan.protected.append(ProtectedUser(username, reason))
            continue
        kept = account_kept(username, info, guards) if mode == RemoveMode.DELETE else None
        plan.remove.append(Removal(username, True, course_group in info.groups, kept))

    if enrolled_set:
        plan.removal_share = len(plan.remove) / len(enrolled_set)
    plan.needs_confirmation = mode != RemoveMode.NONE and plan.removal_share > max_remove_share
    plan.notes = _notes(plan, hub_users, set(instructor_groups))
    return plan


def _notes(
    plan: Plan, hub_users: Mapping[str, HubUserInfo], instructor_groups: set[str]
) -> list[str]:
    """Tell the instructor about what is allowed but surprising."""
    notes: list[str] = []
    staff = [
        e.username
        for e in plan.add
        if (info := hub_users.get(e.username)) is not None
        and (info.admin or instructor_groups.intersection(info.groups))
    ]
    if staff:
        notes.append(
            f"{_names(staff)} {'is' if len(staff) == 1 else 'are'} a Hub admin or instructor "
            "and will be enrolled as a student too."
        )
    mixed_case = {name.lower(): name for name in hub_users if name != name.lower()}
    clashes = [mixed_case[e.username] for e in plan.add if e.username in mixed_case]
    if clashes:
        notes.append(
            f"The Hub has {_names(clashes)}, differing only by case from names in the file; "
            "such accounts cannot log in (the Hub lowercases at login), so new ones are created."
        )
    if plan.invalid and plan.remove:
        notes.append(
            f"{len(plan.invalid)} row(s) have no acceptable username; if they are enrolled "
            "students, those students are listed for removal."
        )
    return notes


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
