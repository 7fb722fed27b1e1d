"""Migrations: one head, upgrade on empty SQLite and PostgreSQL, and no drift from the models."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade

from app import create_app
from app.config import from_env
from app.extensions import db
from tests.conftest import hub_env


def _drift(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _app_on(url: str, tmp_path):
    return create_app(
        from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path / "data"), HUBCLASS_DATABASE_URL=url))
    )


def test_there_is_one_head(app):
    config = current_app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_sqlite_upgrade_from_empty_matches_the_models(app):
    assert _drift(app) == []


def test_downgrade_and_upgrade_again(app):
    downgrade(revision="base")
    upgrade()
    assert _drift(app) == []


@pytest.mark.postgres
def test_postgres_upgrade_from_empty_matches_the_models(postgres, tmp_path):
    app = _app_on(postgres.create_database("hubclass_migrations"), tmp_path)
    try:
        with app.app_context():
            upgrade()
        assert _drift(app) == []
    finally:
        with app.app_context():
            db.engine.dispose()


def test_flask_db_upgrade_works_from_the_command_line(tmp_path):
    env = {
        **hub_env(HUBCLASS_DATA_DIR=str(tmp_path / "data")),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "hubclass.sqlite").exists()
