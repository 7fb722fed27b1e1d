"""The deliveries nobody presses a button for, found by a periodic task of the workers.

- A delivery waiting for a home (the student never logged in) or for the student's server
  goes back to the queue as soon as the home is there or the server is ready (one Hub call
  per poll lists the ready servers); a worker then runs it within a second or so.
- A student who joined the course (a roster import) after an assignment was distributed to the
  whole course, or to their section, gets a delivery of it: a distribution of scope "joined".
  "Those behind" of the course or of a section count as such; chosen students, retries and
  joiners' own distributions never reach anyone else (see `reaches`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import exists, select, update

from app import audit
from app.assignments.models import Assignment
from app.extensions import db
from app.hub import HubError, hub_client
from app.jobs.runner import wake_workers_after_commit
from app.roster.models import Enrollment

from . import homes
from .models import Delivery, Distribution
from .service import (
    AUTOMATIC_ACTOR,
    BEHIND,
    COURSE,
    JOINED,
    SECTION,
    queue_deliveries,
    undeliverable,
)
from .states import State
from .ways import Ways, ways_of

log = logging.getLogger(__name__)

POLL_TASK = "delivery-poll"  # also the name of its lease
# The scopes that can reach students who join later (which of them do: `reaches`).
FOR_EVERYONE = (COURSE, SECTION, BEHIND)
# The (data dir, assignment, reason) of skipped assignments already logged by this process.
_skipped_logged: set[tuple[str, int, str]] = set()


def reaches(scope: str, detail: Any) -> set[str | None]:
    """The sections (None: the whole course) whose students who join later get a distribution
    too; empty: nobody else.

    Its own targeting, kept: the whole course or a section, also when only those behind in it
    were chosen; never students named one by one, retries or joiners' own distributions.
    """
    detail = detail if isinstance(detail, dict) else {}
    section = detail.get("section") or None
    if scope not in FOR_EVERYONE or detail.get("users") is not None:
        return set()
    if scope == SECTION and section is None:
        return set()  # a section nobody can tell: not the whole course
    return {None} if scope == COURSE else {section}


def release_waiting(template: str, ways: Ways) -> int:
    """Queue again every waiting delivery whose student's home is there now, or (when this
    process delivers through servers) whose student's server is ready."""
    waiting = db.session.execute(
        select(Delivery.id, Delivery.username).where(Delivery.state == State.WAITING)
    ).all()
    if not waiting:
        return 0
    served = _ready_servers() if ways.servers else set()
    ready = [
        delivery_id
        for delivery_id, username in waiting
        if username in served
        or (ways.homes and not _still_waiting(homes.open_home(username, template)))
    ]
    if ready:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ready), Delivery.state == State.WAITING)
            .values(state=State.QUEUED, waiting_for=None)
            .execution_options(synchronize_session=False)
        )
        wake_workers_after_commit(db.session())
    return len(ready)


def _ready_servers() -> set[str]:
    """The users whose default server is ready, as the Hub says now (none while the Hub does
    not answer: they are tried again at the next poll)."""
    try:
        return {user.name for user in hub_client().list_users(state="ready") if user.server_ready}
    except HubError as exc:
        log.warning("Ready servers not listed, their deliveries wait a poll more: %s", exc.message)
        return set()


def _still_waiting(home: homes.Home | homes.NoHome) -> bool:
    return isinstance(home, homes.NoHome) and home.waiting


def _sections(value: str | None) -> set[str | None]:
    """An enrollment's sections, and None: every student is in "the whole course"."""
    return {None, *(value or "").split("; ")} - {""}


def deliver_to_joiners() -> int:
    """Queue, for each active student without any delivery of an assignment, the assignment
    if it was distributed to the whole course or to their section."""
    reached: dict[int, set[str | None]] = {}
    for assignment_id, scope, detail in db.session.execute(
        select(Distribution.assignment_id, Distribution.scope, Distribution.scope_detail).where(
            Distribution.scope.in_(FOR_EVERYONE)
        )
    ):
        reach = reaches(scope, detail)
        if reach:
            reached.setdefault(assignment_id, set()).update(reach)
    if not reached:
        return 0
    has_one = exists().where(
        Delivery.assignment_id == Assignment.id, Delivery.username == Enrollment.username
    )
    rows = db.session.execute(
        select(Assignment, Enrollment.username, Enrollment.section)
        .join(Enrollment, Enrollment.course_id == Assignment.course_id)
        .where(Enrollment.active.is_(True), Assignment.id.in_(list(reached)), ~has_one)
        .order_by(Assignment.id, Enrollment.username)
    ).all()
    joiners: dict[int, tuple[Assignment, list[str]]] = {}
    for assignment, username, sections in rows:
        if reached[assignment.id] & _sections(sections):
            joiners.setdefault(assignment.id, (assignment, []))[1].append(username)
    queued = 0
    for assignment, names in joiners.values():
        refused = undeliverable(assignment)
        if refused:  # every delivery would fail: queue none (distribute() refuses it too)
            _log_skipped(assignment, refused.message)
            continue
        distribution = queue_deliveries(
            assignment,
            names,
            scope=JOINED,
            detail={"section": None, "users": names},
            created_by=None,
        )
        audit.record(
            AUTOMATIC_ACTOR,
            "distribution.start",
            course=assignment.course,
            target=assignment.slug,
            distribution=distribution.id,
            scope=JOINED,
            students=len(names),
        )
        log.info("Queued %r for %d who joined later", assignment.slug, len(names))
        queued += len(names)
    return queued


def _log_skipped(assignment: Assignment, why: str) -> None:
    key = (str(current_app.config["HUBCLASS_DATA_DIR"]), assignment.id, why)
    if key not in _skipped_logged:
        _skipped_logged.add(key)
        log.info("%s: not delivered to students who joined later: %s", assignment.course.slug, why)


def poll_pending() -> None:
    """The periodic task: release waiting deliveries, then deliver to students who joined."""
    config = current_app.config
    released = release_waiting(config["HUBCLASS_HOME_TEMPLATE"], ways_of(config))
    joined = deliver_to_joiners()
    db.session.commit()
    if released or joined:
        log.info(
            "Deliveries: %d whose home or server appeared, %d to students who joined",
            released,
            joined,
        )
