"""Shared fixtures: a real JupyterHub with Hubclass as its managed service, and app instances."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from flask_migrate import upgrade

from app import create_app
from app.config import from_env
from app.extensions import db
from app.gitsync import stop_fork_server
from demo.launch import RunningHub, start_hub
from tests.hubusers import ensure_users, remove_users

# Access is re-checked against the Hub this often in the test Hub (60 s in production), so a test
# can watch an instructor lose access without waiting a minute.
TEST_AUTH_CACHE_SECONDS = 2
# The service polls the Hub this often in the test Hub (60 s in production).
TEST_POLL_SECONDS = 2
TEST_ACTIVITY_INTERVAL = 2
# The JupyterHub the suite starts: 6.x by `make test`, 5.x by `make test-hub5` (its own venv).
HUB_VERSION = metadata.version("jupyterhub")
HUB_MAJOR = int(HUB_VERSION.split(".")[0])


@pytest.fixture(scope="session")
def hub(tmp_path_factory) -> RunningHub:
    """A real JupyterHub on free loopback ports with a fresh state dir; Hubclass is its service."""
    state = tmp_path_factory.mktemp("hub")
    running = start_hub(
        state,
        extra_env={
            "HUBCLASS_AUTH_CACHE_SECONDS": str(TEST_AUTH_CACHE_SECONDS),
            "HUBCLASS_POLL_SECONDS": str(TEST_POLL_SECONDS),
            "HUBCLASS_ALLOWED_REPO_URLS": "file://,git://127.0.0.1",
            # The Hub reads the proxy's activity and servers report theirs this often (300 s
            # in production): the delivery tests watch whether a delivery counts as activity.
            "HUBCLASS_HUB_ACTIVITY_INTERVAL": str(TEST_ACTIVITY_INTERVAL),
        },
    )
    try:
        ensure_users(running, ["student1", "student2"])
        yield running
    finally:
        running.stop()


@pytest.fixture
def hub_users_made(hub) -> Iterator[list[str]]:
    """Names a test makes Hub users of by the hundred: deleted after it. The session Hub is
    shared, and every Hub user costs each later activity poll and roster preview (they list
    all users): hundreds left behind slowed the rest of the suite several times over."""
    made: list[str] = []
    yield made
    remove_users(hub, made)


def hub_env(api_url: str = "http://127.0.0.1:9/hub/api", **overrides: str) -> dict[str, str]:
    return {
        "JUPYTERHUB_API_URL": api_url,
        "JUPYTERHUB_API_TOKEN": "not-a-real-token",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/hubclass/",
        **overrides,
    }


REPO = Path(__file__).resolve().parent.parent


def run_flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS` in a fresh process with only `env`, as an admin's shell would."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _migrated(env: dict[str, str]):
    """Yield an app made from `env`, its database migrated, inside its app context."""
    application = create_app(from_env(env))
    application.config["TESTING"] = True
    with application.app_context():
        upgrade()
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path):
    """An app on a fresh, migrated SQLite database; its Hub is unreachable (port 9)."""
    yield from _migrated(hub_env(HUBCLASS_DATA_DIR=str(tmp_path / "data")))


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def real_hub_env(hub: RunningHub, data_dir: Path) -> dict[str, str]:
    """The environment of an app that talks to the real test Hub with the service's token."""
    return hub_env(
        api_url=hub.api_url,
        JUPYTERHUB_API_TOKEN=hub.service_token,
        HUBCLASS_DATA_DIR=str(data_dir),
    )


@pytest.fixture
def hub_app(hub, tmp_path: Path):
    """An app on a fresh, migrated SQLite database that talks to the real test Hub."""
    yield from _migrated(real_hub_env(hub, tmp_path / "data"))


@pytest.fixture
def service_app(hub):
    """An app on the database of the service the Hub runs: to read what its pages, API and
    command line stored (the session's one database, shared by every test)."""
    yield from _migrated(real_hub_env(hub, hub.service_data_dir))


def service_cli(hub: RunningHub, *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS` on the service's own database, as its admin would."""
    return run_flask({"PATH": os.environ["PATH"], **real_hub_env(hub, hub.service_data_dir)}, *args)


@pytest.fixture(autouse=True)
def _no_hub_env_leak(monkeypatch):
    # Tests build their own environments; a developer's shell must not change their outcome.
    for name in list(os.environ):
        if name.startswith(("JUPYTERHUB_", "HUBCLASS_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def base_dir() -> Iterator[Path]:
    """A world-traversable scratch dir for students' homes (pytest's own tmp dirs are 0700,
    closed to students); the git sync's fork server stops with it."""
    path = Path(tempfile.mkdtemp(prefix="hctest-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        stop_fork_server()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server, started for this test session."""
    from tests.pgserver import PostgresServer

    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_app(request, tmp_path):
    """The app on a fresh migrated database: SQLite, then a real PostgreSQL."""
    overrides = {"HUBCLASS_DATA_DIR": str(tmp_path / "data")}
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        overrides["HUBCLASS_DATABASE_URL"] = server.create_database(f"t_{tmp_path.name[-40:]}")
    application = create_app(from_env(hub_env(**overrides)))
    with application.app_context():
        upgrade()
        yield application
        db.session.remove()
        db.engine.dispose()
