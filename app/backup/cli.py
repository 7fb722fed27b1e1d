"""`flask --app wsgi backup DEST` and `flask --app wsgi restore SRC`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from app.cli import fail

from . import postgres, service
from .errors import BackupError


@click.command("backup")
@click.argument("dest", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(postgres.FORMATS),
    default="custom",
    show_default=True,
    help="PostgreSQL only: pg_dump's format (custom: read by pg_restore; plain: SQL for psql).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def backup_command(dest: str, fmt: str, as_json: bool) -> None:
    """Write a backup of the database and the session key to DEST (a file, or a folder to
    put a dated one in), 0600, while the service runs."""
    try:
        taken = service.backup(service.destination_of(dest), fmt)
    except BackupError as e:
        fail(e.message)
    except OSError as e:  # a folder it may not write in, a full disk
        fail(f"The backup could not be written: {e.strerror} ({e.filename or dest})")
    if as_json:
        click.echo(json.dumps({**asdict(taken), "path": str(taken.path)}))
        return
    click.echo(f"Backup of the {taken.database} database written to {taken.path}")
    if not taken.secret_key:
        click.echo(
            "The session key is HUBCLASS_SECRET_KEY, not a file of the data dir: keep it with "
            "your configuration (without it, everyone signs in again after a restore)."
        )


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace a database that holds data (every course, roster and delivery in it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def restore_command(src: Path, replace: bool, as_json: bool) -> None:
    """Restore the backup SRC into this service's database (a fresh one, unless --replace),
    upgrade its schema, and queue again the deliveries that were running when it was taken.
    Stop the service and its workers first; start them after."""
    try:
        restored = service.restore(src, replace=replace)
    except BackupError as e:
        fail(e.message)
    except OSError as e:
        fail(f"The backup could not be restored: {e.strerror} ({e.filename or src})")
    if as_json:
        click.echo(json.dumps(asdict(restored)))
        return
    click.echo(f"Restored the backup taken at {restored.taken_at}.")
    if restored.revision_before != restored.revision_now:
        click.echo(f"Schema upgraded from {restored.revision_before} to {restored.revision_now}.")
    click.echo(
        f"{restored.requeued} deliveries that were running are queued again; those that "
        "ended after the backup run again too (a folder that has the commit is left as it is)."
    )
    click.echo("Start the service and its workers.")
