"""The data dir and the SQLite database are the service's alone: they hold every roster.

Issue 8 item 6. On a single-machine Hub every student has a terminal on the machine that runs
Hubclass, so a database file that is 0644 in a directory others may enter is a readable list of
every student, course and section. The data dir is 0700, the database and SQLite's -wal/-shm
files 0600, and start-up refuses a data dir that others can read or enter, saying how to fix it.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.config import ConfigError, from_env
from app.courses.models import Course
from app.extensions import db
from tests.conftest import hub_env, run_flask

DB_FILES = ("hubclass.sqlite", "hubclass.sqlite-wal", "hubclass.sqlite-shm")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """The umask most services run with (0022): files are 0644 unless the code says otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_fresh_data_dir_and_its_database_are_private_after_a_real_write(tmp_path, usual_umask):
    data = tmp_path / "new" / "data"
    app = create_app(from_env(hub_env(HUBCLASS_DATA_DIR=str(data), HUBCLASS_WORKERS="0")))
    with app.app_context():
        upgrade()
        db.session.add(Course(slug="secret", title="S", hub_group="course-secret", created_by="t"))
        db.session.commit()
        # SQLite keeps -wal and -shm beside the database while a connection is open (the pool
        # holds one now), and removes them when the last one closes.
        modes = {name: mode(data / name) for name in (*DB_FILES, "secret_key")}
        db.session.remove()
        db.engine.dispose()
    assert mode(data) == 0o700
    assert modes == dict.fromkeys((*DB_FILES, "secret_key"), 0o600)


OPEN_MODES = [0o755, 0o750, 0o711, 0o701, 0o770, 0o707]


@pytest.mark.parametrize("open_mode", OPEN_MODES, ids=[f"{m:o}" for m in OPEN_MODES])
def test_a_data_dir_others_can_read_or_enter_stops_start_up_with_the_chmod_that_fixes_it(
    tmp_path, open_mode
):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(open_mode)
    with pytest.raises(ConfigError) as caught:
        from_env(hub_env(HUBCLASS_DATA_DIR=str(data)))
    message = str(caught.value)
    assert "HUBCLASS_DATA_DIR" in message
    assert f"chmod 700 {data}" in message
    assert f"mode {open_mode:o}" in message  # the mode found, so the admin sees what was wrong
    assert list(data.iterdir()) == []  # nothing was written into it: no key, no database
    assert mode(data) == open_mode  # and its mode is the admin's to change, not ours


def test_the_service_start_up_command_stops_on_an_open_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        **hub_env(HUBCLASS_DATA_DIR=str(data)),
    }
    # What the Hub runs first for its managed service (demo/jupyterhub_config.py, docs/deploy.md).
    result = run_flask(env, "db", "upgrade")
    assert result.returncode != 0
    assert f"chmod 700 {data}" in result.stderr
    assert not (data / "hubclass.sqlite").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the folder to another user")
def test_a_data_dir_owned_by_someone_else_stops_start_up(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 65534, 65534)  # nobody: could swap the database or the session key
    with pytest.raises(ConfigError) as caught:
        from_env(hub_env(HUBCLASS_DATA_DIR=str(data)))
    message = str(caught.value)
    assert "HUBCLASS_DATA_DIR" in message
    assert f"chown root {data}" in message
    # ...unless it is the web's, and this is the root worker beside it: the message says how.
    assert "HUBCLASS_SERVICE_USER=nobody" in message
    assert list(data.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act for another account")
def test_a_root_worker_shares_the_service_accounts_data_dir_and_what_it_makes_there_is_theirs(
    tmp_path,
):
    nobody = pwd.getpwnam("nobody")
    data = tmp_path / "data"
    env = hub_env(HUBCLASS_DATA_DIR=str(data), HUBCLASS_SERVICE_USER="nobody", HUBCLASS_WORKERS="0")
    app = create_app(from_env(env))  # a fresh data dir: made, and made the account's
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    made = {path.name: (path.stat().st_uid, mode(path)) for path in [data, *data.iterdir()]}
    mine = nobody.pw_uid
    assert made == {
        "data": (mine, 0o700),
        "secret_key": (mine, 0o600),
        "hubclass.sqlite": (mine, 0o600),
    }

    os.chown(data, 0, 0)  # root's own data dir: the web, run as the account, could not use it
    with pytest.raises(ConfigError) as caught:
        from_env(env)
    assert "belongs to root, not to nobody who HUBCLASS_SERVICE_USER names" in str(caught.value)
    assert f"chown nobody {data}" in str(caught.value)
    with pytest.raises(ConfigError, match="no such account"):
        from_env({**env, "HUBCLASS_SERVICE_USER": "hc-no-such-account"})


def test_an_existing_database_others_can_read_is_made_private_at_start(
    tmp_path, usual_umask, caplog
):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    # A database from an older Hubclass, still open in another process (or left by a crash):
    # the database and its -wal and -shm files are all 0644.
    older = sqlite3.connect(data / "hubclass.sqlite")
    try:
        older.execute("PRAGMA journal_mode=WAL")
        older.execute("CREATE TABLE t (x)")
        older.execute("INSERT INTO t VALUES (1)")
        older.commit()
        assert {mode(data / name) for name in DB_FILES} == {0o644}
        app = create_app(from_env(hub_env(HUBCLASS_DATA_DIR=str(data), HUBCLASS_WORKERS="0")))
        assert {name: mode(data / name) for name in DB_FILES} == dict.fromkeys(DB_FILES, 0o600)
        with app.app_context():
            assert db.session.execute(text("SELECT x FROM t")).scalar() == 1  # same data
            db.session.remove()
            db.engine.dispose()
    finally:
        older.close()
    said = [r.getMessage() for r in caplog.records if r.name == "app.config"]
    assert any(str(data / "hubclass.sqlite") in line and "644" in line for line in said), said


@pytest.mark.hub
def test_the_managed_service_keeps_its_data_dir_and_database_private(hub):
    data = hub.service_data_dir
    assert (data / "hubclass.sqlite").exists()  # the service made its database here
    assert mode(data) == 0o700
    found = {path.name: mode(path) for path in data.iterdir() if path.name in DB_FILES}
    assert found == dict.fromkeys(found, 0o600)
    assert mode(data / "secret_key") == 0o600
