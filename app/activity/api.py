"""A course's students with their sign-in and server state in the JSON API."""

from flask import Blueprint

from app import courses
from app.auth import current_instructor

from . import students as dashboard

bp = Blueprint("activity_api", __name__, url_prefix="/api/v1")


@bp.get("/courses/<slug>/students")
def students(slug: str):
    course = courses.get_course(slug, who=current_instructor())
    return {
        "course": course.slug,
        "students": [row.to_json() for row in dashboard.students(course)],
    }
