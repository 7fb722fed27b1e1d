"""Distributions in the JSON API: start one for an assignment (or a reset of one student's
files), and follow its progress."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app.auth import current_instructor
from app.courses import CourseError
from app.courses.current import managed_course
from app.extensions import db
from app.web import inputs

from . import progress_json, service

bp = Blueprint("delivery_api", __name__, url_prefix="/api/v1")

FIELDS = ("section", "users", "only_behind", "retry_failed")
EXAMPLE = '{"section": "lab-a", "users": ["alice"], "only_behind": true, "retry_failed": false}'
RESET_FIELDS = ("paths", "whole_folder")
RESET_EXAMPLE = '{"paths": ["week1/notes.ipynb"]} or {"whole_folder": true}'


def _known_fields(body: dict, fields: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise inputs.InvalidInput(
            f"Unknown field {unknown[0]!r}: {what} takes {', '.join(fields)}."
        )


def _accepted(distribution):
    """202 with the distribution's progress, and where to follow it."""
    location = url_for(".distribution_detail", distribution_id=distribution.id)
    return progress_json.distribution_json(distribution), 202, {"Location": location}


@bp.post("/courses/<slug>/assignments/<assignment>/distributions")
def distribution_create(slug: str, assignment: str):
    """Queue the assignment for the students the body names (all of them by default)."""
    course = managed_course(slug)
    found = service.find_assignment(course, assignment)
    body = inputs.json_object(EXAMPLE) if request.get_data() else {}
    _known_fields(body, FIELDS, "a distribution")
    users = inputs.text_list_field(body, "users", '["alice", "bob"]')
    distribution = service.distribute(
        found,
        who=current_instructor(),
        section=inputs.text_field(body, "section") or None,
        users=users if body.get("users") is not None else None,  # [] names nobody: refused
        only_behind=inputs.flag_field(body, "only_behind"),
        retry_failed=inputs.flag_field(body, "retry_failed"),
    )
    db.session.commit()
    return _accepted(distribution)


@bp.post("/courses/<slug>/assignments/<assignment>/students/<username>/reset")
def reset_create(slug: str, assignment: str, username: str):
    """Queue a reset of one student's files, or of their whole folder, to the course's version
    they were given; follow it at GET /api/v1/distributions/<id>."""
    found = service.find_assignment(managed_course(slug), assignment)
    body = inputs.json_object(RESET_EXAMPLE)
    _known_fields(body, RESET_FIELDS, "a reset")
    paths = inputs.text_list_field(body, "paths", '["week1/notes.ipynb"]')
    whole = inputs.flag_field(body, "whole_folder")
    named = body.get("paths") is not None
    if whole == named:  # both, or neither: say exactly what a reset takes
        raise inputs.InvalidInput(f"Send either the paths or the whole folder: {RESET_EXAMPLE}.")
    distribution = service.reset(found, username, None if whole else paths, current_instructor())
    db.session.commit()
    return _accepted(distribution)


@bp.get("/distributions/<id:distribution_id>")
def distribution_detail(distribution_id: int):
    distribution = service.get_distribution(distribution_id)
    try:
        managed_course(distribution.assignment.course.slug)
    except CourseError:  # another course's: as if it did not exist (its name stays unsaid)
        raise service.no_distribution(distribution_id) from None
    return progress_json.distribution_json(distribution)
