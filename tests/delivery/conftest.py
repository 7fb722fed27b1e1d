"""Fixtures for delivery: real users and their homes, a real upstream, apps with delivery on.

As root (CI) each student is a real user made with `useradd`, their home a folder they own
under a world-traversable scratch dir, and every sync really runs as them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.launch import RunningHub, start_hub
from tests.conftest import _migrated, hub_env, real_hub_env
from tests.gitsync.conftest import Student, Upstream, _make_user, _remove_user

from .kit import with_delivery_only

# The test apps look for waiting deliveries and joiners this often (60 s in production).
POLL_SECONDS = "0.2"


@pytest.fixture
def homes(base_dir: Path, tmp_path: Path) -> Path:
    """This test's folder of homes: HUBCLASS_HOME_TEMPLATE is `<homes>/{username}`."""
    path = base_dir / f"homes-{tmp_path.name}"
    path.mkdir()
    path.chmod(0o755)
    return path


def delivery_env(homes: Path, data_dir: Path, base: dict[str, str]) -> dict[str, str]:
    return {
        **base,
        "HUBCLASS_DATA_DIR": str(data_dir),
        "HUBCLASS_HOME_TEMPLATE": f"{homes}/{{username}}",
        "HUBCLASS_ALLOWED_REPO_URLS": "file://",
        "HUBCLASS_POLL_SECONDS": POLL_SECONDS,
        "HUBCLASS_WORKERS": "0",
    }


@pytest.fixture
def app(tmp_path: Path, homes: Path):
    """An app on a fresh SQLite database whose homes are `homes`; its workers deliver only
    (its Hub is unreachable, so the activity poll is left out)."""
    env = delivery_env(homes, tmp_path / "data", hub_env())
    for application in _migrated(env):
        with_delivery_only(application)
        yield application


@pytest.fixture
def hub_delivery_env(hub, tmp_path: Path, homes: Path) -> dict[str, str]:
    """The environment of an app that talks to the real test Hub, with this test's homes."""
    return delivery_env(homes, tmp_path / "data", real_hub_env(hub, tmp_path / "data"))


@pytest.fixture
def hub_delivery_app(hub_delivery_env: dict[str, str]):
    """Like `app`, on the real test Hub (roster imports work); its workers deliver only."""
    for application in _migrated(hub_delivery_env):
        with_delivery_only(application)
        yield application


@pytest.fixture
def make_students() -> Iterator[Callable[[int], list[Student]]]:
    """Make real system users (removed after the test)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create real users")
    made: list[Student] = []

    def make(count: int) -> list[Student]:
        users = [_make_user("hcd") for _ in range(count)]
        made.extend(users)
        return users

    yield make
    for student in made:
        _remove_user(student)


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    repo = Upstream(tmp_path / "upstream")
    repo.commit(
        {
            "README.md": "# Homework 1\n",
            "week1/notes.ipynb": "line 1\nline 2\nline 3\n",
            "week1/data.csv": "a,b\n1,2\n",
        },
        "first release",
    )
    return repo


@pytest.fixture
def any_db_delivery_app(shared_database: dict[str, str], tmp_path: Path, homes: Path):
    """Like `app`, on a fresh SQLite database, then on a real PostgreSQL: the queue, its claims
    and the results the fault tests read back are the database's."""
    env = {**delivery_env(homes, tmp_path / "data", hub_env()), **shared_database}
    for application in _migrated(env):
        with_delivery_only(application)
        yield application


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_database(request, tmp_path: Path) -> dict[str, str]:
    """The database setting processes of one test share: SQLite in their data dir (nothing
    to set), then a fresh database on the session's real PostgreSQL."""
    if request.param == "sqlite":
        return {}
    server = request.getfixturevalue("postgres")
    return {"HUBCLASS_DATABASE_URL": server.create_database(f"s_{tmp_path.name[-40:]}")}


@pytest.fixture(scope="session")
def accounts_hub(tmp_path_factory, base_dir: Path) -> Iterator[tuple[RunningHub, Path]]:
    """A real Hub whose servers run as the users' own system accounts, in homes under the
    returned folder (made, owned by the account, at a server's first start): what Hubclass
    needs to deliver into homes while the students' servers run. Its Hubclass service runs as
    root on a database of its own."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start servers as students' accounts")
    homes = base_dir / f"account-homes-{secrets.token_hex(3)}"
    homes.mkdir(mode=0o755)
    template = f"{homes}/{{username}}"
    hub = start_hub(
        tmp_path_factory.mktemp("accounts-hub"),
        extra_env={
            "HUBCLASS_HUB_SPAWNER": "accounts",
            "HUBCLASS_HOME_TEMPLATE": template,
            "HUBCLASS_ALLOWED_REPO_URLS": "file://",
            "HUBCLASS_POLL_SECONDS": "0.5",
        },
    )
    try:
        yield hub, homes
    finally:
        hub.stop()
