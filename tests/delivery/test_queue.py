"""The delivery queue: one delivery at a time per folder, leases that a dead worker loses,
and many workers sharing one queue on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from app.assignments.models import Assignment
from app.courses.models import Course
from app.delivery import distribute, distribution_json, worker
from app.delivery.models import Delivery
from app.delivery.service import queue_deliveries
from app.delivery.states import State
from app.delivery.worker import MAX_ATTEMPTS, QUEUE, Result, handle_batch, record
from app.extensions import db
from app.gitsync import SyncReport
from app.jobs import Registry, runner
from app.roster.models import Enrollment
from tests.delivery.kit import (
    assignment_for,
    eventually,
    make_homes,
    settled,
    states,
    workers,
)


def _queue(names: list[str]) -> list[int]:
    """Queue one delivery per name of an assignment nobody will sync (the work is a fake)."""
    course = Course(slug="queue", title="queue", hub_group="course-queue")
    assignment = Assignment(
        course=course, slug="hw", title="hw", repo_url="file:///nowhere", target="hw"
    )
    db.session.add_all([course, assignment])
    distribution = queue_deliveries(
        assignment, names, scope="users", detail={"users": None}, created_by=None
    )
    db.session.commit()
    return list(
        db.session.scalars(select(Delivery.id).where(Delivery.distribution_id == distribution.id))
    )


def _with_handler(app, perform) -> None:
    """The app's workers run the delivery queue with `perform` as the work of one delivery."""
    work = app.extensions["hubclass.jobs"] = Registry()
    work.register_queue("deliveries", partial(handle_batch, perform=perform))


@pytest.mark.root
def test_two_distributions_of_one_assignment_at_once_never_overlap_on_a_workspace(
    app, homes: Path, make_students, upstream
):
    students = make_students(4)
    make_homes(homes, students)
    hw1 = assignment_for("overlap", upstream, students)
    first = distribute(hw1, who=None)
    db.session.commit()
    first_id = first.id  # read here: the session is this thread's
    # The first distribution's syncs are held open until the second one has come and tried.
    gate = threading.Event()
    second_ran: list[str] = []
    first_in: list[str] = []  # in their folders: past the claim, the triage and the lease

    def held_open(job, context):
        if job.distribution_id == first_id:
            first_in.append(job.username)
            gate.wait(60)
        else:
            second_ran.append(job.username)
        return worker.deliver(job, context)

    _with_handler(app, held_open)
    app.config["HUBCLASS_DELIVERY_CONCURRENCY"] = 2
    with workers(app, 3):
        try:
            eventually(lambda: len(first_in) == 4, "the first one's all running")
            second = distribute(hw1, who=None)
            db.session.commit()

            def turned_back() -> bool:
                rows = distribution_json(second)["deliveries"]
                return any(d["waiting_for"] == worker.FOLDER_BUSY for d in rows)

            eventually(turned_back, "a delivery of the second found its folder busy")
            assert second_ran == []  # claimed, and given back: none ran beside the first's
        finally:
            gate.set()
        eventually(lambda: settled(first_id) and settled(second.id), "both ended")

    assert states(first.id) == {"done": 4}
    assert states(second.id) == {"done": 4}
    runs = db.session.execute(
        select(Delivery.username, Delivery.started_at, Delivery.finished_at).order_by(
            Delivery.username, Delivery.started_at
        )
    ).all()
    by_student: dict[str, list] = {}
    for name, started, finished in runs:
        by_student.setdefault(name, []).append((started, finished))
    for name, (one, two) in by_student.items():
        assert one[1] <= two[0], f"two deliveries ran at once in {name}'s folder"
    assert {d["waiting_for"] for d in distribution_json(second)["deliveries"]} == {None}


def test_heartbeats_keep_a_long_delivery_leased_so_no_other_worker_takes_it(app, monkeypatch):
    monkeypatch.setattr(worker, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.1)
    (delivery_id,) = _queue(["ann"])
    release = threading.Event()
    ran: list[int] = []

    def slow(job, context) -> Result:
        ran.append(job.id)
        release.wait(60)
        return Result(State.DONE, "unchanged")

    _with_handler(app, slow)

    def lease_expires():
        found = db.session.scalar(select(Delivery.lease_expires).where(Delivery.id == delivery_id))
        db.session.commit()
        return found

    with workers(app, 1):
        try:
            eventually(lambda: ran == [delivery_id], "the delivery started")
            first = lease_expires()
            # Renewed again and again, well past the first lease's end:
            eventually(lambda: (lease_expires() - first).total_seconds() > 1.5, "renewed")
            assert QUEUE.claim("other", limit=1, lease_seconds=60).ids == []
        finally:
            release.set()
        eventually(lambda: states(distribution_of(delivery_id)) == {"done": 1}, "it ended")
    assert ran == [delivery_id]
    assert db.session.get(Delivery, delivery_id).attempts == 1


