"""The delivery pages: the Distribute form and the newest distribution's progress on the
assignment's page (a part registered with app/assignments/page.py), each distribution's own
page, and a student's delivery page with the engine's whole report.

The progress moves without reloading: app/static/progress.js polls the distribution's JSON
(GET /api/v1/distributions/<id>) while anything is queued or running. Without the script the
page shows the state at load time.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.assignments.current import managed_assignment
from app.assignments.models import Assignment
from app.assignments.views import assignment_page
from app.auth import current_instructor
from app.extensions import db
from app.text import printable

from . import not_arrived, progress, reset_views, service, words
from .forms import DistributeForm
from .service import DeliveryError

bp = Blueprint(
    "delivery",
    __name__,
    url_prefix="/courses/<slug>/assignments/<assignment>",
    template_folder="templates",
)
# The template that fills the assignment page's `distribution` block.
ASSIGNMENT_TEMPLATE = "delivery/assignment.html"


def distribute_form(assignment: Assignment, **kwargs: Any) -> DistributeForm:
    return DistributeForm.with_sections(progress.sections(assignment.course), **kwargs)


def assignment_part(assignment: Assignment) -> dict[str, Any]:
    """What the assignment's page shows of its distributions: the form, the newest one's
    progress, the earlier ones."""
    newest = progress.newest_distribution(assignment)
    return {
        "distribute_form": distribute_form(assignment),
        "progress": progress.page_progress(newest, request.args.get("show")) if newest else None,
        "earlier": progress.recent_distributions(assignment),
    }


def _refused(assignment: Assignment, form: DistributeForm, message: str, status: int):
    """The assignment's page again, the form as posted, the refusal flashed; nothing created."""
    flash(message, "error")
    return assignment_page(assignment, status=status, distribute_form=form)


@bp.post("/distributions")
def distribution_start(slug: str, assignment: str):
    """Queue the assignment for the students the form names; then show its progress."""
    found = managed_assignment(slug, assignment)
    form = distribute_form(found)
    if not form.validate_on_submit():
        messages = [f"{form[name].label.text}: {m}" for name, ms in form.errors.items() for m in ms]
        return _refused(found, form, " ".join(messages), 400)
    missing = form.problem()
    if missing:
        return _refused(found, form, missing, 400)
    try:
        distribution = service.distribute(found, who=current_instructor(), **form.scope())
    except DeliveryError as e:
        return _refused(found, form, e.message, e.http_status)
    db.session.commit()
    total = service.how_many(distribution.id)
    flash(
        f"Distribution {distribution.id} of {found.slug} started: "
        f"{total} student{'' if total == 1 else 's'} queued."
    )
    return redirect(
        url_for(
            ".distribution_detail",
            slug=slug,
            assignment=found.slug,
            distribution_id=distribution.id,
        )
    )


@bp.get("/distributions/<id:distribution_id>")
def distribution_detail(slug: str, assignment: str, distribution_id: int):
    """One distribution's progress, with the buttons to retry its failed ones or send again."""
    found = managed_assignment(slug, assignment)
    distribution = progress.distribution_of(found, distribution_id)
    return render_template(
        "delivery/distribution.html",
        course=found.course,
        assignment=found,
        progress=progress.page_progress(distribution, request.args.get("show")),
    )


def student_context(assignment: Assignment, username: str) -> dict[str, Any]:
    """What a student's delivery page shows: the newest delivery with the engine's report,
    and every delivery of the assignment to them. A feature that adds to the page (the
    reset form, reset_views.py) adds its context beside this, shown in the `actions` block."""
    history = progress.deliveries_to(assignment, username)
    if not history and not progress.enrolled(assignment.course, username):
        raise DeliveryError(
            "not_found",
            f"{printable(username)!r} is no student of {assignment.course.slug!r} and has had "
            f"no delivery of {assignment.slug!r}.",
        )
    newest = progress.newest_that_counts(history)
    return {
        "course": assignment.course,
        "assignment": assignment,
        "username": username,
        "newest": newest,
        "report": (newest.report if newest else None) or {},
        "not_arrived": not_arrived.files(newest.report if newest else None),
        "history": history,
        "said": service.said,
        "way_said": words.way,
    }


@bp.get("/students/<username>")
def student_detail(slug: str, assignment: str, username: str):
    found = managed_assignment(slug, assignment)
    context = student_context(found, username)  # first: an unknown student is a 404
    return render_template(
        "delivery/student.html", **context, **reset_views.reset_context(found, username)
    )
