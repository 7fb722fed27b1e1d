"""The caller as the Hub knows them: /api/v1/whoami."""

from flask import Blueprint

from .access import current_instructor

bp = Blueprint("auth_api", __name__, url_prefix="/api/v1")


@bp.get("/whoami")
def whoami():
    me = current_instructor()
    return {"name": me.name, "admin": me.admin, "groups": list(me.groups)}
