"""The backup file and the restore's refusals, through the real command line, on SQLite and
PostgreSQL: 0600 whatever the umask, replaced whole, never over a database that holds data
(unless asked) or that a running Hubclass uses, and an older backup upgraded."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select

from app.audit.models import AuditEvent
from app.backup import postgres
from app.backup.errors import BackupError
from app.courses.models import Course
from app.extensions import db
from app.jobs import leases
from app.timeutil import utcnow
from tests.backup.kit import app_on, flask
from tests.conftest import REPO
from tests.delivery.kit import eventually

MEMBERS = {"hubclass-backup.json", "secret_key"}


def _course(slug: str) -> None:
    db.session.add(Course(slug=slug, title=slug.title(), hub_group=f"course-{slug}"))
    db.session.commit()


def _backed_up(plain_env, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A service with the course data100, and a backup of it taken by the real command."""
    env = plain_env("data")
    with app_on(env):
        _course("data100")
    saved = tmp_path / "saved.tar.gz"
    assert flask(env, "backup", str(saved)).returncode == 0
    return env, saved


def _slugs() -> list[str]:
    return sorted(db.session.scalars(select(Course.slug)))


def test_the_backup_file_is_0600_whatever_the_umask_and_replaces_an_older_one_whole(
    plain_env, tmp_path: Path
):
    env = plain_env("data")
    with app_on(env):
        _course("data100")
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o755)
    dest = backups / "hubclass.tar.gz"
    dest.write_text("yesterday's backup")
    dest.chmod(0o644)

    taken = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "backup", str(dest), "--json"],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        umask=0,  # an admin's shell that would make every file world-writable
        timeout=120,
    )
    assert taken.returncode == 0, taken.stderr
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    with tarfile.open(dest, "r:gz") as archive:
        names = {member.name for member in archive.getmembers()}
        assert {member.mode for member in archive.getmembers()} == {0o600}
        manifest = json.load(archive.extractfile("hubclass-backup.json"))
        key = archive.extractfile("secret_key").read()
    assert names == MEMBERS | {
        "database.sqlite" if manifest["database"] == "sqlite" else "database.pgdump"
    }
    assert key == (Path(env["HUBCLASS_DATA_DIR"]) / "secret_key").read_bytes()
    assert json.loads(taken.stdout)["path"] == str(dest)
    assert sorted(path.name for path in backups.iterdir()) == ["hubclass.tar.gz"]  # no scratch

    # A folder: a dated file in it, as private.
    dated = flask(env, "backup", str(backups), "--json")
    assert dated.returncode == 0, dated.stderr
    made = Path(json.loads(dated.stdout)["path"])
    assert made.parent == backups and made.name.startswith("hubclass-backup-")
    assert stat.S_IMODE(made.stat().st_mode) == 0o600

    # A folder named with a trailing slash that does not exist: said, and no file of its name.
    missing = tmp_path / "nightly"
    refused = flask(env, "backup", f"{missing}/")
    assert refused.returncode != 0
    assert f"There is no folder {missing}" in refused.stderr + refused.stdout
    assert not missing.exists()


