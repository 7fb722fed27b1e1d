"""A public liveness check for the Hub admin's monitoring and the test harness."""

from flask import Blueprint

from ..auth import public

bp = Blueprint("health", __name__)


@bp.get("/health")
@public
def health():
    return {"ok": True}
