"""Distributions: which students one press of "Distribute" targets, and what became of each.

The pages, the API and the command line call these; the deliveries they queue are run by the
workers (worker.py). Nothing here commits: the request or command does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from flask import current_app
from sqlalchemy import ScalarSelect, Table, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from app import audit
from app.assignments.models import Assignment
from app.assignments.rules import points_into, target_problem
from app.courses import Teacher, actor_name
from app.courses.models import Course
from app.errors import HubclassError
from app.extensions import db
from app.gitsync import (
    GitSyncError,
    ensure_mirror,
    find_mirror,
    mirror_branch,
    mirror_commit,
    mirror_has,
    path_problem,
    tree_files,
    validate_repo_url,
)
from app.jobs.runner import wake_workers_after_commit
from app.roster.models import Enrollment
from app.timeutil import utcnow

from . import words
from .models import RESET, SYNC, Delivery, Distribution
from .states import REPLACEABLE, UNFINISHED, State

log = logging.getLogger(__name__)

# The audit events' actor for deliveries nobody pressed a button for (a student who joined).
AUTOMATIC_ACTOR = "(automatic)"
# Scopes of a Distribution (its `scope` column).
COURSE, SECTION, USERS, BEHIND, FAILED, JOINED = (
    "course", "section", "users", "behind", "failed", "joined"
)  # fmt: skip
# How many files one reset may name (a whole folder is one choice, not a list).
MAX_RESET_PATHS = 500
# A page reads the course's file list from a local mirror: a few milliseconds, bounded anyway.
LIST_SECONDS = 10.0


class DeliveryError(HubclassError):
    """A distribution could not be started or found; the message says why."""

    title = "Distribution"
    statuses: ClassVar[dict[str, int]] = {
        "not_found": 404,
        "not_a_student": 404,
        "mirror_failed": 502,
    }


def find_assignment(course: Course, slug: str) -> Assignment:
    """The course's assignment called `slug`, or DeliveryError('not_found')."""
    found = db.session.scalar(
        select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)
    )
    if found is None:
        raise DeliveryError("not_found", f"The course {course.slug!r} has no assignment {slug!r}.")
    return found


def get_distribution(distribution_id: int) -> Distribution:
    found = db.session.get(Distribution, distribution_id)
    if found is None:
        raise no_distribution(distribution_id)
    return found


def no_distribution(distribution_id: int) -> DeliveryError:
    return DeliveryError("not_found", f"There is no distribution {distribution_id}.")


# -- the course repository's mirror --------------------------------------------------------------


def mirrors_dir() -> Path:
    return Path(current_app.config["HUBCLASS_DATA_DIR"]) / "mirrors"


@dataclass(frozen=True)
class Mirror:
    """The service's copy of an assignment's branch, fetched just now."""

    path: Path
    branch: str
    commit: str | None


def check_repo_url(url: str) -> None:
    """Raise GitSyncError unless the URL is allowed now and does not lead into the data dir."""
    config = current_app.config
    validate_repo_url(url, config["HUBCLASS_ALLOWED_REPO_URLS"])
    # Checked when the assignment was saved too; a symlink made since must not lead there now.
    if points_into(url, config["HUBCLASS_DATA_DIR"]):
        raise GitSyncError(
            "url_data_dir", "The repository URL points into Hubclass's own data folder."
        )


# The setting that raises each of the engine's limits on a course repository.
LIMITS = {
    "repo_too_large": "HUBCLASS_MAX_REPO_BYTES",
    "too_many_entries": "HUBCLASS_MAX_REPO_ENTRIES",
}


def refresh_mirror(url: str, branch: str | None, assignment_id: int | None = None) -> Mirror:
    """Fetch the branch (default: the remote's HEAD) into its mirror; raise GitSyncError.

    With `assignment_id` (the assignment's own URL and branch) its newest commit is noted on
    the assignment, what the dashboard's "behind" is measured against.
    """
    check_repo_url(url)
    config = current_app.config
    timeout = float(config["HUBCLASS_DELIVERY_TIMEOUT_SECONDS"])
    # A root worker beside a web process run as the service account fetches as that account:
    # the mirror stays theirs, and the web reads it for "only those behind".
    account = config.get("DATA_DIR_OWNER")
    try:
        path = ensure_mirror(
            url,
            branch,
            mirrors_dir(),
            timeout=timeout,
            account=account,
            max_tree_bytes=config["HUBCLASS_MAX_REPO_BYTES"],
            max_tree_entries=config["HUBCLASS_MAX_REPO_ENTRIES"],
        )
    except GitSyncError as exc:
        setting = LIMITS.get(exc.code)
        if setting is None:
            raise
        raise GitSyncError(
            exc.code,
            f"{exc.message} Nothing was delivered. To deliver it anyway, raise {setting} "
            f"(now {config[setting]}) in the service's environment and restart it.",
        ) from None
    name = branch or mirror_branch(path) or ""
    mirror = Mirror(path, name, mirror_commit(path, name))
    if assignment_id is not None:
        note_latest(assignment_id, mirror.commit)
    return mirror


