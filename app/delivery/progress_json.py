"""The progress JSON: a distribution's counts per state and one entry per student, as
`distribute --json` prints it, GET /api/v1/distributions/<id> answers, and the progress page's
script asks for it every second while deliveries run.

That last one makes it the service's most frequent request (bench/load.py: half of the busy
workers' time went to it, most of that decoding the engine's reports of 500 deliveries for
their one line of words). So it reads columns, not mapped objects, and each ended delivery's
report only once per process: an ended delivery's result is written once, its report with its
`finished_at` (worker.record()), and never claimed again, so (database, id, finished_at) names
its words for good.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.timeutil import iso_z

from . import words
from .models import RESET, Delivery, Distribution
from .states import State, shown

ROW_COLUMNS = (
    Delivery.id,
    Delivery.username,
    Delivery.kind,
    Delivery.state,
    Delivery.outcome,
    Delivery.commit,
    Delivery.error,
    Delivery.waiting_for,
    Delivery.way,
    Delivery.started_at,
    Delivery.finished_at,
    Delivery.paths,
)
# The states whose words come from the engine's report.
FROM_REPORT = frozenset({State.DONE, State.ATTENTION, State.FAILED})
# Words kept per process: a few distributions of a 2000-student course.
KEPT = 20_000
# Reports read per query (well under every database's limit of bound parameters).
CHUNK = 500


class _Words:
    """Ended deliveries' words by (database, id, finished_at), the oldest dropped first."""

    def __init__(self, size: int = KEPT) -> None:
        self._size = size
        self._said: OrderedDict[tuple[str, int, datetime], str] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threads share it

    def get(self, key: tuple[str, int, datetime]) -> str | None:
        with self._lock:
            found = self._said.get(key)
            if found is not None:
                self._said.move_to_end(key)
            return found

    def put(self, key: tuple[str, int, datetime], said: str) -> None:
        with self._lock:
            self._said[key] = said
            while len(self._said) > self._size:
                self._said.popitem(last=False)


_kept = _Words()


def entry(row: Any, said: str, report: Any = None) -> dict[str, Any]:
    """One delivery (a row of ROW_COLUMNS) in the JSON; `report` only for a reset (what was
    put back, and where the student's copies went)."""
    _, username, kind, state, outcome, commit, error, waiting_for, way, started, finished, paths = (
        row
    )
    found: dict[str, Any] = {
        "username": username,
        "kind": kind,
        "state": shown(state),
        "outcome": outcome,
        "commit": commit,
        "error": error,
        "waiting_for": waiting_for,
        # The outcome in the instructor's words, as the pages show it.
        "said": said,
        # "home" or "server" once it reached the student (None before), and that in words.
        "way": way,
        "way_said": words.way(way),
        "started_at": iso_z(started) if started else None,
        "finished_at": iso_z(finished) if finished else None,
    }
    if kind == RESET:
        found.update(paths=paths, report=report)
    return found


def distribution_json(distribution: Distribution) -> dict[str, Any]:
    """The distribution's progress: counts per state and one entry per student."""
    rows = list(
        db.session.execute(
            select(*ROW_COLUMNS)
            .where(Delivery.distribution_id == distribution.id)
            .order_by(Delivery.username, Delivery.id)
        )
    )
    database = db.engine.url.render_as_string(hide_password=True)
    said: dict[int, str] = {}
    unread: list[int] = []
    for row in rows:
        if row.state not in FROM_REPORT:
            said[row.id] = words.said(row.state, None, row.error, row.waiting_for)
            continue
        known = _kept.get((database, row.id, row.finished_at)) if row.finished_at else None
        if known is None or row.kind == RESET:
            unread.append(row.id)
        else:
            said[row.id] = known
    reports = _reports(unread)
    for row in rows:
        if row.id not in said:
            finished_at, report = reports.get(row.id, (None, None))
            said[row.id] = words.said(row.state, report, row.error, row.waiting_for)
            # Kept only when the report read is the result the row showed (it always is: an
            # ended delivery is never written again; a restore aside).
            if row.finished_at is not None and finished_at == row.finished_at:
                _kept.put((database, row.id, row.finished_at), said[row.id])
    counts = Counter(shown(row.state) for row in rows)
    assignment = distribution.assignment
    return {
        "distribution": distribution.id,
        "course": assignment.course.slug,
        "assignment": assignment.slug,
        "scope": distribution.scope,
        "created_at": distribution.created_at.isoformat() + "Z",
        "created_by": distribution.created_by,
        "total": len(rows),
        **{shown(state): counts.get(shown(state), 0) for state in State},
        "deliveries": [
            entry(row, said[row.id], reports.get(row.id, (None, None))[1]) for row in rows
        ],
    }


def _reports(ids: list[int]) -> dict[int, tuple[datetime | None, Any]]:
    """The reports of deliveries `ids`, each with the finished_at it was written with."""
    found: dict[int, tuple[datetime | None, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for row in db.session.execute(
            select(Delivery.id, Delivery.finished_at, Delivery.report).where(Delivery.id.in_(chunk))
        ):
            found[row.id] = (row.finished_at, row.report)
    return found
