"""JSON API under /api/v1/: same services and authorization as the pages."""

from flask import Blueprint, request

from .. import courses, status
from ..auth import current_instructor
from ..extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/whoami")
def whoami():
    me = current_instructor()
    return {"name": me.name, "admin": me.admin, "groups": list(me.groups)}


@bp.get("/courses")
def course_list():
    return {"courses": [courses.to_json(c) for c in courses.list_courses()]}


@bp.post("/courses")
def course_create():
    body = request.get_json(silent=True) or {}
    course = courses.create_course(
        str(body.get("slug", "")), str(body.get("title", "")), actor=current_instructor().name
    )
    db.session.commit()
    return courses.to_json(course), 201


@bp.get("/courses/<slug>")
def course_detail(slug: str):
    return courses.to_json(courses.get_course(slug))


@bp.get("/status")
def status_json():
    return status.collect().to_json()
