"""The one error type of the git layer: a stable code for programs, a message safe to show."""

from __future__ import annotations

from app.errors import HubclassError


class GitSyncError(HubclassError):
    """A git sync problem with a stable ``code`` and a ``message`` an instructor can read.

    The message never carries a traceback, a token or raw control characters; details go to logs.
    """

    title = "Git sync"


def printable(value: object, limit: int = 200) -> str:
    """Return ``value`` as a short one-line text with control characters escaped."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
