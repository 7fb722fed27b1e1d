"""UTC time in one place, so tests can move the clock, and the one way times are written out."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC (naive, as stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso_z(moment: datetime, timespec: str = "auto") -> str:
    """Write a naive UTC time as ISO 8601 with a "Z", for JSON and <time datetime="...">.

    `timespec` as in datetime.isoformat(): the dashboard's times are to the second, the other
    outputs keep the microseconds they always had.
    """
    return moment.isoformat(timespec=timespec) + "Z"
