"""Roster use cases with the database and the Hub: preview an upload, apply it, list history.

Shared by the pages, the API and the CLI; the caller commits (the request is the transaction),
except that an apply commits each chunk of accounts the Hub made as soon as it made them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from flask import current_app
from sqlalchemy import Row, select

from app import audit
from app.audit.actions import ACCOUNTS_MADE
from app.courses.models import Course
from app.courses.service import staff_users
from app.extensions import db
from app.hub import HubClient, HubUser, hub_client, roles_by_group
from app.roster.accounts import this_machine
from app.roster.apply import (
    FAILED,
    Intent,
    Result,
    apply_intent,
    failure,
    is_failure,
    section_group,
    still_ours,
)
from app.roster.models import Enrollment, HubAccount, ImportStatus, RosterImport
from app.roster.parse import ColumnMapping, RosterError, parse_roster
from app.roster.plan import MAX_REMOVE_SHARE, Plan, RemoveMode, make_plan
from app.roster.protection import with_group_roles
from app.roster.usernames import DEFAULT_RULE, check_username, compile_pattern, parse_rule
from app.timeutil import utcnow


@dataclass(frozen=True)
class HubState:
    """Every Hub user and the roles each Hub group grants, from complete paginated listings."""

    users: dict[str, HubUser]
    group_roles: dict[str, tuple[str, ...]]


def _hub_snapshot(client: HubClient) -> HubState:
    """Read the Hub's users and groups (never from a truncated listing)."""
    return HubState(
        users={user.name: user for user in client.list_users()},
        group_roles=roles_by_group(client.list_groups()),
    )


def _accounts_created_for(course: Course) -> dict[str, tuple[str | None, datetime]]:
    """The Hub accounts Hubclass created for this course: name -> (Hub `created`, recorded)."""
    return {
        a.username: (a.hub_created, a.recorded_at)
        for a in db.session.scalars(select(HubAccount).where(HubAccount.course_id == course.id))
    }


def _still_created_here(course: Course, users: dict[str, HubUser]) -> set[str]:
    return {
        name
        for name, (hub_created, recorded) in _accounts_created_for(course).items()
        if name in users and still_ours(users[name], hub_created, recorded)
    }


def _instructor_groups() -> set[str]:
    """The service-wide instructor groups: their members are never removed by a roster."""
    return set(current_app.config["HUBCLASS_INSTRUCTOR_GROUPS"])


def active_enrollments(course: Course) -> list[Enrollment]:
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(Enrollment.course_id == course.id, Enrollment.active.is_(True))
            .order_by(Enrollment.username)
        )
    )


def all_enrollments(course: Course) -> list[Row[Any]]:
    """Current students first, then those who left (kept for the record): the columns the
    roster page shows, not mapped objects (2000 of them were most of the page's time)."""
    return list(
        db.session.execute(
            select(
                Enrollment.name,
                Enrollment.username,
                Enrollment.email,
                Enrollment.section,
                Enrollment.enrolled_at,
                Enrollment.active,
                Enrollment.removed_at,
            )
            .where(Enrollment.course_id == course.id)
            .order_by(Enrollment.active.desc(), Enrollment.username)
        )
    )


def _section_groups(course: Course, sections: set[str]) -> frozenset[str]:
    """The course's own section groups; never a group that is another course's."""
    known = {
        e.section
        for e in db.session.scalars(
            select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.section.is_not(None)
            )
        )
    }
    names = set()
    for value in known | sections:
        for section in (value or "").split("; "):
            if section:
                names.add(section_group(course.hub_group, section))
    others = set(db.session.scalars(select(Course.hub_group).where(Course.id != course.id)))
    return frozenset(names - others)


def _enrolled(course: Course, users: dict[str, HubUser]) -> set[str]:
    """Who the course has now: our records plus the Hub group's actual members."""
    names = {e.username for e in active_enrollments(course)}
    names |= {name for name, user in users.items() if course.hub_group in user.groups}
    return names


