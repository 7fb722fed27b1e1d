"""The Hub and its managed service restarted in the middle of a distribution, with several
gunicorn workers (each with its worker thread) and two `flask --app wsgi worker` processes on
one database (issue 13, item 3).

A Hub of this test's own (the session's Hub is shared): Hubclass as its managed service, as
`make demo` runs it, delivering into this test's homes as root. The restart is the admin's
(`systemctl restart jupyterhub`, `tljh-config reload hub`): the Hub stops with its process
group (the service's gunicorn and its worker threads die mid-delivery) and starts again on
the same state and the same public port. The instructor's session cookie from before is still
good afterwards, in every gunicorn worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, update

from app.delivery import distribute
from app.delivery.models import Delivery
from app.delivery.states import State
from app.extensions import db
from app.jobs.models import Lease
from app.timeutil import utcnow
from demo.launch import RunningHub, start_hub
from tests.conftest import REPO, _migrated, real_hub_env
from tests.delivery.kit import (
    assignment_for,
    delivered_once,
    eventually,
    make_homes,
    processes,
    states,
)
from tests.gitsync.conftest import repo_git
from tests.hubusers import sign_in

pytestmark = [pytest.mark.hub, pytest.mark.root]

STUDENTS = 40


def _hub(state: Path, env: dict[str, str], port: int | None = None) -> RunningHub:
    return start_hub(state, port=port, extra_env=env)


def _gunicorn_workers(hub: RunningHub) -> list[int]:
    master = int((hub.service_data_dir / "gunicorn.pid").read_text())
    return sorted(pid for pid, parent, _ in processes() if parent == master)


def _from_each_worker(hub: RunningHub, session: requests.Session, path: str) -> list[int]:
    """GET `path` with `session` once from each gunicorn worker (the others stopped for that
    moment, so the one left must answer); return the statuses."""
    workers = _gunicorn_workers(hub)
    statuses = []
    for answering in workers:
        others = [pid for pid in workers if pid != answering]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            page = session.get(hub.service_url + path, allow_redirects=False, timeout=30)
            statuses.append(page.status_code)
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)
    return statuses


def _flask_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _descendants(roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent, _ in processes():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


@pytest.fixture
def own_hub_env(tmp_path: Path, homes: Path, shared_database) -> dict[str, str]:
    return {
        "HUBCLASS_DATA_DIR": str(tmp_path / "hub" / "hubclass"),
        "HUBCLASS_HOME_TEMPLATE": f"{homes}/{{username}}",
        "HUBCLASS_ALLOWED_REPO_URLS": "file://",
        "HUBCLASS_DELIVERY": "home",
        "HUBCLASS_WORKERS": "1",
        "HUBCLASS_POLL_SECONDS": "1",
        **shared_database,
    }


@pytest.fixture
def own_hub(tmp_path: Path, own_hub_env) -> Iterator[list[RunningHub]]:
    """The test's Hub, in a list: the restart puts the new one in its place."""
    running = [_hub(tmp_path / "hub", own_hub_env)]
    try:
        yield running
    finally:
        running[-1].stop()


def test_the_hub_and_service_restarted_mid_distribution_resume_and_keep_instructors_signed_in(
    own_hub, own_hub_env, homes: Path, make_students, upstream, tmp_path: Path
):
    hub = own_hub[0]
    students = make_students(STUDENTS)
    make_homes(homes, students)
    env = {
        "PATH": os.environ["PATH"],
        **real_hub_env(hub, hub.service_data_dir),
        **own_hub_env,
    }
    session, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    # Every gunicorn worker answers with that session (and starts its worker thread).
    assert len(_gunicorn_workers(hub)) >= 2
    assert set(_from_each_worker(hub, session, "")) == {200}

    with contextmanager(_migrated)(env):
        hw1 = assignment_for("restarted", upstream, students)
        distribution = distribute(hw1, who=None)
        db.session.commit()
        log = tmp_path / "workers.log"
        flask_workers = [_flask_worker(env, log) for _ in range(2)]
        try:
            web = set(_gunicorn_workers(hub))

            def web_claims() -> int:
                held = db.session.scalars(
                    select(Delivery.lease_holder).where(Delivery.state == State.CLAIMED)
                ).all()
                db.session.commit()
                return sum(1 for h in held if h and int(h.split(":")[1]) in web)

            eventually(
                lambda: states(distribution.id)["done"] >= 2 and web_claims() > 0,
                "the web's worker threads deliver beside the two flask workers",
            )
            hub.stop()  # the restart: gunicorn and its worker threads die mid-delivery
            left = states(distribution.id)
            hub = _hub(hub.state, own_hub_env, port=hub.port)
            own_hub.append(hub)
            # The dead threads' claims, and any folder lease, run out within a minute; as if
            # it had passed, once the syncs they had started (orphans now) ended by themselves.
            live = {w.pid for w in flask_workers} | set(_gunicorn_workers(hub))
            uids = {s.uid for s in students}

            def orphans() -> list[int]:
                mine = _descendants(live)
                return [p for p, _, uid in processes() if uid in uids and p not in mine]

            eventually(lambda: not orphans(), "the dead workers' syncs ended")
            dead = [
                d.id
                for d in db.session.scalars(select(Delivery).where(Delivery.state == State.CLAIMED))
                if not _alive(int(d.lease_holder.split(":")[1]))
            ]
            db.session.execute(
                update(Delivery).where(Delivery.id.in_(dead)).values(lease_expires=utcnow())
            )
            db.session.execute(
                update(Lease).where(Lease.name.like("workspace-%")).values(expires_at=utcnow())
            )
            db.session.commit()

            # Signed in still, in each of the new gunicorn workers.
            assert set(_from_each_worker(hub, session, "")) == {200}
            assert set(_from_each_worker(hub, session, "status")) == {200}
            eventually(lambda: states(distribution.id) == {"done": STUDENTS}, "converged", 120)
        finally:
            for worker in flask_workers:
                worker.send_signal(signal.SIGTERM)
            for worker in flask_workers:
                worker.wait(60)
        print(f"at the restart: {dict(left)}; {len(web)} gunicorn workers; dead claims: {dead}")
        assert left["done"] < STUDENTS, "the distribution had ended before the restart"

        per_student = db.session.execute(
            select(Delivery.username, func.count(Delivery.id)).group_by(Delivery.username)
        ).all()
        assert len(per_student) == STUDENTS and {count for _, count in per_student} == {1}
        released = repo_git(upstream.bare, "rev-parse", "HEAD").strip()
        rows = db.session.scalars(select(Delivery)).all()
        assert {row.commit for row in rows} == {released}
        assert all(row.lease_holder is None for row in rows)
        for student in students:
            delivered_once(homes / student.name, student.uid, released)
