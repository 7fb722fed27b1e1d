"""Hubclass: course admin for JupyterHub."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from . import activity, auth, cli, errors, hubclient, inputs, jobs, redirects
from .config import ensure_private_sqlite_file, from_env
from .extensions import csrf, db, migrate
from .prefix import ServicePrefix

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: dict | None = None) -> Flask:
    """Wire the app: config, extensions, blueprints, error handlers, CLI. No network, no git."""
    app = Flask(__name__)
    app.config.update(from_env() if config is None else config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Before SQLAlchemy's first connection could create the file with SQLite's default 0644.
    ensure_private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    csrf.init_app(app)
    hubclient.init_app(app)
    jobs.init_app(app)  # before auth: any first request starts the workers, signed in or not
    activity.init_app(app)  # the poll, a periodic task of the workers
    inputs.init_app(app)  # before the blueprints (the id converter) and before auth
    auth.init_app(app)

    from . import models  # noqa: F401 - register the tables with SQLAlchemy and Alembic
    from .views import api, health, pages, roster

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(roster.bp)

    errors.init_app(app)
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
