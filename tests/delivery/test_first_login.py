"""A student with no home waits; once they sign in and start a server, the Hub makes their home
(owned by their own account) and the waiting delivery runs by itself: no click.

A Hub of its own, whose spawner starts servers as the students' system accounts (the demo's
when it runs as root), with Hubclass as its managed service running as root.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.delivery import distribute
from app.extensions import db
from demo.launch import RunningHub, start_hub
from tests.conftest import _migrated, real_hub_env
from tests.delivery.kit import assignment_for, eventually, owners, states
from tests.hubusers import ensure_users, hub_login

pytestmark = [pytest.mark.hub, pytest.mark.root]


@pytest.fixture(scope="module")
def accounts_hub(tmp_path_factory, base_dir: Path) -> Iterator[tuple[RunningHub, Path]]:
    """A real Hub whose servers run as the users' own accounts, in homes under `homes`."""
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


def _server(hub: RunningHub, name: str) -> dict | None:
    return hub.admin().get(f"{hub.api_url}/users/{name}").json()["servers"].get("")


def _ready(hub: RunningHub, name: str) -> bool:
    return bool((_server(hub, name) or {}).get("ready"))


def test_a_student_with_no_home_waits_then_receives_it_once_their_server_starts_no_click(
    accounts_hub, make_students, upstream
):
    hub, homes = accounts_hub
    (student,) = make_students(1)  # a system account, and no home yet: never signed in
    ensure_users(hub, [student.name])
    env = {
        **real_hub_env(hub, hub.service_data_dir),
        "HUBCLASS_HOME_TEMPLATE": f"{homes}/{{username}}",
        "HUBCLASS_ALLOWED_REPO_URLS": "file://",
    }
    with contextmanager(_migrated)(env):  # the service's own database
        hw1 = assignment_for(f"first{student.name[-6:]}", upstream, [student])
        distribution = distribute(hw1, who=None).id
        db.session.commit()
        eventually(lambda: states(distribution) == {"waiting": 1}, "it waits for a home")
        home = homes / student.name
        assert not home.exists()

        browser = hub_login(hub, student.name)
        try:
            assert browser.get(f"{hub.url}/hub/spawn").ok  # the Hub's "Start My Server"
            eventually(lambda: _ready(hub, student.name), "the student's server runs", 90)
            assert os.lstat(home).st_uid == student.uid  # the Hub made it theirs
            eventually(lambda: states(distribution) == {"done": 1}, "it arrived by itself")
        finally:
            hub.admin().delete(f"{hub.api_url}/users/{student.name}/server")
            # Stopped before the account is removed (userdel refuses a user with processes).
            eventually(lambda: _server(hub, student.name) is None, "the server stopped")
    assert (home / "hw1" / "week1" / "notes.ipynb").is_file()
    assert owners(home / "hw1") == {student.uid}
