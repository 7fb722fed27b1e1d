"""The audit log's pages: every course the reader manages (/audit) or one course's, filtered
by course, actor and action, newest first, and their CSV export."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context

from app import courses
from app.auth import current_instructor
from app.courses.current import managed_course
from app.courses.models import Course

from . import log
from .actions import ACTIONS, described

bp = Blueprint("audit", __name__, template_folder="templates")


@bp.get("/audit")
def audit_log():
    """Every event the reader may see: their courses' (a Hub admin's: all)."""
    return _page(None)


@bp.get("/courses/<slug>/audit")
def course_audit_log(slug: str):
    return _page(managed_course(slug))


@bp.get("/audit.csv")
def audit_csv():
    return _csv(None)


@bp.get("/courses/<slug>/audit.csv")
def course_audit_csv(slug: str):
    return _csv(managed_course(slug))


def _page(course: Course | None):
    who = current_instructor()
    context = {
        "course": course,
        "courses": [] if course else courses.list_courses(who=who),
        "actions": ACTIONS,
        "described": described,
        "details": log.details,
        "args": request.args,
    }
    try:
        filters = log.read_filters(request.args, who, course=course)
        found = log.page(
            who,
            filters,
            before=log.read_event_id(request.args, "before"),
            after=log.read_event_id(request.args, "after"),
        )
    except log.FilterError as e:
        # The form stays, with what was typed, so the reader can mend it.
        return render_template("audit/log.html", error=e.message, filters=None, page=None,
                               **context), e.http_status  # fmt: skip
    return render_template("audit/log.html", error=None, filters=filters, page=found, **context)


def _csv(course: Course | None) -> Response:
    who = current_instructor()
    filters = log.read_filters(request.args, who, course=course)  # FilterError: a 400 page
    name = f"{course.slug}-audit.csv" if course else "audit.csv"
    # Streamed: a log of years is read a batch at a time, never held whole.
    lines = stream_with_context(log.csv_lines(log.every_event(who, filters)))
    return Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