def test_a_worker_that_lost_its_lease_cannot_record_over_the_new_holder(app):
    (delivery_id,) = _queue(["ann"])
    dead = QUEUE.claim("dead", limit=1, lease_seconds=-1)  # its lease ran out at once
    alive = QUEUE.claim("alive", limit=1, lease_seconds=60)
    assert alive.ids == [delivery_id]
    assert not record(dead, delivery_id, Result(State.FAILED, error="too late"))
    row = db.session.get(Delivery, delivery_id)
    assert (row.state, row.lease_holder, row.error) == (State.CLAIMED, alive.token, None)
    assert record(alive, delivery_id, Result(State.DONE, "unchanged", "c0ffee"))
    db.session.expire_all()
    assert (row.state, row.commit, row.attempts) == (State.DONE, "c0ffee", 2)


def test_a_delivery_whose_worker_died_too_often_is_given_up_with_a_reason(app):
    (delivery_id,) = _queue(["ann"])
    db.session.execute(update(Delivery).values(attempts=MAX_ATTEMPTS))
    db.session.commit()
    ran: list[int] = []
    assert handle_batch("w0", perform=lambda job, context: ran.append(job.id)) == 1
    assert ran == []
    row = db.session.get(Delivery, delivery_id)
    assert row.state == State.FAILED
    assert row.error.startswith(f"Given up after {MAX_ATTEMPTS} attempts")


def test_four_workers_claim_1000_deliveries_and_each_runs_exactly_once(any_db_app, caplog):
    app = any_db_app
    ids = _queue([f"s{i:04d}" for i in range(1000)])
    ran: list[int] = []

    def count(job, context) -> Result:
        ran.append(job.id)  # the work itself is a fake: only how often it runs counts
        return Result(State.DONE, "unchanged")

    _with_handler(app, count)
    caplog.set_level(logging.WARNING)
    with workers(app, 4):
        eventually(lambda: states(distribution_of(ids[0])) == {"done": 1000}, "all 1000 ran")
    assert sorted(ran) == ids
    assert [i for i, n in Counter(ran).items() if n > 1] == []
    rows = db.session.execute(select(Delivery.attempts, Delivery.error)).all()
    assert set(rows) == {(1, None)}
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in problems if "locked" in m or "failed" in m], problems


def test_a_worker_told_to_stop_finishes_what_it_holds_and_claims_no_more(app):
    # SIGTERM to `flask worker`, or a web process ending: what it started ends and is
    # recorded; the rest stays queued for the next worker, with no claim to wait out.
    ids = _queue([f"t{i}" for i in range(6)])
    app.config["HUBCLASS_DELIVERY_CONCURRENCY"] = 2
    worker = runner.Worker(app, "stopping")
    ran: list[int] = []

    def perform(job, context) -> Result:
        ran.append(job.id)
        worker.halt()  # told to stop while it holds its first two
        return Result(State.DONE, "unchanged")

    assert handle_batch(worker.name, perform=perform) == 2
    assert len(ran) == 2 and set(ran) <= set(ids)
    assert states(distribution_of(ids[0])) == {"done": 2, "queued": 4}  # none left claimed


def test_a_slot_that_frees_takes_the_next_delivery_while_a_slow_one_still_runs(app):
    ids = _queue([f"s{i}" for i in range(6)])
    gate = threading.Event()
    ran: list[int] = []

    def perform(job, context) -> Result:
        if job.id == ids[0]:
            gate.wait(60)  # the slowest of the first two
        else:
            ran.append(job.id)
        return Result(State.DONE, "unchanged")

    _with_handler(app, perform)
    app.config["HUBCLASS_DELIVERY_CONCURRENCY"] = 2
    with workers(app, 1):
        try:
            # Batch by batch, the second slot would wait for the first one's end.
            eventually(lambda: sorted(ran) == ids[1:], "the other five ran beside the slow one")
        finally:
            gate.set()
        eventually(lambda: states(distribution_of(ids[0])) == {"done": 6}, "all six ended")


