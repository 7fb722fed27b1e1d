"""Operations: the public liveness check and the instructors' status page."""

from flask import Blueprint, render_template

from app import courses
from app.auth import current_instructor, public

from . import status

bp = Blueprint("ops", __name__, template_folder="templates")


@bp.get("/health")
@public
def health():
    """For the Hub admin's monitoring and the test harness."""
    return {"ok": True}


@bp.get("/status")
def status_page():
    courses.require_instructor(current_instructor())
    return render_template("ops/status.html", status=status.collect())
