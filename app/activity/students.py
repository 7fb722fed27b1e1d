"""The course dashboard's facts, read from the database only (the poller keeps them fresh)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from app.courses.models import Course
from app.extensions import db
from app.roster.models import Enrollment
from app.text import safe_cell
from app.timeutil import iso_z, utcnow

from . import columns as assignment_columns
from .columns import Cell, Column
from .models import ActivitySample, HubUserState, ServerState
from .poller import ACTIVE_WINDOW

TEXT_KEYS = ("name", "username", "section", "server")
DATE_KEYS = ("first_login", "last_activity")
SORT_KEYS = TEXT_KEYS + DATE_KEYS


class Show(StrEnum):
    """Whom the dashboard's table shows (its `show` query parameter)."""

    ALL = "all"
    NEVER = "never"
    ACTIVE = "active"
    RUNNING = "running"
    # Behind, failed or needing attention in any assignment (a cell's needs_action): what the
    # instructor can act on. Not "not delivered": a course not given an assignment yet, or
    # students left out of one on purpose, would fill it. Nor "waiting": the student must log in.
    BEHIND = "behind"


# The words of the dashboard's "Show" menu, in its order.
SHOW_LABELS = {
    Show.ALL: "everyone",
    Show.NEVER: "never logged in",
    Show.ACTIVE: "active now",
    Show.RUNNING: "server running",
    Show.BEHIND: "behind or failed",
}


def shown(value: str | None) -> Show:
    """Read the `show` query parameter; anything unknown shows everyone."""
    try:
        return Show(value or Show.ALL)
    except ValueError:
        return Show.ALL


@dataclass
class StudentRow:
    username: str
    name: str
    email: str | None
    section: str | None
    first_login: datetime | None
    last_activity: datetime | None
    server: str  # a ServerState
    on_hub: bool
    active_now: bool
    # Assignment slug -> this student's cell, once with_assignments() filled them.
    assignments: dict[str, Cell] = field(default_factory=dict)

    @property
    def needs_action(self) -> bool:
        return any(cell.needs_action for cell in self.assignments.values())

    @property
    def logged_in(self) -> bool:
        return self.first_login is not None

    def to_json(self) -> dict:
        return {
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "section": self.section,
            "first_login": _iso(self.first_login),
            "last_activity": _iso(self.last_activity),
            "logged_in": self.logged_in,
            "active_now": self.active_now,
            "server": self.server,
            "on_hub": self.on_hub,
            "assignments": {slug: cell.to_json() for slug, cell in self.assignments.items()},
        }


@dataclass
class Counts:
    enrolled: int
    logged_in: int
    never: int
    active: int
    running: int


def _iso(value: datetime | None) -> str | None:
    return iso_z(value, "seconds") if value else None


def students(course: Course, now: datetime | None = None) -> list[StudentRow]:
    """Every active student of the course with their Hub state, in one query."""
    now = now or utcnow()
    # The columns a row shows, not the mapped objects: 2000 students made 4000 of them for
    # each view, half the dashboard's time (bench/load.py).
    query = (
        select(
            Enrollment.username,
            Enrollment.name,
            Enrollment.email,
            Enrollment.section,
            HubUserState.username.label("on_record"),
            HubUserState.first_login,
            HubUserState.last_activity,
            HubUserState.server,
            HubUserState.on_hub,
        )
        .outerjoin(HubUserState, HubUserState.username == Enrollment.username)
        .where(Enrollment.course_id == course.id, Enrollment.active.is_(True))
    )
    rows = []
    for row in db.session.execute(query):
        known = row.on_record is not None
        last = row.last_activity
        rows.append(
            StudentRow(
                username=row.username,
                name=row.name,
                email=row.email,
                section=row.section,
                first_login=row.first_login,
                last_activity=last,
                server=row.server if known else ServerState.STOPPED,
                on_hub=row.on_hub if known else True,
                active_now=bool(last and now - last <= ACTIVE_WINDOW),
            )
        )
    rows.sort(key=lambda r: r.username)
    return rows


def with_assignments(course: Course, rows: list[StudentRow]) -> list[Column]:
    """Fill each row's assignment cells from the registered providers; return the columns
    (every column of the course, whichever rows are given)."""
    found = assignment_columns.read(course, [r.username for r in rows])
    for r in rows:
        r.assignments = found.cells.get(r.username, {})
    return found.columns


