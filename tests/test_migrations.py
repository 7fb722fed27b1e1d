"""Migrations: one head, upgrade on empty SQLite and PostgreSQL, and no drift from the models."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import create_app
from app.config import from_env
from app.extensions import db
from tests.conftest import hub_env, run_flask


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
    result = run_flask(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "hubclass.sqlite").exists()


def test_upgrade_keeps_the_accounts_earlier_imports_created_and_frees_the_name_cli(any_db_app):
    downgrade(revision="0003")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO course (id, slug, title, hub_group, instructor_groups, created_at,"
                " created_by) VALUES (1, 'old', 'Old', 'course-old', '[]', :at, 'cli'),"
                " (2, 'web', 'Web', 'course-web', '[]', :at, 'teacher')"
            ),
            {"at": datetime(2026, 9, 1)},
        )
        for import_id, (course, at, results) in enumerate(
            [
                (1, datetime(2026, 9, 2), {"made": "created", "joined": "added"}),
                (2, datetime(2026, 9, 3), {"made": "created", "other": "created"}),
                (2, None, {"never": "created"}),  # previewed only: nothing was created
            ],
            start=1,
        ):
            conn.execute(
                text(
                    "INSERT INTO roster_import (id, course_id, created_at, created_by, filename,"
                    " sha256, size, file_format, encoding, mapping, username_rule, remove_mode,"
                    " plan, status, applied_at, results) VALUES (:id, :course, :at, 't', 'r.csv',"
                    " '0', 1, 'generic', 'utf-8', '{}', 'email-local', 'none', '{}', 'applied',"
                    " :applied, :results)"
                ),
                {
                    "id": import_id,
                    "course": course,
                    "at": datetime(2026, 9, 1),
                    "applied": at,
                    "results": json.dumps(results),
                },
            )

    upgrade()

    with db.engine.connect() as conn:
        creators = dict(conn.execute(text("SELECT slug, created_by FROM course")).all())
        accounts = conn.execute(
            text("SELECT username, course_id, hub_created FROM hub_account ORDER BY username")
        ).all()
    assert creators == {"old": None, "web": "teacher"}
    # The newest creation of a name wins: it was deleted and made again for course 2.
    assert [tuple(a) for a in accounts] == [("made", 2, None), ("other", 2, None)]
