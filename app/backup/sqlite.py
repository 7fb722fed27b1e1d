"""SQLite's online backup API: a consistent copy of a live database (WAL: the service's writers
go on meanwhile), never a copy of its file, which may miss what its -wal file still holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL

from .errors import BackupError

# As long as the service's own busy timeout: a writer in the middle of a commit is waited for.
BUSY_SECONDS = 10.0


def database_path(url: URL) -> Path:
    """The database file of a SQLite URL (a URI filename or an in-memory database has none)."""
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        raise BackupError(
            "sqlite_path", f"The SQLite database {name or ':memory:'!r} is not a plain file."
        )
    return Path(name)


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # pages=-1: in one step, under one read transaction, so the copy is one moment's state
    # (in several steps SQLite starts over whenever another connection writes in between).
    source.backup(target, pages=-1)


def dump(path: Path, dest: Path) -> None:
    """Copy the live database at `path` into the new file `dest`, then check the copy."""
    if not path.is_file():
        raise BackupError("sqlite_missing", f"There is no database at {path}.")
    source = sqlite3.connect(path, timeout=BUSY_SECONDS)
    target = sqlite3.connect(dest)
    try:
        _copy(source, target)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
        checked = target.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        target.close()
        source.close()
    if checked != "ok":
        raise BackupError("sqlite_corrupt", f"The copy of {path} is damaged: {checked}")


def restore(src: Path, path: Path) -> None:
    """Replace the database at `path` with the copy `src`, in one transaction of its own."""
    source = sqlite3.connect(src)
    try:
        checked = source.execute("PRAGMA quick_check").fetchone()[0]
        if checked != "ok":
            raise BackupError("sqlite_corrupt", f"The backup's database is damaged: {checked}")
        target = sqlite3.connect(path, timeout=BUSY_SECONDS)
        try:
            _copy(source, target)
        finally:
            target.close()
    finally:
        source.close()
