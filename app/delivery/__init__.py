"""Delivery: distributing an assignment to students, one queued delivery per student.

service.py (distribute: who is targeted; reset: one student's files back to the course's
version; the progress JSON), ways.py (which ways of delivery a process may use), homes.py
(where a student's home is and whether it may be written into), servers.py (delivery through a
student's running server: nbgitpuller, a token for that server only), job.py (one delivery's
values), worker.py (the queue handler: claim, sync or reset as the student or through the
server, record), pending.py (the periodic task: waiting deliveries whose home or server
appeared, students who joined later),
states.py, cli.py (`flask distribute`, `flask reset`), api.py (/api/v1/.../distributions,
.../students/<username>/reset); the pages: views.py (the Distribute form and the progress on
the assignment's page, a distribution's page, a student's delivery page), progress.py (what
they read), words.py (a delivery's outcome in the instructor's words), reset_views.py (the
reset form of a student's delivery page), forms.py, templates/delivery/.
"""

from __future__ import annotations

from flask import Flask

from app import jobs
from app.activity import columns, not_theirs
from app.assignments import page

from . import dashboard
from .activity import sent_by_deliveries
from .pending import POLL_TASK, poll_pending
from .progress_json import distribution_json
from .service import DeliveryError, distribute, find_assignment, reset
from .states import State
from .ways import ways_of, why_none
from .worker import handle_batch

QUEUE_NAME = "deliveries"


def init_app(app: Flask) -> None:
    """Register the delivery's part of the assignment page, its dashboard columns and what of
    the Hub's activity was its own, and the delivery queue and its periodic task with the app's
    workers in a process that has a way to reach students (elsewhere say who runs them)."""
    # Imported here, not at the top: the pages need the auth and the assignments' pages, which
    # the workers (and `flask worker`) do not.
    from .views import ASSIGNMENT_TEMPLATE, assignment_part

    page.register(app, ASSIGNMENT_TEMPLATE, assignment_part)
    columns.register(app, "delivery", dashboard.columns)
    # Whichever process polls the Hub, whatever its own ways (another process may deliver
    # through servers): deliveries through servers are not the students' activity.
    not_theirs.register(app, sent_by_deliveries)
    work = jobs.registry(app)
    if not ways_of(app.config).any:
        # A process with no way to reach students (not root, home delivery only; or no
        # proxy address) could only fail every delivery it claimed: they stay queued for
        # another process (a root `flask --app wsgi worker`).
        work.leave_to_others(QUEUE_NAME, why_none(app.config))
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
