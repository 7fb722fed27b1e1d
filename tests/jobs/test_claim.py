"""Claiming queue rows, on SQLite and PostgreSQL: each row to one worker, none lost.

No queue table of the app exists yet, so these tests make one of their own, on a MetaData of
their own: the app's models (and the migration drift test) never see it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, update

from app.extensions import db
from app.jobs.claim import CLAIMED, QUEUED, Queue
from tests.jobs.together import run_together

test_metadata = MetaData()
items = Table(
    "test_queue_item",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("state", String(16), nullable=False, default=QUEUED),
    Column("lease_holder", String(128)),
    Column("lease_expires", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
)
queue = Queue(items)


@pytest.fixture
def rows(any_db_app):
    """Make the test queue table with `count` queued rows; return a function that does so."""
    test_metadata.create_all(db.engine)

    def make(count: int) -> list[int]:
        with db.engine.begin() as connection:
            connection.execute(insert(items), [{"state": QUEUED} for _ in range(count)])
            return list(connection.scalars(select(items.c.id).order_by(items.c.id)))

    yield make
    test_metadata.drop_all(db.engine)


def _row(row_id: int) -> tuple[str, str | None, int]:
    with db.engine.connect() as connection:
        found = connection.execute(
            select(items.c.state, items.c.lease_holder, items.c.attempts).where(
                items.c.id == row_id
            )
        ).one()
    return found.state, found.lease_holder, found.attempts


def test_a_claim_takes_up_to_n_queued_rows_and_marks_them_with_its_holder(rows):
    ids = rows(5)
    first = queue.claim("w1", limit=3, lease_seconds=60)
    second = queue.claim("w1", limit=3, lease_seconds=60)
    assert first.ids == ids[:3]
    assert second.ids == ids[3:]  # its own batch only, though the holder is the same
    assert queue.claim("w2", limit=3, lease_seconds=60).ids == []
    state, holder, attempts = _row(ids[0])
    assert (state, holder, attempts) == (CLAIMED, first.token, 1)
    assert first.token.startswith("w1/")


def test_many_workers_claiming_at_once_never_share_a_row_and_lose_none(rows, any_db_app):
    app = any_db_app
    ids = rows(120)
    claimed: list[int] = []

    def worker(name: str) -> None:
        while batch := queue.claim(name, limit=7, lease_seconds=60).ids:
            claimed.extend(batch)

    run_together(app, [f"w{i}" for i in range(8)], worker)
    assert [i for i, n in Counter(claimed).items() if n > 1] == []
    assert sorted(claimed) == ids
    with db.engine.connect() as connection:
        attempts = connection.scalars(select(items.c.attempts).distinct()).all()
    assert attempts == [1]


def test_a_row_whose_lease_expired_is_claimed_again_and_its_first_worker_has_lost_it(rows):
    (row_id,) = rows(1)
    crashed = queue.claim("crashed", limit=1, lease_seconds=-1)  # its lease is already over
    again = queue.claim("w2", limit=1, lease_seconds=60)
    assert again.ids == [row_id]
    assert _row(row_id) == (CLAIMED, again.token, 2)
    assert queue.heartbeat(crashed, 60) == []  # too late: another worker has it
    assert queue.heartbeat(again, 60) == [row_id]


def test_a_heartbeat_keeps_the_lease_of_a_slow_worker(rows):
    (row_id,) = rows(1)
    slow = queue.claim("slow", limit=1, lease_seconds=-1)
    assert queue.heartbeat(slow, 60) == [row_id]  # renewed before anyone else came
    assert queue.claim("w2", limit=1, lease_seconds=60).ids == []
    assert _row(row_id) == (CLAIMED, slow.token, 1)


def test_finished_rows_are_never_claimed_even_with_an_old_lease(rows):
    ids = rows(2)
    with db.engine.begin() as connection:
        connection.execute(
            update(items)
            .where(items.c.id == ids[0])
            .values(state="done", lease_holder="gone", lease_expires=datetime(2000, 1, 1))
        )
    assert queue.claim("w1", limit=5, lease_seconds=60).ids == [ids[1]]
