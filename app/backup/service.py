"""A backup of everything Hubclass cannot rebuild, taken while it runs, and its restore.

A backup is one gzip'd tar file, 0600 (it holds every roster and the audit log):
`hubclass-backup.json` (what it is: the database, its format, the schema revision, when),
the database (a SQLite copy made with SQLite's backup API, or a pg_dump) and the session key
file of the data dir, so instructors stay signed in after a restore. The git mirrors of the
data dir are not in it: the workers fetch them again.

A restore loads it into a fresh database (it refuses one that holds courses, rosters or
deliveries unless told to replace them), upgrades the schema to this Hubclass's, and puts the
deliveries that were running when the backup was taken back in the queue: their workers were
processes of the old run. Those that ended after the backup run again, and the sync engine's
idempotence makes that converge (a folder that has the commit is left unchanged).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import URL

from app import audit
from app.audit.actions import RESTORE
from app.courses.service import CLI_ACTOR
from app.delivery.models import Delivery
from app.delivery.states import State
from app.delivery.worker import QUEUE
from app.extensions import db
from app.jobs import leases
from app.timeutil import iso_z, utcnow

from . import postgres, sqlite
from .errors import BackupError

MANIFEST = "hubclass-backup.json"
KIND = "hubclass-backup"
VERSION = 1
KEY_FILE = "secret_key"
# The database's member in the archive, per format.
DATABASE_FILES = {"sqlite": "database.sqlite", "custom": "database.pgdump", "plain": "database.sql"}
# The formats each database's backup is written in.
FORMATS = {"sqlite": ("sqlite",), "postgresql": ("custom", "plain")}
# Tables the poller copies from the Hub again within a minute, and the leases of running
# processes: a database holding only these is empty to a restore (the new service ran once).
NOT_DATA = frozenset({"alembic_version", "lease", "hub_user_state", "activity_sample"})


@dataclass(frozen=True)
class Taken:
    """What `backup` wrote."""

    path: Path
    database: str
    format: str
    revision: str | None
    secret_key: bool


@dataclass(frozen=True)
class Restored:
    """What `restore` did."""

    taken_at: str
    revision_before: str | None
    revision_now: str | None
    requeued: int
    secret_key: bool


def _url() -> URL:
    return db.engine.url


def _backend() -> str:
    name = _url().get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError("backend", f"Backups of a {name} database are not supported.")
    return name


def _revision() -> str | None:
    with db.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _data_dir() -> Path:
    return Path(current_app.config["HUBCLASS_DATA_DIR"])


def _key_from_file() -> bytes | None:
    """The data dir's session key file, when it is the key in use (not HUBCLASS_SECRET_KEY)."""
    try:
        key = (_data_dir() / KEY_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return key if key.decode().strip() == current_app.config["SECRET_KEY"] else None


@contextmanager
def _scratch(beside: Path) -> Iterator[Path]:
    """A private (0700) folder beside `beside`, on its file system, removed after."""
    folder = Path(tempfile.mkdtemp(prefix=".hubclass-backup-", dir=beside))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _add(archive: tarfile.TarFile, name: str, data: bytes | Path) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o600
    info.mtime = int(utcnow().timestamp())
    if isinstance(data, Path):
        info.size = data.stat().st_size
        with data.open("rb") as f:
            archive.addfile(info, f)
    else:
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))


def destination_of(given: str) -> Path:
    """DEST as typed: a trailing slash means a folder, which must exist (else a file of that
    name would be written, and replaced by every later backup)."""
    path = Path(given)
    if given.endswith(("/", os.sep)) and not path.is_dir():
        raise BackupError(
            "dest", f"There is no folder {path} to write the backup in: make it (0700) first."
        )
    return path


def destination(dest: Path) -> Path:
    """The backup's file: `dest`, or a new dated name in it when it is a folder."""
    if dest.is_dir():
        return dest / f"hubclass-backup-{utcnow():%Y%m%dT%H%M%SZ}.tar.gz"
    if not dest.parent.is_dir():
        raise BackupError("dest", f"There is no folder {dest.parent} to write the backup in.")
    return dest


