"""Roster pages: the course's students, uploading a roster, its preview, applying it, history."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from app.auth import current_instructor
from app.courses.current import managed_course
from app.extensions import db
from app.roster import RosterError, imports
from app.roster.apply import is_failure
from app.roster.models import ImportStatus
from app.roster.plan import RemoveMode
from app.web.pages import page_of

from .forms import ApplyRosterForm, RosterUploadForm

bp = Blueprint("roster", __name__, url_prefix="/courses/<slug>/roster", template_folder="templates")


@bp.context_processor
def _states() -> dict:
    """The templates branch on the same states as the code, by the same names."""
    return {"ImportStatus": ImportStatus, "RemoveMode": RemoveMode, "is_failure": is_failure}


def _page(course, form, status=200, open_columns=False):
    enrollments = imports.all_enrollments(course)
    page = page_of(enrollments, request.args.get("page"))
    return render_template(
        "roster/roster.html",
        course=course,
        form=form,
        open_columns=open_columns,
        enrollments=page.rows,
        page=page,
        enrolled=sum(1 for e in enrollments if e.active),
        history=imports.history(course),
    ), status


@bp.get("/")
def roster(slug: str):
    return _page(managed_course(slug), RosterUploadForm())


@bp.post("/")
def upload(slug: str):
    course = managed_course(slug)
    form = RosterUploadForm()
    if not form.validate_on_submit():
        for name, errors in form.errors.items():
            for message in errors:
                flash(f"{form[name].label.text}: {message}", "error")
        return _page(course, form, 400)
    upload = form.file.data
    try:
        record, _ = imports.preview(
            course,
            upload.read(),
            upload.filename or "roster.csv",
            actor=current_instructor().name,
            rule=form.rule(),
            remove=form.remove.data,
            mapping=form.mapping(),
        )
    except RosterError as e:
        columns = f" Columns in the file: {', '.join(e.columns)}." if e.columns else ""
        flash(e.message + columns, "error")
        return _page(course, form, 400, open_columns=bool(e.columns))
    db.session.commit()
    return redirect(url_for("roster.detail", slug=slug, import_id=record.id))


@bp.get("/imports/<id:import_id>")
def detail(slug: str, import_id: int):
    course = managed_course(slug)
    record = imports.get_import(course, import_id) or abort(404)
    return render_template(
        "roster/roster_import.html",
        course=course,
        record=record,
        plan=record.plan,
        form=ApplyRosterForm(),
        latest=imports.history(course)[0].id == record.id,
    )


@bp.post("/imports/<id:import_id>/apply")
def apply(slug: str, import_id: int):
    course = managed_course(slug)
    record = imports.get_import(course, import_id) or abort(404)
    form = ApplyRosterForm()
    form.validate_on_submit()
    try:
        imports.apply(record, actor=current_instructor().name, confirm=form.confirm.data)
    except RosterError as e:
        flash(e.message, "error")
        return redirect(url_for("roster.detail", slug=slug, import_id=import_id))
    db.session.commit()
    failed = [u for u, r in record.results.items() if is_failure(r)]
    if failed:
        flash(
            f"Applied, but {len(failed)} change(s) failed (listed below). Apply again to retry "
            "them; what succeeded is not repeated.",
            "error",
        )
    else:
        flash("Roster applied.")
    return redirect(url_for("roster.detail", slug=slug, import_id=import_id))