def test_a_claim_that_fails_while_deliveries_run_goes_on_renewing_their_leases(app, monkeypatch):
    monkeypatch.setattr(worker, "LEASE_SECONDS", 0.5)
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.1)
    ids = _queue(["ann", "bob", "cyd"])
    gate = threading.Event()

    def perform(job, context) -> Result:
        if job.id == ids[0]:
            gate.wait(60)  # a long sync
        return Result(State.DONE, "unchanged")

    claim = QUEUE.claim
    calls: list[int] = []

    def claim_once_then_fail(holder, limit, lease_seconds):
        calls.append(limit)
        if len(calls) > 1:  # the refill's claim, once bob's slot freed
            raise OperationalError("claim", {}, Exception("database is locked"))
        return claim(holder, limit=limit, lease_seconds=lease_seconds)

    monkeypatch.setattr(QUEUE, "claim", claim_once_then_fail)
    app.config["HUBCLASS_DELIVERY_CONCURRENCY"] = 2

    def run() -> None:
        with app.app_context():
            handle_batch("w0", perform=perform)

    batch = threading.Thread(target=run)
    batch.start()
    try:
        eventually(lambda: len(calls) > 1, "the refill's claim failed")
        time.sleep(1.5)  # three leases' length
        assert claim("other", limit=3, lease_seconds=60).ids == [ids[2]]  # ann's still held
    finally:
        gate.set()
        batch.join(60)
    db.session.expire_all()
    assert db.session.get(Delivery, ids[0]).state == State.DONE  # recorded by its holder


def test_work_queued_in_this_process_wakes_its_resting_worker_at_once(app, monkeypatch):
    monkeypatch.setattr(runner, "IDLE_SECONDS", 120.0)  # no poll would find it in this test
    ran: list[int] = []

    def perform(job, context) -> Result:
        ran.append(job.id)
        return Result(State.DONE, "unchanged")

    _with_handler(app, perform)
    with workers(app, 1):
        time.sleep(0.5)  # it found the queue empty and rests
        ids = _queue(["ann"])  # woken by the commit, not before it
        eventually(lambda: ran == ids, "the resting worker took the new delivery", timeout=30)


def distribution_of(delivery_id: int) -> int:
    return db.session.get(Delivery, delivery_id).distribution_id


def test_a_folder_its_student_keeps_locked_ends_in_attention_and_never_starves_the_queue(app):
    """The workspace lock file is the student's own: holding it must not stall other students."""
    course = Course(slug="starve", title="Starve", hub_group="course-starve")
    held = [
        Assignment(course=course, slug=f"hw{i}", title="x", repo_url="file:///n", target=f"hw{i}")
        for i in range(4)
    ]
    other = Assignment(course=course, slug="other", title="x", repo_url="file:///n", target="o")
    db.session.add_all([course, *held, other])
    for assignment in held:
        queue_deliveries(assignment, ["mallory"], scope="users", detail={}, created_by=None)
    victim = queue_deliveries(other, ["alice"], scope="users", detail={}, created_by=None)
    db.session.commit()
    runs: Counter[str] = Counter()

    def perform(job, context):
        runs[job.username] += 1
        if job.username == "mallory":  # the engine waited for the lock, in vain
            busy = SyncReport.problem("failed", "workspace_busy", "The folder is busy.")
            return worker.from_report(busy, None)
        return Result(State.DONE, "cloned", None, {})

    for _ in range(5):
        handle_batch("w0", perform=perform)
    assert runs == {"mallory": 4, "alice": 1}
    rows = db.session.execute(select(Delivery.username, Delivery.state, Delivery.error)).all()
    assert {(name, state) for name, state, _ in rows} == {
        ("mallory", State.ATTENTION),
        ("alice", State.DONE),
    }
    assert all(error == worker.SYNC_BUSY for name, _, error in rows if name == "mallory"), rows
    assert distribution_json(victim)["done"] == 1


def test_a_student_taken_off_the_roster_after_the_distribution_gets_nothing(app):
    ann, bob = _queue(["ann", "bob"])
    course = db.session.get(Delivery, ann).assignment.course
    db.session.add_all(
        [
            Enrollment(course=course, username="ann", active=False),  # dropped since
            Enrollment(course=course, username="bob"),
        ]
    )
    db.session.commit()
    seen: list[str] = []

    def perform(job, context) -> Result:
        seen.append(job.username)
        return worker.deliver(job, context)  # bob's: no home here, so he waits

    handle_batch("w0", perform=perform)
    db.session.expire_all()
    dropped, kept = db.session.get(Delivery, ann), db.session.get(Delivery, bob)
    assert (dropped.state, dropped.error) == (State.FAILED, worker.NOT_ENROLLED)
    assert kept.error != worker.NOT_ENROLLED and kept.state != State.FAILED, kept.error
