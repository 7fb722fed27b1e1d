"""Hubclass: course admin for JupyterHub."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from . import activity, auth, cli, delivery, error_pages, hub, jobs, logs
from .config import ensure_private_sqlite_file, from_env
from .extensions import csrf, db, migrate
from .text import printable
from .timeutil import iso_z
from .web import inputs, redirects
from .web.prefix import ServicePrefix

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Wire the app: config, extensions, blueprints, error handlers, CLI. No network, no git."""
    app = Flask(__name__)
    app.config.update(from_env() if config is None else config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logs.install()  # outside values make a log line long, never endless
    # Before SQLAlchemy's first connection could create the file with SQLite's default 0644.
    ensure_private_sqlite_file(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("DATA_DIR_OWNER")
    )

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    csrf.init_app(app)
    hub.init_app(app)
    jobs.init_app(app)  # before auth: any first request starts the workers, signed in or not
    activity.init_app(app)  # the poll, a periodic task of the workers
    delivery.init_app(app)  # the delivery queue and its periodic task
    inputs.init_app(app)  # before the blueprints (the id converter) and before auth
    auth.init_app(app)

    # Each feature's pages and API routes; importing them registers its tables too.
    from .activity import api as activity_api
    from .activity import views as activity_views
    from .assignments import api as assignments_api
    from .assignments import views as assignments_views
    from .audit import api as audit_api
    from .audit import views as audit_views
    from .auth import api as auth_api
    from .courses import api as courses_api
    from .courses import views as courses_views
    from .delivery import api as delivery_api
    from .delivery import reset_views as delivery_reset_views
    from .delivery import views as delivery_views
    from .ops import api as ops_api
    from .ops import views as ops_views
    from .roster import api as roster_api
    from .roster import views as roster_views

    for blueprint in (
        courses_views.bp,
        activity_views.bp,
        roster_views.bp,
        assignments_views.bp,
        delivery_views.bp,
        delivery_reset_views.bp,
        ops_views.bp,
        audit_views.bp,
        auth_api.bp,
        courses_api.bp,
        activity_api.bp,
        roster_api.bp,
        assignments_api.bp,
        delivery_api.bp,
        ops_api.bp,
        audit_api.bp,
    ):
        app.register_blueprint(blueprint)
    _import_all_tables()
    app.add_template_filter(iso_z)  # <time datetime="{{ when|iso_z }}">, as the API writes times
    app.add_template_filter(printable)  # outside text (usernames, git's stderr) on one line

    error_pages.init_app(app)
    auth.register_error_handlers(app)
    app.after_request(_security_headers)
    redirects.init_app(app)
    cli.init_app(app)

    app.wsgi_app = ServicePrefix(  # type: ignore[method-assign]  # Flask's middleware idiom
        app.wsgi_app, app.config["HUB_SERVICE_PREFIX"]
    )
    return app


def _security_headers(response):
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; img-src 'self' data:",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _import_all_tables() -> None:
    """Register every feature's tables with SQLAlchemy and Alembic, pages or not."""
    from .activity import models as _activity  # noqa: F401
    from .assignments import models as _assignments  # noqa: F401
    from .audit import models as _audit  # noqa: F401
    from .courses import models as _courses  # noqa: F401
    from .delivery import models as _delivery  # noqa: F401
    from .jobs import models as _jobs  # noqa: F401
    from .roster import models as _roster  # noqa: F401
