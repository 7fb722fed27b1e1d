"""A course's assignments in the JSON API: list, add, read and change (PATCH) one.

The JSON fields are the form's names: slug, title, repo_url, branch, subpath, target, depth
(a number of commits or "full"), policy, course_copy (true or false). A missing or null field
is not given: it keeps its value (PATCH) or its default (POST); "" clears branch and subpath and
resets target to the repository's name.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_instructor
from app.courses.current import managed_course
from app.extensions import db
from app.web import inputs

from . import service
from .rules import AssignmentError

bp = Blueprint("assignments_api", __name__, url_prefix="/api/v1")

EXAMPLE = '{"slug": "week1", "repo_url": "https://github.com/org/week1", "depth": 1}'


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    """The settings the body gives, each of its one JSON type (depth: a number or "full")."""
    given: dict[str, Any] = {}
    for name in service.FIELDS:
        if body.get(name) is None:
            continue
        raw = name in ("depth", "course_copy")  # a number or "full"; a boolean
        given[name] = body[name] if raw else inputs.text_field(body, name)
    return given


@bp.get("/courses/<slug>/assignments")
def assignment_list(slug: str):
    course = managed_course(slug)
    return {
        "course": course.slug,
        "assignments": [service.to_json(a) for a in service.list_assignments(course)],
    }


@bp.post("/courses/<slug>/assignments")
def assignment_add(slug: str):
    course = managed_course(slug)
    body = inputs.json_object(EXAMPLE)
    assignment = service.add_assignment(
        course, inputs.text_field(body, "slug"), who=current_instructor(), **_settings(body)
    )
    db.session.commit()
    return service.to_json(assignment), 201


@bp.get("/courses/<slug>/assignments/<assignment>")
def assignment_detail(slug: str, assignment: str):
    return service.to_json(service.get_assignment(managed_course(slug), assignment))


@bp.patch("/courses/<slug>/assignments/<assignment>")
def assignment_change(slug: str, assignment: str):
    found = service.get_assignment(managed_course(slug), assignment)
    body = inputs.json_object('{"branch": "main", "depth": "full"}')
    if body.get("slug") is not None and body["slug"] != found.slug:
        raise AssignmentError(
            "slug_fixed",
            "An assignment's short name cannot change (it is in its links and history); add "
            "a new assignment instead.",
        )
    changed = service.change_assignment(found, who=current_instructor(), **_settings(body))
    db.session.commit()
    return {**service.to_json(found), "changed": changed}
