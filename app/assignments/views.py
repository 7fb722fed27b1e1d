"""Assignment pages: the course's assignments with a form to add one, and an assignment's page
(its settings, their form, its nbgitpuller link, and the delivery side's block)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for

from app.auth import current_instructor
from app.courses.current import managed_course
from app.courses.models import Course
from app.extensions import db

from . import page, service
from .forms import AssignmentForm, NewAssignmentForm
from .models import Assignment
from .rules import AssignmentError

bp = Blueprint(
    "assignments", __name__, url_prefix="/courses/<slug>/assignments", template_folder="templates"
)


def _flash_form_errors(form: AssignmentForm) -> None:
    for name, messages in form.errors.items():
        for message in messages:
            flash(f"{form[name].label.text}: {message}", "error")


def _list_page(course: Course, form: NewAssignmentForm, status: int = 200):
    context = {"course": course, "assignments": service.list_assignments(course), "form": form}
    return render_template("assignments/assignments.html", **context), status


def assignment_page(
    assignment: Assignment, form: AssignmentForm | None = None, status: int = 200, **overrides: Any
):
    """The assignment's page, with the part another feature registered (see page.py);
    `overrides` replace what that part gives (its form posted back with its errors)."""
    context = {
        "course": assignment.course,
        "assignment": assignment,
        "form": form or AssignmentForm.of(assignment),
        "pull_link": service.nbgitpuller_link(assignment),
    }
    return page.render(assignment, context, **overrides), status


def _submit(form: AssignmentForm, save: Callable[[], tuple[str, str]], again: Callable[[int], Any]):
    """Check the posted form and save it; then flash what `save` says and go where it says.

    A refusal is flashed and the page is shown `again`, with what was typed, nothing saved.
    """
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return again(400)
    try:
        said, where = save()
    except AssignmentError as e:
        flash(e.message, "error")
        return again(e.http_status)
    db.session.commit()
    flash(said)
    return redirect(where)


def _where(assignment: Assignment) -> str:
    return url_for(".assignment_detail", slug=assignment.course.slug, assignment=assignment.slug)


@bp.get("/")
def assignment_list(slug: str):
    return _list_page(managed_course(slug), NewAssignmentForm())


@bp.get("/<assignment>")
def assignment_detail(slug: str, assignment: str):
    found = service.get_assignment(managed_course(slug), assignment)
    return assignment_page(found)


@bp.post("/")
def assignment_add(slug: str):
    course = managed_course(slug)
    form = NewAssignmentForm()

    def add() -> tuple[str, str]:
        added = service.add_assignment(
            course, form.slug.data, who=current_instructor(), **form.settings()
        )
        return f"Assignment {added.slug} added: it lands in ~/{added.target}.", _where(added)

    return _submit(form, add, lambda status: _list_page(course, form, status))


@bp.post("/<assignment>")
def assignment_change(slug: str, assignment: str):
    found = service.get_assignment(managed_course(slug), assignment)
    form = AssignmentForm()

    def change() -> tuple[str, str]:
        changed = service.change_assignment(found, who=current_instructor(), **form.settings())
        said = f"Saved: {', '.join(changed)} changed." if changed else "Nothing changed."
        return said, _where(found)

    return _submit(form, change, lambda status: assignment_page(found, form, status))