def test_a_restore_never_replaces_a_database_with_data_unless_asked_nor_one_in_use(
    plain_env, tmp_path: Path
):
    env, saved = _backed_up(plain_env, tmp_path)
    with app_on(env):
        _course("later")  # made after the backup
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))

    refused = flask(env, "restore", str(saved))
    assert refused.returncode == 1
    assert "The database is not empty: it holds course (2)" in refused.stderr
    assert "--replace" in refused.stderr
    with app_on(env):
        assert _slugs() == ["data100", "later"]  # untouched
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
        # A Hubclass running on it (a worker's lease): refused even when asked to replace.
        assert leases.try_acquire("poll", "worker-of-a-running-service", 60)
    busy = flask(env, "restore", str(saved), "--replace")
    assert busy.returncode == 1
    assert "Hubclass is running on this database" in busy.stderr
    with app_on(env):
        assert _slugs() == ["data100", "later"]
        assert leases.release("poll", "worker-of-a-running-service")

    replaced = flask(env, "restore", str(saved), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    with app_on(env, migrated=False):
        assert _slugs() == ["data100"]  # the backup's, all of it

    # A fresh database that a service already set up (its tables, the Hub's users copied by
    # its poll): empty to a restore.
    fresh = plain_env("fresh")
    with app_on(fresh):
        leases.try_acquire("poll", "a-worker-that-stopped", 60)
        db.session.execute(
            leases.Lease.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    restored = flask(fresh, "restore", str(saved))
    assert restored.returncode == 0, restored.stderr
    with app_on(fresh, migrated=False):
        assert _slugs() == ["data100"]


def test_an_older_backup_is_upgraded_to_this_schema_when_restored(plain_env, tmp_path: Path):
    old = plain_env("old")
    with app_on(old, migrated=False):
        upgrade(revision="0009")  # a Hubclass before the audit log page's indexes
        _course("data100")
    saved = tmp_path / "saved.tar.gz"
    taken = flask(old, "backup", str(saved), "--json")
    assert taken.returncode == 0, taken.stderr
    assert json.loads(taken.stdout)["revision"] == "0009"

    new = plain_env("new")
    restored = flask(new, "restore", str(saved), "--json")
    assert restored.returncode == 0, restored.stderr
    done = json.loads(restored.stdout)
    assert (done["revision_before"], done["revision_now"]) == ("0009", "0010")
    with app_on(new, migrated=False):
        assert _slugs() == ["data100"]
        indexes = {index["name"] for index in inspect(db.engine).get_indexes("audit_event")}
        assert "ix_audit_event_action_id" in indexes


def _rewritten(saved: Path, dest: Path, **manifest_changes) -> Path:
    """A copy of the backup `saved` whose manifest says otherwise."""
    with tarfile.open(saved, "r:gz") as source, tarfile.open(dest, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "hubclass-backup.json":
                data = json.dumps({**json.loads(data), **manifest_changes}).encode()
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return dest


def test_a_backup_of_a_newer_hubclass_or_no_backup_at_all_is_refused_before_anything_changes(
    plain_env, tmp_path: Path
):
    _env, saved = _backed_up(plain_env, tmp_path)
    newer = _rewritten(saved, tmp_path / "newer.tar.gz", revision="0999")
    not_one = tmp_path / "notes.txt"
    not_one.write_text("not a backup\n")

    fresh = plain_env("fresh")
    refused = flask(fresh, "restore", str(newer))
    assert refused.returncode == 1
    assert "This backup's schema (0999) is of a newer Hubclass" in refused.stderr
    refused = flask(fresh, "restore", str(not_one))
    assert refused.returncode == 1
    assert "is not a Hubclass backup" in refused.stderr
    with app_on(fresh, migrated=False):
        assert inspect(db.engine).get_table_names() == []  # nothing was loaded


DAMAGES = [
    ({"database": "oracle"}, "database"),
    ({"taken_at": None}, "taken_at"),
    ({"taken_at": ["2026"]}, "taken_at"),
    ({"revision": 10}, "revision"),
    ({"secret_key": "yes"}, "secret_key"),
    ({"database": None, "taken_at": ""}, "database, taken_at"),
    ({"format": "custom", "database": "sqlite"}, "format"),
]


def test_a_damaged_manifest_is_refused_naming_its_field_before_anything_is_loaded(
    plain_env, tmp_path: Path
):
    _env, saved = _backed_up(plain_env, tmp_path)
    fresh = plain_env("fresh")
    for number, (changes, named) in enumerate(DAMAGES):
        damaged = _rewritten(saved, tmp_path / f"damaged-{number}.tar.gz", **changes)

        refused = flask(fresh, "restore", str(damaged))

        assert refused.returncode == 1, changes
        assert f"This backup's manifest is damaged (its {named})." in refused.stderr, changes
        assert "Traceback" not in refused.stderr
    with app_on(fresh, migrated=False):
        assert inspect(db.engine).get_table_names() == []


def test_the_newest_postgresql_tool_is_chosen_and_a_missing_one_named_with_its_package(
    tmp_path: Path, monkeypatch
):
    for version in ("9.6", "16", "13"):
        tool = tmp_path / version / "bin" / "pg_dump"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\n")
    monkeypatch.setattr(postgres, "DEBIAN_BIN", f"{tmp_path}/*/bin/{{name}}")
    assert postgres.find_tool("pg_dump") == str(tmp_path / "16" / "bin" / "pg_dump")

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackupError) as missing:
        postgres.find_tool("pg_restore")
    assert "PostgreSQL's pg_restore is not installed here" in missing.value.message
    assert "apt-get install postgresql-client" in missing.value.message


def test_a_backup_taken_while_the_service_writes_holds_whole_transactions_only(
    plain_env, tmp_path: Path
):
    """The copy is one moment's state: a writer commits events two by two all the while, and
    the restored database has every pair whole, some written before the backup, some after."""
    env = plain_env("data")
    stop = threading.Event()
    written = []

    def write_pairs(app) -> None:
        with app.app_context():
            while not stop.is_set():
                pair = f"pair-{len(written)}"
                db.session.add_all(
                    AuditEvent(actor="writer", action="x", target=pair) for _ in "ab"
                )
                db.session.commit()
                written.append(pair)
            db.session.remove()

    saved = tmp_path / "saved.tar.gz"
    with app_on(env) as app:
        writer = threading.Thread(target=write_pairs, args=(app,))
        writer.start()
        try:
            eventually(lambda: len(written) >= 20, "the writer writes")
            taken = flask(env, "backup", str(saved))
            at_end = len(written)
            eventually(lambda: len(written) > at_end, "the writer goes on after the backup")
        finally:
            stop.set()
            writer.join(60)
    assert taken.returncode == 0, taken.stderr

    fresh = plain_env("fresh")
    assert flask(fresh, "restore", str(saved)).returncode == 0
    with app_on(fresh, migrated=False):
        pairs = db.session.execute(
            select(AuditEvent.target, func.count())
            .where(AuditEvent.actor == "writer")
            .group_by(AuditEvent.target)
        ).all()
    assert pairs and {count for _, count in pairs} == {2}
    assert 20 <= len(pairs) < len(written)
