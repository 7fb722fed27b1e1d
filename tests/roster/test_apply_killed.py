"""A roster apply whose process is killed half-way (the service restarted mid-apply, issue 13
item 3): the accounts it had made on the Hub are still known as Hubclass's, the import says
what reached the Hub, and applying again converges.

A real `flask --app wsgi roster import --apply` process, the real Hub behind a fault injector
that holds the call adding the course's members (after the accounts were made) until the
process is killed with SIGKILL, as a restart kills a request in flight.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.actions import ACCOUNTS_MADE
from app.audit.models import AuditEvent
from app.courses import CLI_ACTOR
from app.extensions import db
from app.roster.models import HubAccount, ImportStatus, RosterImport
from tests.conftest import REPO, _migrated, real_hub_env, run_flask
from tests.faultyhub import FaultyHub
from tests.hubusers import hub_group, roster_csv

pytestmark = pytest.mark.hub


def test_an_apply_killed_after_making_accounts_keeps_them_hubclasss_and_a_rerun_converges(
    hub, hub_users_made, tmp_path: Path
):
    slug = f"cut{secrets.token_hex(3)}"
    names = [f"{slug}s{i}" for i in range(6)]
    hub_users_made.extend(names)
    env = {"PATH": os.environ["PATH"], **real_hub_env(hub, tmp_path / "data")}
    assert run_flask(env, "db", "upgrade").returncode == 0
    assert run_flask(env, "course", "create", slug).returncode == 0
    roster = tmp_path / "roster.csv"
    roster.write_bytes(roster_csv(names))

    held, killed = threading.Event(), threading.Event()

    def rule(number, method, path):
        if method == "POST" and path.startswith(f"/hub/api/groups/course-{slug}/users"):
            held.set()
            killed.wait(60)  # the call never answers: the process dies waiting
            return "reset"
        return None

    with FaultyHub(hub.api_url, rule) as faulty:
        cut = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "roster", "import", slug,
             str(roster), "--apply"],
            cwd=REPO,
            env={**env, "JUPYTERHUB_API_URL": faulty.url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert held.wait(60), "the apply never reached the course's group"
        finally:
            cut.send_signal(signal.SIGKILL)
            cut.wait()
            killed.set()
    made = hub.admin().get(f"{hub.api_url}/users", params={"name_filter": slug}).json()
    assert sorted(user["name"] for user in made) == names  # the accounts were made, then cut

    again = run_flask(env, "roster", "import", slug, str(roster), "--apply", "--json")
    assert again.returncode == 0, again.stderr
    assert hub_group(hub, f"course-{slug}") == names
    listed = hub.admin().get(f"{hub.api_url}/users", params={"name_filter": slug}).json()
    assert sorted(user["name"] for user in listed) == names  # none twice

    for _ in _migrated(env):
        accounts = db.session.scalars(select(HubAccount).where(HubAccount.username.in_(names)))
        # Still Hubclass's own (a later roster may delete them), with the Hub's created time.
        by_name = {account.username: account.hub_created for account in accounts}
        assert sorted(by_name) == names
        created = {user["name"]: user["created"] for user in listed}
        assert all(by_name[name] == created[name] for name in names)
        first, second = db.session.scalars(select(RosterImport).order_by(RosterImport.id)).all()
        # The cut import says what reached the Hub (and that applying it again finishes it).
        assert first.status == ImportStatus.PARTIAL
        assert first.results == {name: "created" for name in names}
        assert second.status == ImportStatus.APPLIED
        assert set(second.results.values()) == {"added"}
        # The audit log names every account the cut apply made, by whom and from which file.
        (made_log,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == ACCOUNTS_MADE)
        ).all()
        assert made_log.detail["students"] == names
        assert (made_log.actor, made_log.target) == (CLI_ACTOR, roster.name)
        assert made_log.detail["import_id"] == first.id
