"""The one error type of the git layer: a stable code for programs, a message safe to show."""

from __future__ import annotations

from app.errors import HubclassError


class GitSyncError(HubclassError):
    """A git sync problem with a stable ``code`` and a ``message`` an instructor can read.

    The message never carries a traceback, a token or raw control characters; details go to logs.
    """

    title = "Git sync"
