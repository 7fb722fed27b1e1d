"""Named leases in the database: one process of many runs a periodic job at a time.

Each call runs in its own short transaction on its own connection, so it never commits nor rolls
back what the caller's session has pending. On SQLite that connection waits for the database's
one writer: call these before the caller's session has flushed writes, not in the middle.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.timeutil import utcnow

from .models import Lease


def try_acquire(name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease `name` for `seconds`; False when another holder has it."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    # One conditional UPDATE: atomic on SQLite and PostgreSQL alike.
    with db.engine.begin() as connection:
        taken = connection.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.expires_at < now) | (Lease.holder == holder))
            .values(holder=holder, expires_at=expires)
        ).rowcount
    if taken:
        return True
    # No row to take: either nobody ever held it (insert it) or someone holds it now, in which
    # case the primary key refuses the insert, as it does when another process inserts first.
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(Lease).values(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False
    return True


def release(name: str, holder: str) -> bool:
    """Give the lease `name` up if `holder` has it, so another may take it at once."""
    with db.engine.begin() as connection:
        released = connection.execute(
            delete(Lease).where(Lease.name == name, Lease.holder == holder)
        ).rowcount
    return bool(released)


def forget_all() -> int:
    """Drop every lease; return how many. Only for a database no process uses (just restored
    from a backup): its holders were processes of another run."""
    with db.engine.begin() as connection:
        return connection.execute(delete(Lease)).rowcount


def held_until() -> datetime | None:
    """When the last lease still held runs out (None: none is held now): a process uses the
    database."""
    with db.engine.connect() as connection:
        return connection.scalar(
            select(func.max(Lease.expires_at)).where(Lease.expires_at > utcnow())
        )
