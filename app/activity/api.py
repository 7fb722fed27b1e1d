"""A course's students with their sign-in and server state in the JSON API."""

from flask import Blueprint

from app.courses.current import managed_course

from . import students as dashboard

bp = Blueprint("activity_api", __name__, url_prefix="/api/v1")


@bp.get("/courses/<slug>/students")
def students(slug: str):
    course = managed_course(slug)
    rows = dashboard.students(course)
    return {"course": course.slug, "students": [row.to_json() for row in rows]}
