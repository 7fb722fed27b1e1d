"""A course's students with their sign-in and server state, and their state in each assignment,
in the JSON API (everyone: `show` is the page's, clients filter on a cell's `needs_action`)."""

from flask import Blueprint

from app.courses.current import managed_course

from . import students as dashboard

bp = Blueprint("activity_api", __name__, url_prefix="/api/v1")


@bp.get("/courses/<slug>/students")
def students(slug: str):
    course = managed_course(slug)
    rows = dashboard.students(course)
    columns = dashboard.with_assignments(course, rows)
    return {
        "course": course.slug,
        "assignments": [column.to_json() for column in columns],
        "students": [row.to_json() for row in rows],
    }