ASSIGNMENTS = cast(Table, Assignment.__table__)


def note_latest(assignment_id: int, commit: str | None) -> None:
    """Write the branch's newest commit on the assignment, in a short transaction of its own
    (the worker's threads, a request that has written nothing yet); a database blip only costs
    the dashboard a fresher "behind", never the delivery."""
    try:
        with db.engine.begin() as connection:
            connection.execute(
                update(ASSIGNMENTS)
                .where(ASSIGNMENTS.c.id == assignment_id)
                # updated_at stays: it says when the instructor changed the assignment.
                .values(
                    latest_commit=commit,
                    latest_checked_at=utcnow(),
                    updated_at=ASSIGNMENTS.c.updated_at,
                )
            )
    except SQLAlchemyError:
        log.warning("Assignment %d's newest commit was not noted", assignment_id, exc_info=True)


# -- what the engine can deliver -----------------------------------------------------------------


def _unsupported(target: str | None) -> tuple[str, str] | None:
    """(code, why) if the engine cannot deliver into this folder, or None."""
    # The assignments' own rule again: an assignment saved before a rule was added (or written
    # straight into the database) must not bring a folder such as ~/bin.
    problem = target_problem(target or "")
    if problem:
        return "target_invalid", f"The target folder {target!r} is refused: {problem}."
    return None


def unsupported(target: str | None) -> str | None:
    """Why the engine cannot deliver an assignment into this folder, or None.

    The one rule: distribute() refuses such an assignment, the worker fails such a delivery
    (the assignment may have been changed after its deliveries were queued).
    """
    found = _unsupported(target)
    return found[1] if found else None


# What to change when an assignment cannot be distributed, per code.
FIXES = {
    "target_invalid": "Give the assignment a plain folder name as its target, then distribute "
    "it again.",
}
URL_FIX = "Change the assignment's repository URL, then distribute it again."


def undeliverable(assignment: Assignment) -> DeliveryError | None:
    """Why no delivery of the assignment could succeed as it is set up now, or None: a target
    folder refused, a repository URL no longer allowed or leading into the data dir.
    """
    found = _unsupported(assignment.target)
    if found:
        code, why = found
        return DeliveryError(code, f"{assignment.slug!r} cannot be delivered: {why} {FIXES[code]}")
    try:
        check_repo_url(assignment.repo_url)
    except GitSyncError as exc:
        return DeliveryError(
            exc.code, f"{assignment.slug!r} cannot be delivered: {exc.message} {URL_FIX}"
        )
    return None


# -- who a distribution targets ------------------------------------------------------------------


def _students(course: Course, section: str | None) -> list[str]:
    rows = db.session.execute(
        select(Enrollment.username, Enrollment.section).where(
            Enrollment.course_id == course.id, Enrollment.active.is_(True)
        )
    ).all()
    # An enrollment's section holds every section of the student, joined by "; ".
    return sorted(
        name
        for name, sections in rows
        if section is None or section in (sections or "").split("; ")
    )


def _latest(assignment: Assignment, names: Iterable[str], states: Iterable[State]) -> dict:
    """Each student's newest sync of the assignment among those in `states`."""
    wanted = list(names)
    newest = (
        select(Delivery.username, func.max(Delivery.id).label("id"))
        .where(
            Delivery.assignment_id == assignment.id,
            Delivery.username.in_(wanted),
            Delivery.state.in_([str(s) for s in states]),
            Delivery.kind == SYNC,  # a reset's failure is not a delivery to retry
        )
        .group_by(Delivery.username)
        .subquery()
    )
    rows = db.session.scalars(select(Delivery).join(newest, Delivery.id == newest.c.id))
    return {row.username: row for row in rows}


def _behind(assignment: Assignment, names: list[str]) -> list[str]:
    """Students whose newest finished delivery brought another commit than upstream's now."""
    try:
        current = refresh_mirror(assignment.repo_url, assignment.branch, assignment.id).commit
    except GitSyncError as exc:
        raise DeliveryError(
            "mirror_failed", f"The repository could not be read: {exc.message}"
        ) from None
    latest = _latest(assignment, names, [State.DONE, State.ATTENTION])
    return [name for name in names if name not in latest or latest[name].commit != current]


def _failed(assignment: Assignment, names: list[str]) -> list[str]:
    """Students whose newest delivery (superseded ones aside) of the assignment failed."""
    ran = [s for s in State if s != State.SUPERSEDED]
    latest = _latest(assignment, names, ran)
    return [name for name in names if name in latest and latest[name].state == State.FAILED]