def backup(dest: Path, fmt: str = "custom") -> Taken:
    """Write a backup of the running service to `dest` (a file, replaced whole only once the
    new one is complete, or a folder to write a dated one in)."""
    backend = _backend()
    fmt = "sqlite" if backend == "sqlite" else fmt
    if fmt not in DATABASE_FILES:
        raise BackupError("format", f"pg_dump's format is custom or plain, not {fmt!r}.")
    path = destination(dest)
    revision = _revision()
    key = _key_from_file()
    with _scratch(path.parent) as scratch:
        copy = scratch / DATABASE_FILES[fmt]
        if backend == "sqlite":
            sqlite.dump(sqlite.database_path(_url()), copy)
        else:
            postgres.dump(_url(), copy, fmt)
        manifest = {
            "kind": KIND,
            "version": VERSION,
            "database": backend,
            "format": fmt,
            "revision": revision,
            "taken_at": iso_z(utcnow()),
            "secret_key": key is not None,
        }
        partial = scratch / "backup.tar.gz"
        # 0600 from its first byte: it holds every roster, the audit log, the session key.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w:gz") as archive:
            _add(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
            _add(archive, copy.name, copy)
            if key is not None:
                _add(archive, KEY_FILE, key)
        os.replace(partial, path)
    return Taken(path, backend, fmt, revision, key is not None)


# -- restore -------------------------------------------------------------------------------------


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    # By name only, never extracted as the archive says: a crafted file could name any path.
    try:
        info = archive.getmember(name)
    except KeyError:
        raise BackupError("not_backup", f"The backup has no {name}.") from None
    found = archive.extractfile(info) if info.isfile() else None
    if found is None:
        raise BackupError("not_backup", f"The backup's {name} is not a file.")
    return found


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        manifest = json.load(_member(archive, MANIFEST))
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise BackupError("not_backup", "This is not a Hubclass backup.")
    if manifest.get("version") != VERSION or manifest.get("format") not in DATABASE_FILES:
        raise BackupError(
            "backup_version", "This backup was written by a newer Hubclass: restore it there."
        )
    # Every field the restore reads, checked before anything is loaded: a damaged or edited
    # manifest is refused with its field named, never a traceback after the database changed.
    damaged = [
        name
        for name, fits in (
            ("database", manifest.get("database") in FORMATS),
            ("format", manifest["format"] in _formats_of(manifest.get("database"))),
            ("revision", manifest.get("revision") is None or _is_text(manifest["revision"])),
            ("taken_at", _is_text(manifest.get("taken_at"))),
            ("secret_key", isinstance(manifest.get("secret_key", False), bool)),
        )
        if not fits
    ]
    if damaged:
        raise BackupError(
            "not_backup", f"This backup's manifest is damaged (its {', '.join(damaged)})."
        )
    return manifest


def _formats_of(database: Any) -> tuple[str, ...]:
    """The formats a backup of `database` is written in (any, when that is unknown)."""
    return FORMATS.get(database if isinstance(database, str) else "", tuple(DATABASE_FILES))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable()


def _known_revision(revision: str | None) -> None:
    """Refuse a backup whose schema this Hubclass does not know (a newer one's): its database
    could not be upgraded, nor read."""
    if revision is None:
        return
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    try:
        script.get_revision(revision)
    except (CommandError, ResolutionError):
        raise BackupError(
            "backup_version",
            f"This backup's schema ({revision}) is of a newer Hubclass than this one: restore "
            "it with that version (or newer).",
        ) from None


def holdings() -> dict[str, int]:
    """The database's tables that hold data, with their row counts (empty: a fresh one)."""
    held = {}
    with db.engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            if name in NOT_DATA:
                continue
            table = db.Table(name, db.MetaData(), autoload_with=connection)
            count = connection.scalar(select(func.count()).select_from(table))
            if count:
                held[name] = count
    return held


def _in_use() -> datetime | None:
    """Until when a process holds a lease in this database (None: none does now)."""
    now = utcnow()
    with db.engine.connect() as connection:
        if not inspect(connection).has_table("lease"):
            return None
        claims = connection.scalar(
            select(func.max(Delivery.lease_expires)).where(
                Delivery.state == State.CLAIMED, Delivery.lease_expires > now
            )
        )
    named = leases.held_until()
    return max((when for when in (claims, named) if when is not None), default=None)


def _refuse_unless_free(replace: bool) -> None:
    busy = _in_use()
    if busy is not None:
        raise BackupError(
            "in_use",
            f"Hubclass is running on this database, or stopped less than a minute ago (a "
            f"worker's lease runs until {iso_z(busy)}): stop the service and every `flask "
            "--app wsgi worker`, then restore once that time has passed.",
        )
    held = holdings()
    if held and not replace:
        listed = ", ".join(f"{name} ({count})" for name, count in sorted(held.items()))
        raise BackupError(
            "not_empty",
            f"The database is not empty: it holds {listed}. Restore into a fresh database, or "
            "give --replace to put the backup in place of all of it.",
        )


def _clear_schema() -> None:
    """Drop every table of a database holding no data (its schema may be newer than the
    backup's: the restore's tables would meet those)."""
    with db.engine.begin() as connection:
        db.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _write_key(key: bytes) -> None:
    """Put the backup's session key in the data dir (0600, the service account's)."""
    path = _data_dir() / KEY_FILE
    fd, partial = tempfile.mkstemp(prefix=".secret_key-", dir=_data_dir())  # 0600
    with os.fdopen(fd, "wb") as f:
        owner = current_app.config.get("DATA_DIR_OWNER")
        if owner:
            os.fchown(f.fileno(), *owner)
        f.write(key)
    os.replace(partial, path)


def restore(src: Path, *, replace: bool = False) -> Restored:
    """Load the backup `src` into this service's database, upgrade it, requeue what ran."""
    backend = _backend()
    try:
        archive = tarfile.open(src, mode="r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError("not_backup", f"{src} is not a Hubclass backup: {exc}") from None
    with archive, _scratch(_data_dir()) as scratch:
        manifest = _read_manifest(archive)
        if manifest["database"] != backend:
            raise BackupError(
                "other_database",
                f"This is a backup of a {manifest['database']} database, and this Hubclass "
                f"uses {backend}: restore it into {manifest['database']}.",
            )
        if manifest["format"] == "plain":
            raise BackupError(
                "plain_by_hand",
                "This backup holds plain SQL, which psql would run with the rights of the "
                "account restoring it (a `\\!` line runs a shell): read it, then restore it by "
                "hand (docs/deploy.md), or take backups in the custom format (the default).",
            )
        _known_revision(manifest.get("revision"))
        _refuse_unless_free(replace)
        copy = scratch / DATABASE_FILES[manifest["format"]]
        with copy.open("wb") as f:
            shutil.copyfileobj(_member(archive, copy.name), f)
        key = _member(archive, KEY_FILE).read() if manifest.get("secret_key") else None
        if backend == "sqlite":
            db.engine.dispose()  # no connection of ours holds the file while it is replaced
            sqlite.restore(copy, sqlite.database_path(_url()))
        else:
            if not holdings():
                _clear_schema()
            postgres.restore(_url(), copy)
        db.engine.dispose()
    before = _revision()
    upgrade()  # a backup of an older Hubclass gets this one's schema
    requeued = QUEUE.release_all()
    leases.forget_all()
    # HUBCLASS_SECRET_KEY set: the key is the admin's configuration's, not the data dir's.
    key_back = key is not None and not os.environ.get("HUBCLASS_SECRET_KEY")
    if key is not None and key_back:
        _write_key(key)
    done = Restored(manifest["taken_at"], before, _revision(), requeued, key_back)
    audit.record(
        CLI_ACTOR,
        RESTORE,
        target=src.name,
        taken_at=done.taken_at,
        revision_before=done.revision_before,
        revision_now=done.revision_now,
        requeued=requeued,
    )
    db.session.commit()
    return done