def preview(
    course: Course,
    data: bytes,
    filename: str,
    *,
    actor: str,
    rule: str = DEFAULT_RULE,
    remove: str = RemoveMode.NONE,
    mapping: dict | None = None,
    client: HubClient | None = None,
    hub: HubState | None = None,
) -> tuple[RosterImport, Plan]:
    """Read the file, compare it with the course and the Hub, and keep the preview."""
    parsed = parse_roster(
        data,
        filename,
        mapping=ColumnMapping.from_dict(mapping) if mapping else None,
        max_rows=current_app.config["HUBCLASS_ROSTER_MAX_ROWS"],
    )
    client = client or hub_client()
    hub = hub if hub is not None else _hub_snapshot(client)
    sections = {s for row in parsed.rows for s in row.sections}
    plan = make_plan(
        parsed,
        rule=rule,
        pattern=current_app.config.get("HUBCLASS_USERNAME_PATTERN"),
        enrolled=_enrolled(course, hub.users),
        hub_users={name: with_group_roles(u, hub.group_roles) for name, u in hub.users.items()},
        instructor_groups=_instructor_groups(),
        course_group=course.hub_group,
        remove=remove,
        section_groups=_section_groups(course, sections),
        staff_groups=course.instructor_groups or (),
        staff_users=course.staff_users or (),
        any_staff_users=staff_users(),
        created_here=_still_created_here(course, hub.users),
        # Read at each preview: accounts made since the last one count at once.
        accounts=this_machine(),
    )
    record = RosterImport(
        course=course,
        created_by=actor,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        file_format=parsed.format,
        encoding=parsed.encoding,
        mapping=parsed.mapping.to_dict(),
        username_rule=rule,
        remove_mode=plan.remove_mode,
        plan={
            **plan.to_json(),
            **plan.details(),
            "file_notes": list(parsed.notes),
            "enrol": [
                {
                    "username": e.username,
                    "name": e.name,
                    "email": e.email,
                    "sections": list(e.sections),
                    "row": e.row,
                }
                for e in plan.enrollments()
            ],
        },
    )
    db.session.add(record)
    db.session.flush()
    return record, plan


def apply(
    record: RosterImport,
    *,
    actor: str,
    confirm: str | None = None,
    client: HubClient | None = None,
    hub: HubState | None = None,
) -> RosterImport:
    """Apply a previewed import to the Hub; applying again retries what failed. Commits the
    session whenever the Hub made accounts (see _journal_created)."""
    course = record.course
    plan = record.plan
    if history(course)[0].id != record.id:
        raise RosterError(
            "not_latest",
            "A newer roster was uploaded after this one; apply that one, so an old file does "
            "not undo newer changes.",
        )
    if plan.get("needs_confirmation") and (confirm or "").strip() != course.slug:
        raise RosterError(
            "confirm",
            f"This import removes {len(plan['remove'])} students, more than "
            f"{MAX_REMOVE_SHARE:.0%} of the course. "
            f"Type the course name {course.slug!r} to confirm.",
        )
    enrol = {e["username"]: e for e in plan["enrol"]}
    refused = _refused_now(list(enrol), allow_at=parse_rule(record.username_rule)[0] == "email")
    for name in refused:
        del enrol[name]
    sections = {s for e in enrol.values() for s in e["sections"]}
    remove_mode = RemoveMode(record.remove_mode)
    intent = Intent(
        course_group=course.hub_group,
        enrol={name: list(e["sections"]) for name, e in enrol.items()},
        remove=list(plan["remove"]) if remove_mode != RemoveMode.NONE else [],
        remove_mode=remove_mode,
        instructor_groups=frozenset(_instructor_groups()),
        section_groups=_section_groups(course, sections),
        staff_groups=frozenset(course.instructor_groups or ()),
        staff_users=frozenset(course.staff_users or ()),
        any_staff_users=frozenset(staff_users()),
        created_here=_accounts_created_for(course),
    )
    outcome = apply_intent(
        client or hub_client(),
        intent,
        hub_users=hub.users if hub else None,
        group_roles=hub.group_roles if hub else None,
        created=partial(_journal_created, record, actor),
    )
    _record_enrollments(course, enrol, outcome.results)
    _record_accounts(course, outcome.results, outcome.hub_created)
    outcome.results.update(refused)
    results = {**(record.results or {}), **outcome.results}
    # A retry that succeeds replaces an earlier failure of the same student.
    record.results = results
    record.status = ImportStatus.PARTIAL if outcome.failed else ImportStatus.APPLIED
    record.applied_at = utcnow()
    record.applied_by = actor
    audit.record(
        actor,
        "roster.apply",
        course=course,
        target=record.filename,
        import_id=record.id,
        status=record.status,
        counts=_counts(outcome.results),
        # By name: the log says who got an account, joined, left or lost their account.
        students=_names(outcome.results),
        groups_created=sorted(outcome.groups_created),
    )
    return record


def _names(results: dict[str, str]) -> dict[str, list[str]]:
    """The usernames of each result (failures together), as _counts counts them."""
    names: dict[str, list[str]] = {}
    for name, value in sorted(results.items()):
        names.setdefault(FAILED if is_failure(value) else value, []).append(name)
    return names


