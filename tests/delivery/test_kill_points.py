"""`kill -9` of the worker at 20 random points of a 100-student distribution (issue 13, item 2).

Real `flask --app wsgi worker` processes, real system accounts and homes, real git, on SQLite and
on PostgreSQL. Each kill is one of two kinds: the worker process alone (the syncs it had started
run on in their own sessions, as the students, and end by themselves), or the worker with every
process it started (its fork server, the syncs as the students and their git), as systemd kills
a unit's whole control group. The points are drawn from a seeded random generator: the seed is
printed, and `HUBCLASS_TEST_KILL_SEED=<seed>` replays the same points.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.delivery import distribute
from app.delivery.models import Delivery
from app.delivery.states import State
from app.extensions import db
from app.jobs.models import Lease
from app.timeutil import utcnow
from tests.conftest import REPO, _migrated, real_hub_env
from tests.delivery.conftest import delivery_env
from tests.delivery.kit import (
    as_students,
    assignment_for,
    delivered_once,
    eventually,
    leftovers,
    make_homes,
    processes,
    with_delivery_only,
)
from tests.gitsync.conftest import Student, _make_user, _remove_user, repo_git

pytestmark = [pytest.mark.hub, pytest.mark.root]

STUDENTS = 100
KILLS = 20


@pytest.fixture(scope="module")
def hundred() -> Iterator[list[Student]]:
    """A hundred real system accounts, made once for both databases (useradd costs)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create real users")
    made: list[Student] = []
    try:
        made.extend(_make_user("hck") for _ in range(STUDENTS))
        yield made
    finally:
        for student in made:
            _remove_user(student)


@pytest.fixture
def kill_env(hub, tmp_path: Path, homes: Path, shared_database) -> dict[str, str]:
    data = tmp_path / "data"
    return {
        **delivery_env(homes, data, real_hub_env(hub, data)),
        **shared_database,
        "PATH": os.environ["PATH"],
        "HUBCLASS_DELIVERY": "home",
        "HUBCLASS_DELIVERY_CONCURRENCY": "4",
    }


@pytest.fixture
def kill_app(kill_env: dict[str, str]):
    for application in _migrated(kill_env):
        with_delivery_only(application)
        yield application


def _kill(worker: subprocess.Popen, everything: bool, uids: set[int]) -> None:
    """SIGKILL the worker; `everything`: its children and every sync as a student too."""
    children = [pid for pid, parent, _ in processes() if parent == worker.pid]
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    if everything:
        for pid in children + as_students(uids):
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)


class Watch:
    """The distribution's rows as committed now; every poll checks that a delivery, once
    ended, is never written again (its state, commit, outcome and end time stay)."""

    def __init__(self, distribution_id: int):
        self.distribution_id = distribution_id
        self.ended: dict[int, tuple] = {}

    def now(self) -> Counter[str]:
        rows = db.session.execute(
            select(
                Delivery.id,
                Delivery.state,
                Delivery.commit,
                Delivery.outcome,
                Delivery.finished_at,
            ).where(Delivery.distribution_id == self.distribution_id)
        ).all()
        db.session.commit()
        for row in rows:
            if row.state in (State.QUEUED, State.CLAIMED):
                assert row.id not in self.ended, f"delivery {row.id} ran again after it ended"
                continue
            seen = self.ended.setdefault(row.id, tuple(row))
            assert seen == tuple(row), f"delivery {row.id}'s result was written twice"
        return Counter(row.state for row in rows)


BEFORE_RESULTS = "before its first result (starting, claiming, first syncs)"
BETWEEN_RESULTS = "between results it wrote, syncs running"


def _phase(done_before: int, done_now: int) -> str:
    """Where the worker `pid` is in its run: results written since it started, or none."""
    return BEFORE_RESULTS if done_now == done_before else BETWEEN_RESULTS


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_worker_killed_at_twenty_random_points_of_a_hundred_students_ends_each_once(
    kill_app, kill_env, homes: Path, hundred: list[Student], upstream, tmp_path: Path
):
    seed = int(os.environ.get("HUBCLASS_TEST_KILL_SEED") or secrets.randbits(32))
    print(f"kill points: HUBCLASS_TEST_KILL_SEED={seed}")
    rng = random.Random(seed)
    make_homes(homes, hundred)
    # Each student's own work in their home, which must stay byte for byte.
    for student in hundred:
        (homes / student.name / "mine.txt").write_bytes(f"{student.name}'s own\n".encode())
    hw1 = assignment_for("killpoints", upstream, hundred)
    distribution = distribute(hw1, who=None)
    db.session.commit()
    watch = Watch(distribution.id)
    uids = {student.uid for student in hundred}
    # Spread over the whole run: kill once this many deliveries ended (a point the last run
    # already passed kills the next worker while it starts and claims), a moment later.
    points = sorted(rng.sample(range(STUDENTS - 5), KILLS))
    log = tmp_path / "workers.log"
    started = time.monotonic()
    hits = []
    for point in points:
        before = watch.now()["done"]
        worker = _worker(kill_env, log)
        eventually(lambda p=point: watch.now()["done"] >= p, f"{point} deliveries done", 120)
        time.sleep(rng.uniform(0, 0.15))
        everything = rng.random() < 0.5
        hits.append(_phase(before, watch.now()["done"]))
        _kill(worker, everything, uids)
        # As if the claims' minute had passed: the syncs the worker left end first (as they
        # would within that minute), then its leases (the deliveries', the folders') expire.
        eventually(lambda: not as_students(uids), "the killed worker's syncs ended")
        db.session.execute(
            update(Delivery).where(Delivery.state == State.CLAIMED).values(lease_expires=utcnow())
        )
        db.session.execute(update(Lease).values(expires_at=utcnow()))
        db.session.commit()
    print("killed:", Counter(hits))
    last = _worker(kill_env, log)
    try:
        eventually(lambda: watch.now()["done"] == STUDENTS, "every delivery done", 120)
    finally:
        last.send_signal(signal.SIGTERM)
        last.wait(60)
    print(f"{STUDENTS} students, {KILLS} kills: {time.monotonic() - started:.1f} s")
    assert BETWEEN_RESULTS in hits, "no kill fell while deliveries ran"

    assert watch.now() == {"done": STUDENTS}
    rows = db.session.scalars(select(Delivery)).all()
    assert len({row.username for row in rows}) == len(rows) == STUDENTS
    released = repo_git(upstream.bare, "rev-parse", "HEAD").strip()
    assert {row.commit for row in rows} == {released}
    assert all(row.lease_holder is None and row.lease_expires is None for row in rows)
    # No folder's lease is held: the runs that delivered gave theirs back, and what a killed
    # worker left has run out (a row it never gave back stays, expired, until the next take).
    left = db.session.scalars(select(Lease).where(Lease.name.like("workspace-%"))).all()
    assert len(left) <= KILLS and all(lease.expires_at <= utcnow() for lease in left)
    for student in hundred:
        home = homes / student.name
        # The folder, the student's file and the engine's lock file (an flock's, kept): no
        # temporary folder, no copy moved aside.
        assert leftovers(home) == []
        assert sorted(entry.name for entry in home.iterdir()) == [
            ".hw1.hubclass.lock",
            "hw1",
            "mine.txt",
        ]
        assert (home / "mine.txt").read_bytes() == f"{student.name}'s own\n".encode()
        delivered_once(home, student.uid, released)
