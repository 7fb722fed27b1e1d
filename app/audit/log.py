"""The audit log as its readers see it: the events of the courses they manage (Hub admins: all,
also those of no course), filtered, newest first, a page at a time or all as CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import joinedload

from app import courses
from app.courses.models import Course
from app.errors import HubclassError
from app.extensions import db
from app.text import invisible, printable, safe_cell
from app.timeutil import iso_z
from app.web.inputs import MAX_ID

from .actions import ACTIONS
from .models import AuditEvent

PAGE_SIZE = 50
API_LIMIT = 500  # the most events one API answer holds
EXPORT_BATCH = 1000  # events read at a time while the CSV streams
ACTOR_MAX = 255  # AuditEvent.actor's length
# What a detail's list shows on the page before "and N more" (the CSV has them all).
SHOWN_NAMES = 10
EVENT_ID = re.compile(r"[0-9]{1,10}")


class FilterError(HubclassError):
    """A filter of the log that cannot be read; the message says which and what to give."""

    title = "Audit log"
    statuses: ClassVar[dict[str, int]] = {}


@dataclass(frozen=True)
class Filters:
    """What the reader asked to see: one course, one actor, one action (each optional)."""

    course: Course | None = None
    actor: str = ""
    action: str = ""

    def args(self, with_course: bool = True) -> dict[str, str]:
        """The filters as query parameters, for links (paging, the CSV) that keep them; a
        course's own page has its course in the path instead."""
        course = self.course.slug if self.course and with_course else ""
        found = {"course": course, "actor": self.actor, "action": self.action}
        return {name: value for name, value in found.items() if value}


def read_filters(
    args: Mapping[str, str], who: courses.Teacher | None, *, course: Course | None = None
) -> Filters:
    """Read the `course`, `actor` and `action` query parameters; FilterError for one that is
    not a course `who` manages, a username, or an action of the log. `course` fixes the course
    (a course's own log page) whatever the parameter says."""
    if course is None:
        course = _course(args.get("course", "").strip(), who)
    return Filters(course=course, actor=_actor(args.get("actor", "").strip()),
                   action=_action(args.get("action", "").strip()))  # fmt: skip


def _course(slug: str, who: courses.Teacher | None) -> Course | None:
    if not slug:
        return None
    try:
        return courses.get_course(slug, who=who)
    except courses.CourseError:
        # The same words for a course that does not exist and one of someone else's.
        raise FilterError(
            "unknown_course",
            f"There is no course {printable(slug, 40)!r} that you teach: choose one of the "
            "list, or all courses.",
        ) from None


def _actor(actor: str) -> str:
    if len(actor) > ACTOR_MAX or any(invisible(ch) for ch in actor):
        raise FilterError(
            "invalid_actor",
            f"{printable(actor, 40)!r} is not a username: give the Hub username of who acted "
            f"(at most {ACTOR_MAX} characters), or nothing for everyone.",
        )
    return actor


def _action(action: str) -> str:
    if action and action not in ACTIONS:
        raise FilterError(
            "unknown_action",
            f"{printable(action, 40)!r} is not an action of the log: give one of "
            f"{', '.join(ACTIONS)}, or nothing for all of them.",
        )
    return action


def read_event_id(args: Mapping[str, str], name: str) -> int | None:
    """Read a paging parameter (`before` or `after`): an event's id, or None when absent."""
    value = args.get(name, "").strip()
    if not value:
        return None
    if not EVENT_ID.fullmatch(value) or not 1 <= int(value) <= MAX_ID:
        raise FilterError(
            "invalid_page",
            f"{name} must be the number of an event (1 to {MAX_ID}), not {printable(value, 20)!r}.",
        )
    return int(value)


def read_limit(args: Mapping[str, str], default: int = 100) -> int:
    """Read the API's `limit`: how many events one answer holds, 1 to API_LIMIT."""
    value = args.get("limit", "").strip()
    if not value:
        return default
    if not EVENT_ID.fullmatch(value) or not 1 <= int(value) <= API_LIMIT:
        raise FilterError(
            "invalid_limit", f"limit must be a number from 1 to {API_LIMIT}, not "
            f"{printable(value, 20)!r}.",
        )  # fmt: skip
    return int(value)


# -- reading ----------------------------------------------------------------------------------


