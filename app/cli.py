"""`flask --app wsgi ...`: every feature's commands, registered in one place."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import Flask


def fail(message: str) -> NoReturn:
    """End a command with the message on stderr and exit status 1."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def init_app(app: Flask) -> None:
    from .activity.cli import poll_command, status_command
    from .assignments.cli import assignment_cli
    from .backup.cli import backup_command, restore_command
    from .courses.cli import course_cli
    from .delivery.cli import distribute_command, reset_command
    from .gitsync.cli import gitsync_command
    from .jobs.cli import worker_command
    from .roster.cli import roster_cli

    app.cli.add_command(course_cli)
    app.cli.add_command(roster_cli)
    app.cli.add_command(assignment_cli)
    app.cli.add_command(status_command)
    app.cli.add_command(poll_command)
    app.cli.add_command(gitsync_command, "gitsync")
    app.cli.add_command(worker_command)
    app.cli.add_command(distribute_command)
    app.cli.add_command(reset_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
