"""A worker killed in the middle of a distribution, and the course's later students: the
service's own processes, the real Hub and real homes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app import courses
from app.delivery import distribute, distribution_json
from app.delivery.models import Delivery, Distribution
from app.delivery.states import State
from app.extensions import db
from app.jobs.models import Lease
from app.roster import imports
from app.timeutil import utcnow
from tests.delivery.kit import (
    assignment_for,
    assignment_of,
    eventually,
    leftovers,
    make_homes,
    owners,
    settled,
    states,
    worker_process,
    workers,
)
from tests.gitsync.conftest import repo_git
from tests.hubusers import roster_csv

pytestmark = [pytest.mark.hub, pytest.mark.root]


def busy(now) -> bool:
    """Some deliveries ended and some are running: the moment to kill the worker."""
    return now["done"] >= 3 and now["claimed"] > 0


def test_a_worker_killed_mid_distribution_then_restarted_ends_each_delivery_once_no_temp_left(
    hub_delivery_app, hub_delivery_env, homes: Path, make_students, upstream
):
    students = make_students(20)
    make_homes(homes, students)
    hw1 = assignment_for("killed", upstream, students)
    distribution = distribute(hw1, who=None)
    db.session.commit()
    env = {**hub_delivery_env, "HUBCLASS_DELIVERY_CONCURRENCY": "2", "HUBCLASS_POLL_SECONDS": "5"}

    first = worker_process(env)
    try:
        eventually(lambda: busy(states(distribution.id)), "some delivered, some running")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    interrupted = states(distribution.id)
    # Its leases (of its deliveries, and of their folders) would run out within a minute; as if
    # that minute had passed:
    db.session.execute(
        update(Delivery).where(Delivery.state == State.CLAIMED).values(lease_expires=utcnow())
    )
    db.session.execute(update(Lease).values(expires_at=utcnow()))
    db.session.commit()

    again = worker_process(env)
    try:
        eventually(lambda: settled(distribution.id), "the restarted worker finished")
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)

    assert states(distribution.id) == {"done": 20}
    per_student = db.session.execute(
        select(Delivery.username, func.count(Delivery.id)).group_by(Delivery.username)
    ).all()
    assert {count for _, count in per_student} == {1}
    attempts = db.session.scalars(select(Delivery.attempts)).all()
    assert set(attempts) <= {1, 2} and attempts.count(2) <= interrupted["claimed"]
    released = repo_git(upstream.bare, "rev-parse", "HEAD").strip()
    for student in students:
        home = homes / student.name
        assert leftovers(home) == []
        assert owners(home / "hw1") == {student.uid}
        assert repo_git(home / "hw1", "rev-parse", "HEAD").strip() == released
        # (--no-optional-locks: a plain status would refresh the index, as root.)
        assert repo_git(home / "hw1", "--no-optional-locks", "status", "--porcelain") == ""
    assert {d["commit"] for d in distribution_json(distribution)["deliveries"]} == {released}


def test_a_student_added_by_a_later_roster_import_receives_what_was_distributed(
    hub_delivery_app, homes: Path, make_students, upstream
):
    ann, ben, cat = make_students(3)
    make_homes(homes, [ann, ben, cat])
    course = courses.create_course(
        f"join{ann.name[-6:]}", "Joiners", who=None, group_members=lambda group: None
    )
    db.session.commit()

    def roster(*names: str) -> None:
        imports.import_file(
            course,
            roster_csv(list(names)),
            "roster.csv",
            actor="instructor",
            rule="email-local",
            remove="none",
            apply_now=True,
        )

    roster(ann.name, ben.name)
    hw1 = assignment_of(course, upstream)
    first = distribute(hw1, who=None)
    db.session.commit()
    with workers(hub_delivery_app, 1):
        eventually(lambda: states(first.id) == {"done": 2}, "the course delivered")
        roster(ann.name, ben.name, cat.name)  # cat joins; nobody distributes again

        def cats() -> list[tuple[str, str]]:
            rows = db.session.execute(
                select(Distribution.scope, Delivery.state)
                .join(Delivery.distribution)
                .where(Delivery.username == cat.name)
            ).all()
            db.session.commit()
            return [tuple(row) for row in rows]

        eventually(lambda: cats() == [("joined", "done")], "cat got it by herself")
    assert (homes / cat.name / "hw1" / "week1" / "notes.ipynb").is_file()
    assert owners(homes / cat.name / "hw1") == {cat.uid}
    assert states(first.id) == {"done": 2}  # the others are not delivered to again
