"""UTC time in one place, so tests can move the clock."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC (naive, as stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None)
