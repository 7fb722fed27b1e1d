"""Named leases in the database: one process of many runs a periodic job at a time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import Lease
from .timeutil import utcnow


def try_acquire(name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease `name` for `seconds`; False when another holder has it."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    # One conditional UPDATE: atomic on SQLite and PostgreSQL alike.
    result = db.session.execute(
        update(Lease)
        .where(Lease.name == name, (Lease.expires_at < now) | (Lease.holder == holder))
        .values(holder=holder, expires_at=expires)
    )
    # An UPDATE gives a CursorResult, which has the row count.
    taken = result.rowcount  # type: ignore[attr-defined]
    if taken:
        db.session.commit()
        return True
    if db.session.get(Lease, name) is not None:
        db.session.rollback()
        return False
    db.session.add(Lease(name=name, holder=holder, expires_at=expires))
    try:
        db.session.commit()
    except IntegrityError:  # another process inserted it first
        db.session.rollback()
        return False
    return True
