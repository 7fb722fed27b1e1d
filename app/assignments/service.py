"""Assignment use cases, shared by the pages, the API and the CLI: add, change, list, get.

Each takes the acting person explicitly (None: the command line) and leaves the commit to its
caller, with the audit event it recorded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from flask import current_app, has_request_context, request
from sqlalchemy import func, null, select

from app import audit
from app.courses import Teacher, actor_name, can_manage
from app.courses.models import Course
from app.extensions import db

from . import rules
from .models import Assignment
from .rules import AssignmentError

# The settings a person gives, by their name in the form, the API and the CLI, and the column
# each is stored in (the policy is the model's unsafe_policy).
FIELDS = {
    "title": "title",
    "repo_url": "repo_url",
    "branch": "branch",
    "subpath": "subpath",
    "target": "target",
    "depth": "depth",
    "policy": "unsafe_policy",
    "course_copy": "course_copy",
}


def _require_manager(course: Course, who: Teacher | None) -> None:
    if not can_manage(course, who):
        raise AssignmentError(
            "not_allowed",
            f"Only the teaching staff of {course.slug!r} and Hub admins manage its assignments.",
        )


def check_repo_url(url: str) -> str:
    """Check a repository URL against this service's allow-list and its own data dir."""
    config = current_app.config
    return rules.check_repo_url(
        url, config["HUBCLASS_ALLOWED_REPO_URLS"], config["HUBCLASS_DATA_DIR"]
    )


def _checked(given: dict[str, Any], *, slug: str, current: Assignment | None) -> dict[str, Any]:
    """Check the settings in `given` (form names) and return them by column.

    A setting missing from `given` keeps its current value (or its default for a new
    assignment); an empty target is the repository's name.
    """
    unknown = set(given) - set(FIELDS)
    if unknown:  # a caller's typo, not a person's: it must not pass as "nothing changed"
        raise TypeError(f"unknown assignment settings: {sorted(unknown)}")
    values: dict[str, Any] = {}
    if "title" in given or current is None:
        values["title"] = rules.check_title(given.get("title", ""), slug)
    if "repo_url" in given or current is None:
        values["repo_url"] = check_repo_url(given.get("repo_url", ""))
    if "branch" in given:
        values["branch"] = rules.check_branch(given["branch"])
    if "subpath" in given:
        values["subpath"] = rules.check_subpath(given["subpath"])
    if "target" in given or current is None:
        target = (given.get("target") or "").strip()
        url = values.get("repo_url") or (current.repo_url if current else "")
        values["target"] = rules.check_target(target) if target else rules.default_target(url)
    if "depth" in given or current is None:
        values["depth"] = rules.parse_depth(given.get("depth"))
    if "policy" in given or current is None:
        values["unsafe_policy"] = rules.check_policy(given.get("policy"))
    if "course_copy" in given or current is None:
        values["course_copy"] = rules.check_switch("course_copy", given.get("course_copy", False))
    return values


def _require_free_target(course: Course, target: str, current: Assignment | None) -> None:
    """Refuse a target folder another assignment of the course delivers into already.

    Two assignments in one folder would each sync over the other's files (and a TA could aim a
    second repository at the folder of the first). In any case: one folder on a
    case-insensitive disk.
    """
    taken = select(Assignment).where(
        Assignment.course_id == course.id, func.lower(Assignment.target) == target.lower()
    )
    if current is not None:
        taken = taken.where(Assignment.id != current.id)
    other = db.session.scalars(taken.order_by(Assignment.id).limit(1)).first()
    if other is not None:
        raise AssignmentError(
            "target_taken",
            f"{target[:80]!r} cannot be the target folder: the assignment {other.slug!r} of "
            f"{course.slug!r} delivers into ~/{other.target} already. Choose another folder "
            "name, or change that assignment.",
        )


def _as_json(column: str, value: Any) -> Any:
    return rules.depth_json(value) if column == "depth" else value


