"""Claiming rows of a queue table: each row is worked on by one worker at a time.

A queue table has an integer `id` and the columns `state`, `lease_holder`, `lease_expires` and
`attempts`. A worker claims rows that are queued, or that another worker claimed and stopped
renewing (it crashed or hangs): their lease expired, so they go back to being claimable. While
it works, a worker sends heartbeats that extend its leases; when it is done it sets the row's
state to one of its own (done, failed...), which nobody claims again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, and_, case, or_, select, update

from app.extensions import db
from app.timeutil import utcnow

QUEUED = "queued"
CLAIMED = "claimed"


@dataclass(frozen=True)
class Claim:
    """The rows one claim took: their ids, and the token that marks them as this claim's."""

    ids: list[int]
    token: str
    expires: datetime


class Queue:
    """The claim and heartbeat of one queue table (e.g. `Queue(Delivery.__table__)`)."""

    def __init__(self, table: Table):
        self.table = table
        self.c = table.c

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            self.c.state == QUEUED,
            and_(self.c.state == CLAIMED, self.c.lease_expires < now),
        )

    def claim(self, holder: str, limit: int, lease_seconds: float) -> Claim:
        """Claim up to `limit` claimable rows for `holder`, leased for `lease_seconds`."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        # A token of this claim alone, so the SELECT below finds this batch and no rows the
        # same holder claimed before.
        token = f"{holder}/{uuid.uuid4().hex[:12]}"
        candidates = select(self.c.id).where(self._claimable(now)).order_by(self.c.id).limit(limit)
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Rows another worker is claiming right now are skipped, not waited for. In a
                # materialized CTE the LIMIT holds: as a plain IN subquery, PostgreSQL may run
                # the locking SELECT more than once and claim more rows than asked.
                chosen = select(
                    candidates.with_for_update(skip_locked=True)
                    .cte("claimable")
                    .prefix_with("MATERIALIZED")
                    .c.id
                )
            else:
                # On SQLite the UPDATE takes the database's one write lock before it reads, so
                # its subquery and the update see the same rows.
                chosen = candidates
            connection.execute(
                update(self.table)
                .where(self.c.id.in_(chosen.scalar_subquery()), self._claimable(now))
                .values(
                    state=CLAIMED,
                    lease_holder=token,
                    lease_expires=expires,
                    attempts=self.c.attempts + 1,
                )
            )
            ids = connection.scalars(
                select(self.c.id).where(self.c.lease_holder == token).order_by(self.c.id)
            ).all()
        return Claim(ids=list(ids), token=token, expires=expires)

    def heartbeat(self, claim: Claim, lease_seconds: float) -> list[int]:
        """Extend the lease of the claim's rows; return the ids still held (lost ones are not)."""
        expires = utcnow() + timedelta(seconds=lease_seconds)
        held = and_(
            self.c.id.in_(claim.ids), self.c.lease_holder == claim.token, self.c.state == CLAIMED
        )
        with db.engine.begin() as connection:
            connection.execute(update(self.table).where(held).values(lease_expires=expires))
            ids = connection.scalars(select(self.c.id).where(held).order_by(self.c.id)).all()
        return list(ids)

    def release_all(self) -> int:
        """Put every claimed row back in the queue, as if its attempt never started; return
        how many. Only for a database no worker uses (just restored from a backup): the
        claims in it are of processes of another run, which will never renew or end them."""
        with db.engine.begin() as connection:
            return connection.execute(
                update(self.table)
                .where(self.c.state == CLAIMED)
                .values(
                    state=QUEUED,
                    lease_holder=None,
                    lease_expires=None,
                    attempts=case((self.c.attempts > 0, self.c.attempts - 1), else_=0),
                )
            ).rowcount
