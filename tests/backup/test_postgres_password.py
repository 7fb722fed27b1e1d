"""PostgreSQL with a role that must give its password: pg_dump, pg_restore and psql get it, and
it is in no command line, no child's environment, no output and no log."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.backup import postgres as pg
from app.courses.models import Course
from app.extensions import db
from tests.backup.kit import app_on
from tests.conftest import hub_env

pytestmark = pytest.mark.postgres

# What Python hands to execve for every child started while a test records (an audit hook
# cannot be removed: it records only when asked).
STARTED: list[tuple[list[str], dict[str, str]]] | None = None


def _on_audit(event: str, args: tuple) -> None:
    if event == "subprocess.Popen" and STARTED is not None:
        _executable, argv, _cwd, env = args
        STARTED.append(([os.fsdecode(a) for a in argv], dict(env or os.environ)))


sys.addaudithook(_on_audit)


@pytest.fixture
def started() -> Iterator[list[tuple[list[str], dict[str, str]]]]:
    global STARTED
    STARTED = []
    try:
        yield STARTED
    finally:
        STARTED = None


def test_the_database_password_reaches_pg_dump_and_pg_restore_in_no_argv_env_or_log(
    postgres, tmp_path: Path, started, caplog
):
    caplog.set_level(logging.DEBUG)
    role = f"hc_{secrets.token_hex(4)}"
    # A colon and a backslash: the passfile's own separators, escaped there.
    password = f"pw:{secrets.token_hex(8)}\\@x"
    postgres.password_role(role, password)
    for name in ("live", "fresh", "plain"):
        postgres.create_database_of(f"{role}_{name}", role)

    def env(name: str) -> dict[str, str]:
        url = (
            f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{postgres.port}/"
            f"{role}_{name}"
        )
        return hub_env(HUBCLASS_DATA_DIR=str(tmp_path / name), HUBCLASS_DATABASE_URL=url)

    # The server asks for it: a wrong one is refused.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            f"host=127.0.0.1 port={postgres.port} user={role} dbname={role}_live password=no"
        ).close()

    custom, plain = tmp_path / "custom.tar.gz", tmp_path / "plain.tar.gz"
    outputs = []
    with app_on(env("live")) as app:
        db.session.add(Course(slug="data100", title="Data 100", hub_group="course-data100"))
        db.session.commit()
        for dest, fmt in ((custom, "custom"), (plain, "plain")):
            taken = app.test_cli_runner().invoke(args=["backup", str(dest), "--format", fmt])
            assert taken.exit_code == 0, taken.output
            outputs.append(taken.output)
    with app_on(env("fresh"), migrated=False) as app:
        restored = app.test_cli_runner().invoke(args=["restore", str(custom)])
        assert restored.exit_code == 0, restored.output
        outputs.append(restored.output)
        assert list(db.session.scalars(select(Course.slug))) == ["data100"]
    # Plain SQL is never fed to psql by the restore (its meta-commands run shells): by hand.
    with app_on(env("plain"), migrated=False) as app:
        refused = app.test_cli_runner().invoke(args=["restore", str(plain)])
        assert refused.exit_code != 0
        assert "restore it by hand" in refused.output
        outputs.append(refused.output)

    programs = [Path(argv[0]).name for argv, _ in started]
    assert programs == ["pg_dump", "pg_dump", "pg_restore"]
    for argv, child_env in started:
        assert not any(password in arg or quote(password, safe="") in arg for arg in argv)
        assert "PGPASSWORD" not in child_env
        assert not any(password in value for value in child_env.values())
        # Its passfile (0600, in a 0700 folder) is gone once the program ended.
        assert not Path(child_env["PGPASSFILE"]).exists()
    assert not any(password in text for text in outputs)
    assert password not in caplog.text
    assert password not in postgres.log_text()


def test_a_password_given_in_the_urls_query_goes_to_the_passfile_not_the_command_line():
    url = make_url("postgresql://hubclass@db.example.edu/hubclass?password=s3cret&sslmode=require")
    assert "s3cret" not in pg.conninfo(url)
    assert "sslmode='require'" in pg.conninfo(url)
    assert pg.password_of(url) == "s3cret"
    with pg.child_env(url) as env:
        assert Path(env["PGPASSFILE"]).read_text() == "*:*:*:*:s3cret\n"
        assert "s3cret" not in "".join(v for k, v in env.items() if k != "PGPASSFILE")