def _targets(
    assignment: Assignment,
    section: str | None,
    users: list[str] | None,
    only_behind: bool,
    retry_failed: bool,
) -> tuple[str, dict[str, Any], list[str]]:
    """Return (scope, scope detail, usernames) of a distribution, or raise DeliveryError."""
    course = assignment.course
    if only_behind and retry_failed:
        raise DeliveryError(
            "scope_invalid", "Choose either the students who are behind or the failed ones."
        )
    names = _students(course, section)
    where = f"section {section!r} of {course.slug!r}" if section else f"the course {course.slug!r}"
    if not names:
        raise DeliveryError("no_students", f"There are no active students in {where}.")
    scope = SECTION if section else COURSE
    detail: dict[str, Any] = {"section": section, "users": None}
    if users is not None:
        wanted = sorted(set(users))
        if not wanted:
            raise DeliveryError("no_students", "Name at least one student.")
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise DeliveryError(
                "unknown_students", f"Not active students of {where}: {', '.join(unknown)}."
            )
        names, scope, detail["users"] = wanted, USERS, wanted
    if only_behind:
        names, scope = _behind(assignment, names), BEHIND
        if not names:
            raise DeliveryError("no_students", f"Every student of {where} has the latest commit.")
    if retry_failed:
        names, scope = _failed(assignment, names), FAILED
        if not names:
            raise DeliveryError(
                "no_students", f"No delivery of {assignment.slug!r} in {where} has failed."
            )
    return scope, detail, names


def queue_deliveries(
    assignment: Assignment, names: list[str], *, scope: str, detail: Any, created_by: str | None
) -> Distribution:
    """Add a distribution with one queued delivery per student (no commit).

    Older syncs of the assignment to these students that have not run yet are superseded:
    each student is synced once, with the newest (a queued reset is no sync: it stays).
    """
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.assignment_id == assignment.id,
            Delivery.username.in_(names),
            Delivery.state.in_([str(s) for s in REPLACEABLE]),
            Delivery.kind == SYNC,
        )
        .values(state=State.SUPERSEDED, lease_holder=None, lease_expires=None)
        .execution_options(synchronize_session=False)
    )
    distribution = Distribution(
        assignment=assignment, scope=scope, scope_detail=detail, created_by=created_by
    )
    db.session.add(distribution)
    db.session.add_all(
        Delivery(distribution=distribution, assignment=assignment, username=name) for name in names
    )
    db.session.flush()
    wake_workers_after_commit(db.session())
    return distribution


def distribute(
    assignment: Assignment,
    *,
    who: Teacher | None,
    section: str | None = None,
    users: list[str] | None = None,
    only_behind: bool = False,
    retry_failed: bool = False,
) -> Distribution:
    """Queue the assignment for the course's students: all, a section, some, those behind the
    latest commit, or those whose delivery failed; record who did it.

    An assignment no delivery of which could succeed is refused before anything is written.
    """
    refused = undeliverable(assignment)
    if refused:
        raise refused
    scope, detail, names = _targets(assignment, section, users, only_behind, retry_failed)
    distribution = queue_deliveries(
        assignment, names, scope=scope, detail=detail, created_by=who.name if who else None
    )
    audit.record(
        actor_name(who),
        "distribution.retry" if retry_failed else "distribution.start",
        course=assignment.course,
        target=assignment.slug,
        distribution=distribution.id,
        scope=scope,
        students=len(names),
    )
    return distribution


# -- resetting one student's files ----------------------------------------------------------------


