"""The status page's facts in the JSON API: /api/v1/status."""

from flask import Blueprint

from app import courses
from app.auth import current_instructor

from . import status

bp = Blueprint("ops_api", __name__, url_prefix="/api/v1")


@bp.get("/status")
def status_json():
    courses.require_instructor(current_instructor())
    return status.collect().to_json()
