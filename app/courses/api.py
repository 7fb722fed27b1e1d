"""Courses in the JSON API (/api/v1/courses): the same services and access rules as the pages."""

from flask import Blueprint

from app.auth import current_instructor
from app.extensions import db
from app.hub import hub_client
from app.web import inputs

from . import service as courses
from .current import managed_course

bp = Blueprint("courses_api", __name__, url_prefix="/api/v1")


@bp.get("/courses")
def course_list():
    return {"courses": [courses.to_json(c) for c in courses.list_courses(who=current_instructor())]}


@bp.post("/courses")
def course_create():
    body = inputs.json_object('{"slug": "...", "title": "...", "instructor_groups": [...]}')
    # Each field has one JSON type: str() of a number, a list or null made a course "5" or a
    # staff group "None" before, and a number in the groups made a 500.
    groups = inputs.text_list_field(body, "instructor_groups", '["data100-tas"]')
    if any("," in group for group in groups):
        raise inputs.InvalidInput("'instructor_groups' holds one Hub group name per item.")
    course = courses.create_course(
        inputs.text_field(body, "slug"),
        inputs.text_field(body, "title"),
        who=current_instructor(),
        instructor_groups=",".join(groups),
        group_members=hub_client().group_members,
    )
    db.session.commit()
    return courses.to_json(course), 201


@bp.get("/courses/<slug>")
def course_detail(slug: str):
    return courses.to_json(managed_course(slug))