def visible_to(who: courses.Teacher | None) -> ColumnElement[bool]:
    """The events `who` may read: Hub admins (and the command line) all, also those of no
    course; anyone else those of the courses they manage, and no other."""
    if who is None or who.admin:
        return true()
    ids = [course.id for course in courses.list_courses(who=who)]
    return AuditEvent.course_id.in_(ids) if ids else false()


def _conditions(who: courses.Teacher | None, filters: Filters) -> list[ColumnElement[bool]]:
    found = [visible_to(who)]
    if filters.course is not None:
        found.append(AuditEvent.course_id == filters.course.id)
    if filters.actor:
        found.append(AuditEvent.actor == filters.actor)
    if filters.action:
        found.append(AuditEvent.action == filters.action)
    return found


def _events(conditions: list[ColumnElement[bool]]) -> Select[AuditEvent]:
    # The course's slug in the same query: a page or a CSV batch costs one.
    return select(AuditEvent).where(*conditions).options(joinedload(AuditEvent.course))


@dataclass
class Page:
    """One page of the log, newest first; `older`/`newer`: the ids that open the next pages
    (as `before` / `after`), None at either end."""

    events: list[AuditEvent]
    older: int | None
    newer: int | None


def page(
    who: courses.Teacher | None,
    filters: Filters,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """The `size` events before the event `before` (or after `after`; neither: the newest),
    in at most three bounded queries."""
    conditions = _conditions(who, filters)
    query = _events(conditions)
    if after is not None:
        rows = list(db.session.scalars(
            query.where(AuditEvent.id > after).order_by(AuditEvent.id).limit(size + 1)
        ))  # fmt: skip
        more_newer = len(rows) > size
        events = rows[:size][::-1]
        older = None
        if events and _exists(conditions, AuditEvent.id < events[-1].id):
            older = events[-1].id
        return Page(events, older, events[0].id if more_newer else None)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    rows = list(db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(size + 1)))
    events = rows[:size]
    older = events[-1].id if len(rows) > size else None
    newer = None
    if before is not None and events and _exists(conditions, AuditEvent.id > events[0].id):
        newer = events[0].id
    return Page(events, older, newer)


def _exists(conditions: list[ColumnElement[bool]], condition: ColumnElement[bool]) -> bool:
    found = select(AuditEvent.id).where(*conditions, condition).limit(1)
    return db.session.scalar(found) is not None


def every_event(who: courses.Teacher | None, filters: Filters) -> Iterator[AuditEvent]:
    """Every event the filters select, newest first, read EXPORT_BATCH at a time."""
    query = _events(_conditions(who, filters)).order_by(AuditEvent.id.desc()).limit(EXPORT_BATCH)
    before: int | None = None
    while True:
        batch = list(db.session.scalars(
            query if before is None else query.where(AuditEvent.id < before)
        ))  # fmt: skip
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        before = batch[-1].id


# -- writing out ------------------------------------------------------------------------------


def to_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso_z(event.at),
        "actor": event.actor,
        "action": event.action,
        "course": event.course.slug if event.course else None,
        "target": event.target,
        "detail": event.detail or {},
    }


CSV_COLUMNS = ("id", "at", "actor", "action", "course", "target", "detail")


def csv_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    """The CSV export, a line at a time: `detail` as JSON; every cell formula-escaped."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(cells: tuple) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([safe_cell(cell) for cell in cells])
        return out.getvalue()

    yield line(CSV_COLUMNS)
    for event in events:
        found = to_json(event)
        found["detail"] = json.dumps(found["detail"], ensure_ascii=False)
        yield line(tuple(found[name] for name in CSV_COLUMNS))


def details(detail: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """An event's detail as (name, value) lines for the page, long lists cut short."""
    return [(printable(str(name), 40), printable(_shown(value), 300))
            for name, value in (detail or {}).items()]  # fmt: skip


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if not value:
            return "none"
        names = ", ".join(_shown(item) for item in value[:SHOWN_NAMES])
        more = len(value) - SHOWN_NAMES
        return f"{names} and {more} more" if more > 0 else names
    if isinstance(value, dict):
        if set(value) == {"from", "to"}:  # a changed setting
            return f"{_shown(value['from'])} → {_shown(value['to'])}"
        return "; ".join(f"{name}: {_shown(item)}" for name, item in value.items()) or "none"
    return str(value)
