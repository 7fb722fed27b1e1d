"""Delivery's columns of the course dashboard: one per assignment, each student's standing in
it (states.standing) from their newest sync that was not superseded.

Two queries whatever the course's size: its assignments, and the newest syncs of them. Read
from the database only: the branch's newest commit is the one the service last fetched
(Assignment.latest_commit), never read from the repository here.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select

from app.activity.columns import Cell, Column, Columns
from app.assignments.service import list_assignments
from app.courses.models import Course
from app.extensions import db

from .models import SYNC, Delivery
from .states import NEEDS_ACTION, Standing, State, standing

NOTHING = Cell(Standing.NOT_DELIVERED, None, None, Standing.NOT_DELIVERED in NEEDS_ACTION)


def columns(course: Course, usernames: Collection[str]) -> Columns:
    """The course's assignments as columns, and each of `usernames`' cell in them."""
    assignments = list_assignments(course)
    if not assignments:
        return Columns()
    newest = (
        select(func.max(Delivery.id))
        .where(
            Delivery.assignment_id.in_([a.id for a in assignments]),
            Delivery.kind == SYNC,  # a reset puts back what the student was given
            Delivery.state != State.SUPERSEDED,
        )
        .group_by(Delivery.assignment_id, Delivery.username)
    )
    # Core rows, not the ORM's: 2000 students and 10 assignments are 20000 of them.
    query = select(
        Delivery.assignment_id,
        Delivery.username,
        Delivery.state,
        Delivery.commit,
        func.coalesce(Delivery.finished_at, Delivery.started_at, Delivery.created_at),
    ).where(Delivery.id.in_(newest))
    rows = db.session.connection().execute(query).all()
    wanted = set(usernames)
    cells = {name: {a.slug: NOTHING for a in assignments} for name in wanted}
    latest = {a.id: (a.slug, a.latest_commit) for a in assignments}
    for assignment_id, username, state, commit, at in rows:
        if username not in wanted:
            continue  # no longer an active student
        slug, newest_commit = latest[assignment_id]
        word = standing(state, commit, newest_commit)
        cells[username][slug] = Cell(word, commit, at, word in NEEDS_ACTION)
    return Columns(
        [
            Column(
                slug=a.slug,
                title=a.title,
                endpoint="assignments.assignment_detail",
                values={"slug": course.slug, "assignment": a.slug},
                latest_commit=a.latest_commit,
                latest_checked_at=a.latest_checked_at,
            )
            for a in assignments
        ],
        cells,
    )
