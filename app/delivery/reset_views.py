"""The page route that resets one student's files, and the form a student's delivery page shows.

The student's delivery page (views.py) includes `delivery/_reset.html` with
`**reset_context(assignment, username)`; its form posts here. Nothing here reads the student's
home: the course's files come from the service's own mirror, the rest is the workers' job.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, url_for

from app.assignments.models import Assignment
from app.auth import current_instructor
from app.courses.current import managed_course
from app.extensions import db

from . import service
from .forms import ResetForm

bp = Blueprint(
    "delivery_reset",
    __name__,
    url_prefix="/courses/<slug>/assignments/<assignment>/students/<username>",
    template_folder="templates",
)


def student_page(assignment: Assignment, username: str) -> str:
    """The student's delivery page (/courses/<c>/assignments/<a>/students/<username>)."""
    return url_for(
        "delivery.student_detail",
        slug=assignment.course.slug,
        assignment=assignment.slug,
        username=username,
    )


def reset_context(assignment: Assignment, username: str) -> dict[str, Any]:
    """What `delivery/_reset.html` needs: the form with the course's files as its choices, the
    commit they come from, where it posts, or why there is nothing to reset (`reset_refused`)."""
    form = ResetForm()
    action = url_for(
        "delivery_reset.reset_student",
        slug=assignment.course.slug,
        assignment=assignment.slug,
        username=username,
    )
    try:
        commit, files = service.course_files(assignment, username)
    except service.DeliveryError as e:
        return {"reset_form": form, "reset_refused": e.message, "reset_action": action}
    form.paths.choices = files  # plain values: each is its own label
    return {
        "reset_form": form,
        "reset_refused": None,
        "reset_action": action,
        "reset_commit": commit,
    }


@bp.post("/reset")
def reset_student(slug: str, assignment: str, username: str):
    found = service.find_assignment(managed_course(slug), assignment)
    back = student_page(found, username)
    form = ResetForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
        return redirect(back)
    paths = [path for path in form.paths.data or [] if path]
    if form.whole_folder.data == bool(paths):
        flash("Choose the files to reset, or the whole folder (not both).", "error")
        return redirect(back)
    try:
        distribution = service.reset(
            found, username, None if form.whole_folder.data else paths, current_instructor()
        )
    except service.DeliveryError as e:
        if e.http_status == 404:
            raise  # no such student here: a 404 page, as for any other unknown name
        flash(e.message, "error")
        return redirect(back)
    db.session.commit()
    what = f"~/{found.target}" if form.whole_folder.data else ", ".join(sorted(set(paths)))
    flash(
        f"Reset of {what} for {username} queued (reset {distribution.id}): their copy is moved "
        "aside with a timestamp, never deleted."
    )
    return redirect(back)