def add_assignment(course: Course, slug: str, *, who: Teacher | None, **given: Any) -> Assignment:
    """Add an assignment to the course; `given` holds its settings by their form names."""
    _require_manager(course, who)
    slug = rules.check_slug(slug)
    if _find(course, slug) is not None:
        raise AssignmentError(
            "exists",
            f"The course {course.slug!r} has an assignment {slug!r} already: choose another "
            "short name, or change that assignment on its page.",
        )
    values = _checked(given, slug=slug, current=None)
    _require_free_target(course, values["target"], None)
    # The ORM leaves a None out of the INSERT when the column has a default (depth's is 1),
    # so the full history (None) goes in as an explicit NULL.
    stored = {**values, "depth": null()} if values["depth"] is None else values
    assignment = Assignment(
        course=course, slug=slug, created_by=who.name if who is not None else None, **stored
    )
    db.session.add(assignment)
    db.session.flush()
    # Nested: a setting called "target" would be taken for the event's own target.
    settings = {name: _as_json(column, values.get(column)) for name, column in FIELDS.items()}
    audit.record(actor_name(who), "assignment.add", course=course, target=slug, settings=settings)
    return assignment


def change_assignment(
    assignment: Assignment, *, who: Teacher | None, **given: Any
) -> dict[str, dict[str, Any]]:
    """Change the settings in `given`; return what changed ({setting: {from, to}}).

    Nothing changed: no audit event, and an empty answer.
    """
    _require_manager(assignment.course, who)
    values = _checked(given, slug=assignment.slug, current=assignment)
    if "target" in values:
        _require_free_target(assignment.course, values["target"], assignment)
    changed: dict[str, dict[str, Any]] = {}
    for name, column in FIELDS.items():
        if column in values and getattr(assignment, column) != values[column]:
            old, new = getattr(assignment, column), values[column]
            changed[name] = {"from": _as_json(column, old), "to": _as_json(column, new)}
            setattr(assignment, column, new)
    if {"repo_url", "branch"} & changed.keys():
        # Another repository or branch: its newest commit is unknown until the next fetch.
        assignment.latest_commit = assignment.latest_checked_at = None
    if changed:
        audit.record(
            actor_name(who),
            "assignment.change",
            course=assignment.course,
            target=assignment.slug,
            changed=changed,
        )
    return changed


def list_assignments(course: Course) -> list[Assignment]:
    """The course's assignments in the order they were added."""
    of_course = select(Assignment).where(Assignment.course_id == course.id)
    return list(db.session.scalars(of_course.order_by(Assignment.created_at, Assignment.id)))


def _find(course: Course, slug: str) -> Assignment | None:
    return db.session.scalar(
        select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)
    )


def get_assignment(course: Course, slug: str) -> Assignment:
    """The course's assignment called `slug`; AssignmentError('not_found') when it has none."""
    found = _find(course, slug)
    if found is None:
        raise AssignmentError(
            "not_found", f"The course {course.slug!r} has no assignment {slug[:80]!r}."
        )
    return found


def hub_pages_url() -> str:
    """The Hub's pages' URL ending in 'hub/', absolute where this request tells the origin.

    Without the Hub's public_url the service only knows the path; a browser's request then
    gives the origin it came through (a command line has none: the link stays a path).
    """
    hub_url = current_app.config["HUB_URL"]
    return urljoin(request.host_url, hub_url) if has_request_context() else hub_url


def nbgitpuller_link(assignment: Assignment) -> str:
    return rules.nbgitpuller_link(
        hub_pages_url(),
        repo_url=assignment.repo_url,
        branch=assignment.branch,
        target=assignment.target,
        subpath=assignment.subpath,
        depth=assignment.depth,
    )


def to_json(assignment: Assignment) -> dict[str, Any]:
    return {
        "course": assignment.course.slug,
        "slug": assignment.slug,
        "title": assignment.title,
        "repo_url": assignment.repo_url,
        "branch": assignment.branch,
        "subpath": assignment.subpath,
        "target": assignment.target,
        "depth": rules.depth_json(assignment.depth),
        "policy": assignment.unsafe_policy,
        "course_copy": assignment.course_copy,
        "created_at": assignment.created_at.isoformat() + "Z",
        "created_by": assignment.created_by,
        "updated_at": assignment.updated_at.isoformat() + "Z",
        "nbgitpuller_link": nbgitpuller_link(assignment),
    }
