"""Named leases on SQLite and PostgreSQL: one holder at a time; the caller's work untouched."""

from __future__ import annotations

from sqlalchemy import func, select

from app.courses.models import Course
from app.extensions import db
from app.jobs import leases
from app.jobs.models import Lease
from tests.jobs.together import run_together


def test_a_lease_has_one_holder_until_it_expires(app):
    assert leases.try_acquire("job", "a", 60)
    assert not leases.try_acquire("job", "b", 60)
    assert leases.try_acquire("job", "a", 60)  # renewing is fine
    assert leases.try_acquire("other", "b", 60)
    assert leases.try_acquire("short", "a", -1)  # already expired
    assert leases.try_acquire("short", "b", 60)


def test_a_released_lease_can_be_taken_at_once_but_only_its_holder_releases_it(app):
    assert leases.try_acquire("job", "a", 60)
    assert not leases.release("job", "b")
    assert not leases.try_acquire("job", "b", 60)
    assert leases.release("job", "a")
    assert leases.try_acquire("job", "b", 60)
    assert db.session.get(Lease, "job").holder == "b"


def test_taking_a_lease_neither_commits_nor_rolls_back_the_callers_changes(any_db_app):
    db.session.scalar(select(func.count(Course.id)))  # the caller's transaction is open
    db.session.add(Course(slug="pending", title="p", hub_group="course-pending"))
    assert leases.try_acquire("job", "a", 60)
    assert leases.release("job", "a")
    assert leases.try_acquire("job", "a", 60)
    assert db.session.new  # still pending: not flushed, committed or dropped by the lease
    db.session.rollback()
    assert db.session.scalar(select(func.count(Course.id))) == 0
    assert db.session.get(Lease, "job").holder == "a"  # the lease was committed on its own

    db.session.add(Course(slug="kept", title="k", hub_group="course-kept"))
    assert not leases.try_acquire("job", "b", 60)  # a refusal rolls nothing back either
    db.session.commit()
    assert db.session.scalars(select(Course.slug)).all() == ["kept"]


def test_many_threads_racing_for_one_lease_get_one_winner(any_db_app):
    app = any_db_app
    winners: list[str] = []

    def contender(name: str) -> None:
        if leases.try_acquire("race", name, 60):
            winners.append(name)

    run_together(app, [f"p{i}" for i in range(8)], contender)
    assert len(winners) == 1
    # The winner renews; the others still cannot take it.
    assert leases.try_acquire("race", winners[0], 60)
    assert not leases.try_acquire("race", "latecomer", 60)
