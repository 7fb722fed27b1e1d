"""The audit log in the JSON API: GET /api/v1/audit, the page's filters and visibility."""

from flask import Blueprint, request

from app.auth import current_instructor

from . import log

bp = Blueprint("audit_api", __name__, url_prefix="/api/v1")


@bp.get("/audit")
def audit_events():
    """Newest first; `older` is the `before` of the next page (null: none older)."""
    who = current_instructor()
    args = request.args
    filters = log.read_filters(args, who)
    found = log.page(
        who,
        filters,
        before=log.read_event_id(args, "before"),
        after=log.read_event_id(args, "after"),
        size=log.read_limit(args),
    )
    return {
        "events": [log.to_json(event) for event in found.events],
        "older": found.older,
        "newer": found.newer,
    }