def _counts(results: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in results.values():
        key = FAILED if is_failure(value) else value
        counts[key] = counts.get(key, 0) + 1
    return counts


def _record_enrollments(course: Course, enrol: dict[str, dict], results: dict[str, str]) -> None:
    existing = {
        e.username: e
        for e in db.session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))
    }
    now = utcnow()
    for name, info in enrol.items():
        if is_failure(results.get(name, "")):
            continue
        row = existing.get(name)
        if row is None:
            row = Enrollment(course=course, username=name, enrolled_at=now)
            db.session.add(row)
        elif not row.active:
            row.enrolled_at = now
        row.active = True
        row.removed_at = None
        row.name = (info.get("name") or "")[:255]
        row.email = info.get("email")
        row.section = "; ".join(info.get("sections") or ()) or None
    for name, result in results.items():
        if result in (Result.REMOVED, Result.DELETED) and name in existing:
            existing[name].active = False
            existing[name].removed_at = now


def _refused_now(names: list[str], *, allow_at: bool) -> dict[str, str]:
    """Check the stored preview's usernames again: the rules or the machine's accounts may
    have changed since (an import previewed before an upgrade, a `useradd` in between)."""
    pattern = compile_pattern(current_app.config.get("HUBCLASS_USERNAME_PATTERN"))
    accounts = this_machine()
    refused = {}
    for name in names:
        reason = check_username(name, allow_at=allow_at, pattern=pattern, accounts=accounts)
        if reason:
            refused[name] = failure(f"not enrolled, {reason}")
    return refused


def _journal_created(record: RosterImport, actor: str, made: list[HubUser]) -> None:
    """Commit the accounts the Hub just made before the apply goes on: if its process dies
    now (the service restarted mid-apply), they stay Hubclass's own (a later roster may
    delete them, as it may nobody else's), and the import says it made them and is partial
    (applying it again finishes it). So an apply that makes accounts commits as it goes."""
    _record_accounts(record.course, {}, {user.name: user.created for user in made})
    record.results = {**(record.results or {}), **{u.name: Result.CREATED for u in made}}
    record.status = ImportStatus.PARTIAL  # until the apply ends
    record.applied_at = utcnow()
    record.applied_by = actor
    audit.record(
        actor,
        ACCOUNTS_MADE,
        course=record.course,
        target=record.filename,
        import_id=record.id,
        students=sorted(user.name for user in made),
    )
    db.session.commit()


def _record_accounts(
    course: Course, results: dict[str, str], hub_created: dict[str, str | None]
) -> None:
    """Remember the accounts created for this course; forget the ones deleted.

    Every account the Hub said it created is recorded, even when adding it to the group failed
    afterwards: otherwise a retry would see it as an account the Hub had before.
    """
    for name, result in results.items():
        if result != Result.DELETED:
            continue
        account = db.session.get(HubAccount, name)
        if account is not None:
            db.session.delete(account)
    for name in hub_created:
        account = db.session.get(HubAccount, name)
        if account is None:
            account = HubAccount(username=name)
            db.session.add(account)
        account.course = course
        account.hub_created = hub_created.get(name)
        account.recorded_at = utcnow()


def import_file(
    course: Course,
    data: bytes,
    filename: str,
    *,
    actor: str,
    rule: str,
    remove: str,
    apply_now: bool,
    confirm: str | None = None,
) -> RosterImport:
    """Preview a file and, if asked, apply it at once (the CLI and the API).

    One complete listing of the Hub serves both steps. The preview is committed first, so it is
    kept even when applying fails; this is the one use case that commits twice.
    """
    client = hub_client()
    hub = _hub_snapshot(client)
    record, _ = preview(
        course, data, filename, actor=actor, rule=rule, remove=remove, client=client, hub=hub
    )
    db.session.commit()
    if apply_now:
        apply(record, actor=actor, confirm=confirm, client=client, hub=hub)
        db.session.commit()
    return record


def history(course: Course) -> list[RosterImport]:
    return list(
        db.session.scalars(
            select(RosterImport)
            .where(RosterImport.course_id == course.id)
            .order_by(RosterImport.created_at.desc(), RosterImport.id.desc())
        )
    )


def get_import(course: Course, import_id: int) -> RosterImport | None:
    return db.session.scalar(
        select(RosterImport).where(
            RosterImport.course_id == course.id, RosterImport.id == import_id
        )
    )


def result_json(record: RosterImport) -> dict:
    """The CLI/API shape: the plan, whether it was applied, and each change's result."""
    plan = record.plan
    return {
        "import": record.id,
        "add": plan["add"],
        "keep": plan["keep"],
        "remove": plan["remove"],
        "invalid": plan["invalid"],
        "duplicates": plan["duplicates"],
        "skipped": plan["skipped"],
        "create": plan.get("create", []),
        "enrol_existing": plan.get("enrol_existing", []),
        "protected": plan.get("protected", []),
        "account_kept": plan.get("account_kept", []),
        "needs_confirmation": plan.get("needs_confirmation", False),
        "notes": plan.get("file_notes", []) + plan.get("notes", []),
        "applied": record.status in (ImportStatus.APPLIED, ImportStatus.PARTIAL),
        "status": record.status,
        "results": record.results or {},
    }
