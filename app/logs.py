"""Hubclass's log lines are bounded: a value from outside (a roster cell, a username, git's
stderr, a Hub error body) can make a line long, never endless (SECURITY.md, attack 17).

Values are logged with %r, so a newline stays escaped on its one line; this cuts the whole
message of every record of Hubclass's loggers (`app`, `app.*`) past MAX_MESSAGE characters and
says how much was cut. A record factory, not a handler's filter: it holds whichever handlers
log the records (basicConfig's, gunicorn's, a test's), and for every module's logger.
"""

from __future__ import annotations

import logging

MAX_MESSAGE = 2000


def cut(message: str, limit: int = MAX_MESSAGE) -> str:
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... ({len(message) - limit} more characters cut)"


def _ours(name: str) -> bool:
    return name == "app" or name.startswith("app.")


def install() -> None:
    """Cut long messages of Hubclass's records, once per process (create_app calls it)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "hubclass_bounded", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _ours(record.name):
            try:
                message = record.getMessage()
            except Exception:
                return record  # a format that does not fit its args: the handler says so
            if len(message) > MAX_MESSAGE:
                record.msg, record.args = cut(message), None
        return record

    factory.hubclass_bounded = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
