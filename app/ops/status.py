"""What the status page shows: is the Hub reachable, does the token have its scopes, which
database, which ways of delivery work, which settings. Read-only, but for the check that the
Hub makes delivery tokens (one made and revoked at once, at most once a minute)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import Migrate
from sqlalchemy.engine import make_url

from app.activity import latest_poll
from app.config import PUBLIC_SETTINGS, REQUIRED_SCOPES
from app.delivery.ways import HOME, SERVER, described
from app.extensions import db
from app.hub import HubError, hub_client
from app.jobs import registry
from app.timeutil import iso_z


@dataclass
class Status:
    hub_version: str | None = None
    hub_error: str | None = None
    scopes: list[str] = field(default_factory=list)
    missing_scopes: list[str] = field(default_factory=list)
    database: str = ""
    db_revision: str | None = None
    db_head: str | None = None
    last_poll: str | None = None
    # Background work this process leaves to other processes, by name, with why.
    elsewhere: dict[str, str] = field(default_factory=dict)
    # The ways of delivery, each with whether this process uses it and why.
    deliveries: list[dict] = field(default_factory=list)
    # The way HUBCLASS_DELIVERY asks for could not be used, and why (the admin should act).
    delivery_problem: str | None = None
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.hub_error is None
            and not self.missing_scopes
            and self.db_revision == self.db_head
            and self.delivery_problem is None
        )

    def to_json(self) -> dict:
        return {**self.__dict__, "ok": self.ok}


def _migration_state() -> tuple[str | None, str | None]:
    migrate: Migrate = current_app.extensions["migrate"].migrate
    config = migrate.get_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head


def _deliveries(status: Status) -> None:
    ways = described(current_app.config)
    status.deliveries = [asdict(way) for way in ways]
    by_name = {way.name: way for way in ways}
    # Asked for through servers (HUBCLASS_DELIVERY=server, or auto in a process that cannot
    # write homes) and not usable: every delivery this process takes would wait or fail.
    chosen = current_app.config.get("HUBCLASS_DELIVERY") or "auto"
    server = by_name[SERVER]
    if chosen != "home" and not by_name[HOME].used and not server.used:
        status.delivery_problem = server.why


def collect() -> Status:
    """Gather the status; Hub failures become a message instead of an exception."""
    status = Status()
    client = hub_client()
    try:
        status.hub_version = client.check_version()
        status.scopes = sorted(client.whoami().scopes)
        status.missing_scopes = [s for s in REQUIRED_SCOPES if s not in status.scopes]
    except HubError as e:
        status.hub_error = e.message
    status.database = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(
        hide_password=True
    )
    status.db_revision, status.db_head = _migration_state()
    polled = latest_poll()
    status.last_poll = iso_z(polled, "seconds") if polled else None
    status.elsewhere = dict(registry(current_app).elsewhere)
    if status.hub_error is None:
        _deliveries(status)
    status.settings = {key: current_app.config.get(key) for key in PUBLIC_SETTINGS}
    return status