def commit_given(assignment_id: Any, username: Any) -> ScalarSelect:
    """The commit of the student's newest successful delivery of the assignment: the course's
    version they were given, which a reset puts back (not the branch's newest, which they may
    not have been sent). Values, or an outer query's columns (the worker's)."""
    given = aliased(Delivery)
    return (
        select(given.commit)
        .where(
            given.assignment_id == assignment_id,
            given.username == username,
            given.state == State.DONE,
            given.commit.is_not(None),
        )
        .order_by(given.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class Given:
    """The course's version a student was given: its commit and the branch it came from (None
    for a delivery made before the branch was recorded)."""

    commit: str
    branch: str | None


def given_to(assignment: Assignment, username: str) -> Given:
    """What the student was given, or DeliveryError: an active student who received it."""
    if username not in _students(assignment.course, None):
        raise DeliveryError(
            "not_a_student",
            f"{username!r} is not an active student of the course {assignment.course.slug!r}.",
        )
    row = db.session.execute(
        select(Delivery.commit, Delivery.branch)
        .where(
            Delivery.assignment_id == assignment.id,
            Delivery.username == username,
            Delivery.state == State.DONE,
            Delivery.commit.is_not(None),
        )
        .order_by(Delivery.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise DeliveryError(
            "not_delivered",
            f"{username!r} has not received {assignment.slug!r} yet, so there is nothing to "
            "reset: distribute it to them first.",
        )
    return Given(row.commit, row.branch)


def reset_paths(paths: Iterable[str]) -> list[str]:
    """The paths to reset, each checked for shape, sorted, once each; DeliveryError if one is
    refused. An empty list is never a whole folder here: the caller asks for that by name."""
    chosen = sorted(set(paths))
    if not chosen:
        raise DeliveryError("no_paths", "Choose the files to reset, or the whole folder.")
    if len(chosen) > MAX_RESET_PATHS:
        raise DeliveryError(
            "too_many_paths",
            f"A reset names at most {MAX_RESET_PATHS} files; reset their folder instead.",
        )
    for path in chosen:
        problem = path_problem(path)
        if problem:
            raise DeliveryError("path_invalid", f"{path!r} is refused: {problem}.")
    return chosen


def reset(
    assignment: Assignment, username: str, paths: list[str] | None, who: Teacher | None
) -> Distribution:
    """Queue a reset of the student's `paths` (None: the whole folder) to the course's version
    they were given; their copy is moved aside with a timestamp, never deleted. Recorded in
    the audit history; nothing is queued when a check refuses it.
    """
    given = given_to(assignment, username)
    refused = undeliverable(assignment)
    if refused:
        raise refused
    chosen = [] if paths is None else reset_paths(paths)  # [] in a Delivery: the whole folder
    distribution = Distribution(
        assignment=assignment,
        scope=RESET,
        scope_detail={"user": username, "paths": chosen},
        created_by=who.name if who else None,
    )
    db.session.add(distribution)
    db.session.add(
        Delivery(
            distribution=distribution,
            assignment=assignment,
            username=username,
            kind=RESET,
            paths=chosen,
            reset_to=given.commit,  # pinned now: a later delivery makes the worker refuse
            branch=given.branch,
        )
    )
    db.session.flush()
    wake_workers_after_commit(db.session())
    audit.record(
        actor_name(who),
        "delivery.reset",
        course=assignment.course,
        target=assignment.slug,
        distribution=distribution.id,
        student=username,
        paths=chosen,
        whole_folder=not chosen,
        commit=given.commit,
    )
    return distribution


def mirror_with(url: str, branch: str, commit: str) -> Mirror | None:
    """The mirror already here of exactly `branch`, if that branch has `commit` (no network).
    Never another branch's mirror of the URL: a reset clones on the mirror's branch."""
    account = current_app.config.get("DATA_DIR_OWNER")  # git runs as the mirrors' owner
    for path in find_mirror(url, branch, mirrors_dir()):
        try:
            has = mirror_has(path, branch, commit, time.monotonic() + LIST_SECONDS, account)
        except GitSyncError:
            has = False
        if has:
            return Mirror(path, branch, mirror_commit(path, branch))
    return None


def reset_mirror(
    url: str, branch: str | None, commit: str, assignment_id: int | None = None
) -> Mirror:
    """The mirror a reset to `commit` reads: the branch it was delivered on (None: the
    remote's default, resolved now), fetched only when the mirror here lacks the commit
    (`assignment_id`: when that branch is the assignment's own, as refresh_mirror)."""
    if branch is not None:
        found = mirror_with(url, branch, commit)
        if found is not None:
            return found
    return refresh_mirror(url, branch, assignment_id)


def course_files(assignment: Assignment, username: str) -> tuple[str, list[str]]:
    """The commit the student was given and its files (under the assignment's sub-folder),
    from the service's own mirror, never the student's home: what a page offers to reset.
    No files when no mirror here has it (the whole folder can still be reset)."""
    given = given_to(assignment, username)
    branch = given.branch or assignment.branch
    for path in find_mirror(assignment.repo_url, branch, mirrors_dir()):
        try:
            files = tree_files(
                path,
                given.commit,
                assignment.subpath,
                timeout=LIST_SECONDS,
                account=current_app.config.get("DATA_DIR_OWNER"),
            )
        except GitSyncError:
            continue
        if files:
            return given.commit, files
    return given.commit, []


# -- what became of it ---------------------------------------------------------------------------


def how_many(distribution_id: int) -> int:
    """How many deliveries the distribution has."""
    return (
        db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.distribution_id == distribution_id)
        )
        or 0
    )


def unfinished(distribution_id: int) -> int:
    """How many of the distribution's deliveries are queued or running."""
    return (
        db.session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.distribution_id == distribution_id,
                Delivery.state.in_([str(s) for s in UNFINISHED]),
            )
        )
        or 0
    )


def said(delivery: Delivery) -> str:
    """The delivery's outcome in the instructor's words."""
    return words.said(delivery.state, delivery.report, delivery.error, delivery.waiting_for)
