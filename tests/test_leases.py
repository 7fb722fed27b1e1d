"""Leases under contention, on SQLite and PostgreSQL: exactly one holder at a time."""

from __future__ import annotations

import threading

from app import leases
from app.extensions import db


def test_many_threads_racing_for_one_lease_get_one_winner(any_db_app):
    app = any_db_app
    winners: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def contender(name: str) -> None:
        with app.app_context():
            try:
                start.wait()
                if leases.try_acquire("race", name, 60):
                    winners.append(name)
            except BaseException as e:  # collected: a failed thread must fail the test
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=contender, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(winners) == 1
    # The winner renews; the others still cannot take it.
    assert leases.try_acquire("race", winners[0], 60)
    assert not leases.try_acquire("race", "latecomer", 60)
