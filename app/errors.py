"""The one base type of every error Hubclass shows to a person or a program.

Pure on purpose (no Flask): the git engine and the roster core raise these too.
"""

from __future__ import annotations

from typing import ClassVar


class HubclassError(Exception):
    """A refusal or failure with a stable `code` (for programs), a `message` safe to show (it
    says what to fix, never a traceback or a secret) and the HTTP status it answers with.

    A feature's subclass names its page title and its statuses per code; every other code
    answers `http_status`.
    """

    title: ClassVar[str] = "Hubclass"
    http_status: int = 400
    statuses: ClassVar[dict[str, int]] = {}

    def __init__(self, code: str, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or self.statuses.get(code, type(self).http_status)

    @property
    def public_code(self) -> str:
        """The code as the API's JSON and the logs show it."""
        return self.code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"
