"""Delivery: distributing an assignment to students, one queued delivery per student.

service.py (distribute: who is targeted; reset: one student's files back to the course's
version; the progress JSON), homes.py (where a student's home is and whether it may be written
into), worker.py (the queue handler: claim, sync or reset as the student, record), pending.py
(the periodic task: waiting deliveries whose home appeared, students who joined later),
states.py, cli.py (`flask distribute`, `flask reset`), api.py (/api/v1/.../distributions,
.../students/<username>/reset); the pages: views.py (the Distribute form and the progress on
the assignment's page, a distribution's page, a student's delivery page), progress.py (what
they read), words.py (a delivery's outcome in the instructor's words), reset_views.py (the
reset form of a student's delivery page), forms.py, templates/delivery/.
"""

from __future__ import annotations

from flask import Flask

from app import jobs
from app.activity import columns
from app.assignments import page

from . import dashboard
from .homes import can_become_students
from .pending import POLL_TASK, poll_pending
from .service import DeliveryError, distribute, distribution_json, find_assignment, reset
from .states import State
from .worker import NEEDS_ROOT, handle_batch

QUEUE_NAME = "deliveries"


def init_app(app: Flask) -> None:
    """Register the delivery's part of the assignment page and its dashboard columns, and the
    delivery queue and its
    periodic task with the app's workers in a process that can become the students (elsewhere
    say who runs them instead)."""
    # Imported here, not at the top: the pages need the auth and the assignments' pages, which
    # the workers (and `flask worker`) do not.
    from .views import ASSIGNMENT_TEMPLATE, assignment_part

    page.register(app, ASSIGNMENT_TEMPLATE, assignment_part)
    columns.register(app, "delivery", dashboard.columns)
    work = jobs.registry(app)
    if not can_become_students():
        # A process that cannot become each student could only fail every delivery it
        # claimed: the deliveries stay queued for a root `flask --app wsgi worker`.
        work.leave_to_others(QUEUE_NAME, NEEDS_ROOT)
        return
    work.register_queue(QUEUE_NAME, handle_batch)
    work.register_periodic(POLL_TASK, float(app.config["HUBCLASS_POLL_SECONDS"]), poll_pending)


__all__ = [
    "DeliveryError",
    "State",
    "distribute",
    "distribution_json",
    "find_assignment",
    "init_app",
    "reset",
]