def counts(rows: list[StudentRow]) -> Counts:
    logged_in = sum(1 for r in rows if r.logged_in)
    return Counts(
        enrolled=len(rows),
        logged_in=logged_in,
        never=len(rows) - logged_in,
        active=sum(1 for r in rows if r.active_now),
        running=sum(1 for r in rows if r.server == ServerState.RUNNING),
    )


def select_rows(
    rows: list[StudentRow],
    *,
    show: Show = Show.ALL,
    section: str = "",
    search: str = "",
    sort: str = "name",
    descending: bool = False,
) -> list[StudentRow]:
    """Filter, search and sort the table as the instructor asked."""
    if show == Show.NEVER:
        rows = [r for r in rows if not r.logged_in]
    elif show == Show.ACTIVE:
        rows = [r for r in rows if r.active_now]
    elif show == Show.RUNNING:
        rows = [r for r in rows if r.server == ServerState.RUNNING]
    elif show == Show.BEHIND:
        rows = [r for r in rows if r.needs_action]
    if section:
        rows = [r for r in rows if section in (r.section or "").split("; ")]
    if search:
        needle = search.casefold()
        rows = [
            r
            for r in rows
            if needle in r.username.casefold()
            or needle in r.name.casefold()
            or needle in (r.email or "").casefold()
        ]
    sort = sort if sort in SORT_KEYS else "name"
    if sort in TEXT_KEYS:
        return sorted(rows, key=lambda r: ((getattr(r, sort) or "").casefold(), r.username),
                      reverse=descending)  # fmt: skip
    # Dates: students who never logged in come last in either direction.
    dated = sorted((r for r in rows if getattr(r, sort) is not None),
                   key=lambda r: (getattr(r, sort), r.username), reverse=descending)  # fmt: skip
    return dated + [r for r in rows if getattr(r, sort) is None]


def sections(rows: list[StudentRow]) -> list[str]:
    return sorted({s for r in rows for s in (r.section or "").split("; ") if s})


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'just now', '3 min ago', '2 h ago', '5 days ago', or 'never'."""
    if moment is None:
        return "never"
    seconds = max(0, int(((now or utcnow()) - moment).total_seconds()))
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days > 1 else ''} ago"


# -- the chart --------------------------------------------------------------------------------

RANGES = {"today": timedelta(days=1), "week": timedelta(days=7)}


@dataclass
class Chart:
    width: int
    height: int
    points: str  # SVG polyline points
    peak: int
    start: datetime
    end: datetime
    samples: int
    ticks: list[tuple[float, str]]


def activity_chart(course: Course, span: str = "today", now: datetime | None = None) -> Chart:
    """An SVG polyline of active students over the span, from the kept samples."""
    now = now or utcnow()
    start = now - RANGES.get(span, RANGES["today"])
    samples = db.session.execute(
        select(ActivitySample.at, ActivitySample.active)
        .where(ActivitySample.course_id == course.id, ActivitySample.at >= start)
        .order_by(ActivitySample.at)
    ).all()
    width, height = 720, 160
    peak = max((a for _, a in samples), default=0)
    scale_y = (height - 10) / max(peak, 1)
    total = (now - start).total_seconds()

    def x(moment: datetime) -> float:
        return round((moment - start).total_seconds() / total * width, 1)

    points = " ".join(f"{x(at)},{round(height - a * scale_y, 1)}" for at, a in samples)
    step = timedelta(hours=3) if span == "today" else timedelta(days=1)
    tick = start.replace(minute=0, second=0, microsecond=0) + step
    ticks = []
    while tick < now:
        label = tick.strftime("%H:%M") if span == "today" else tick.strftime("%a %d")
        ticks.append((x(tick), label))
        tick += step
    return Chart(width, height, points, peak, start, now, len(samples), ticks)


# -- export -----------------------------------------------------------------------------------


def export_csv(rows: list[StudentRow], columns: Sequence[Column] = ()) -> str:
    """One line per student; after the Hub's facts one column per assignment (its slug), the
    student's state in it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [safe_cell(v) for v in (
            "username", "name", "email", "section", "first_login", "last_activity", "logged_in",
            "active_now", "server", *(c.slug for c in columns),
        )]
    )  # fmt: skip
    for r in rows:
        writer.writerow(
            [safe_cell(v) for v in (
                r.username, r.name, r.email, r.section, _iso(r.first_login),
                _iso(r.last_activity), "yes" if r.logged_in else "no",
                "yes" if r.active_now else "no", r.server,
                *(_state(r, c.slug) for c in columns),
            )]
        )  # fmt: skip
    return out.getvalue()


def _state(row: StudentRow, slug: str) -> str:
    cell = row.assignments.get(slug)
    return cell.state if cell else ""
