"""JSON API under /api/v1/: same services and authorization as the pages."""

from flask import Blueprint, request

from .. import courses, dashboard, inputs, status
from ..auth import current_instructor
from ..extensions import db
from ..hubclient import hub_client
from ..roster import imports

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/whoami")
def whoami():
    me = current_instructor()
    return {"name": me.name, "admin": me.admin, "groups": list(me.groups)}


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
    return courses.to_json(courses.get_course(slug, who=current_instructor()))


@bp.get("/status")
def status_json():
    courses.require_instructor(current_instructor())
    return status.collect().to_json()


@bp.get("/courses/<slug>/roster")
def roster_list(slug: str):
    course = courses.get_course(slug, who=current_instructor())
    return {
        "course": course.slug,
        "students": [
            {
                "username": e.username,
                "name": e.name,
                "email": e.email,
                "section": e.section,
                "enrolled_at": e.enrolled_at.isoformat() + "Z",
            }
            for e in imports.active_enrollments(course)
        ],
    }


@bp.post("/courses/<slug>/roster")
def roster_import(slug: str):
    """Preview (and with ?apply=1 apply) a roster sent as multipart `file` or a text/csv body."""
    course = courses.get_course(slug, who=current_instructor())
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
        rule=request.args.get("username_from", "email-local"),
        remove=request.args.get("remove", "none"),
        apply_now=request.args.get("apply") in ("1", "true", "yes"),
        confirm=request.args.get("confirm"),
    )
    return imports.result_json(record), 200


@bp.get("/courses/<slug>/students")
def students(slug: str):
    course = courses.get_course(slug, who=current_instructor())
    return {
        "course": course.slug,
        "students": [row.to_json() for row in dashboard.students(course)],
    }
