"""A student with no home waits; once they sign in and start a server, the Hub makes their home
(owned by their own account) and the waiting delivery runs by itself: no click.

The accounts Hub (tests/delivery/conftest.py), whose spawner starts servers as the students'
system accounts (the demo's when it runs as root), with Hubclass as its managed service running
as root.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

from app.delivery import distribute
from app.extensions import db
from demo.launch import RunningHub
from tests.conftest import _migrated, real_hub_env
from tests.delivery.kit import assignment_for, eventually, owners, states
from tests.hubusers import ensure_users, hub_login

pytestmark = [pytest.mark.hub, pytest.mark.root]


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
