"""A course's roster in the JSON API: its students, and a roster to preview or apply."""

from flask import Blueprint, request

from app.auth import current_instructor
from app.courses.current import managed_course

from . import DEFAULT_RULE, imports
from .plan import RemoveMode

bp = Blueprint("roster_api", __name__, url_prefix="/api/v1")


@bp.get("/courses/<slug>/roster")
def roster_list(slug: str):
    course = managed_course(slug)
    enrolled = imports.active_enrollments(course)
    return {"course": course.slug, "students": [e.to_json() for e in enrolled]}


@bp.post("/courses/<slug>/roster")
def roster_import(slug: str):
    """Preview (and with ?apply=1 apply) a roster sent as multipart `file` or a text/csv body."""
    course = managed_course(slug)
    if "file" in request.files:
        upload = request.files["file"]
        data, filename = upload.read(), upload.filename or "roster.csv"
    else:
        data, filename = request.get_data(), request.args.get("filename", "roster.csv")
    record = imports.import_file(
        course,
        data,
        filename,
        actor=current_instructor().name,
        rule=request.args.get("username_from", DEFAULT_RULE),
        remove=request.args.get("remove", RemoveMode.NONE),
        apply_now=request.args.get("apply") in ("1", "true", "yes"),
        confirm=request.args.get("confirm"),
    )
    return imports.result_json(record), 200
