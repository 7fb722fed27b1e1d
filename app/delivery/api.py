"""Distributions in the JSON API: start one for an assignment, and follow its progress."""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app.auth import current_instructor
from app.courses import CourseError
from app.courses.current import managed_course
from app.extensions import db
from app.web import inputs

from . import service

bp = Blueprint("delivery_api", __name__, url_prefix="/api/v1")

FIELDS = ("section", "users", "only_behind", "retry_failed")
EXAMPLE = '{"section": "lab-a", "users": ["alice"], "only_behind": true, "retry_failed": false}'


@bp.post("/courses/<slug>/assignments/<assignment>/distributions")
def distribution_create(slug: str, assignment: str):
    """Queue the assignment for the students the body names (all of them by default)."""
    course = managed_course(slug)
    found = service.find_assignment(course, assignment)
    body = inputs.json_object(EXAMPLE) if request.get_data() else {}
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise inputs.InvalidInput(
            f"Unknown field {unknown[0]!r}: a distribution takes {', '.join(FIELDS)}."
        )
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
    location = url_for(".distribution_detail", distribution_id=distribution.id)
    return service.distribution_json(distribution), 202, {"Location": location}


@bp.get("/distributions/<id:distribution_id>")
def distribution_detail(distribution_id: int):
    distribution = service.get_distribution(distribution_id)
    try:
        managed_course(distribution.assignment.course.slug)
    except CourseError:  # another course's: as if it did not exist (its name stays unsaid)
        raise service.no_distribution(distribution_id) from None
    return service.distribution_json(distribution)
