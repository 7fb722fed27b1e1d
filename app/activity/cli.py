"""`flask --app wsgi status COURSE` and `poll`: the dashboard and the Hub poll for scripts."""

from __future__ import annotations

import json

import click
from flask import current_app

from app import courses
from app.cli import fail
from app.hub import HubError, hub_client
from app.jobs import registry

from . import students as dashboard
from .poller import poll_once


@click.command("status")
@click.argument("course")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_command(course: str, as_json: bool) -> None:
    """Show who of COURSE has logged in, is active now, and runs a server."""
    try:
        found = courses.get_course(course, who=None)
    except courses.CourseError as e:
        fail(e.message)
    rows = dashboard.students(found)
    columns = dashboard.with_assignments(found, rows)
    for why in registry(current_app).elsewhere.values():
        click.echo(why, err=True)  # e.g. deliveries need a root worker; not in the JSON
    if as_json:
        data = {
            "course": found.slug,
            "assignments": [c.to_json() for c in columns],
            "students": [r.to_json() for r in rows],
        }
        click.echo(json.dumps(data))
        return
    c = dashboard.counts(rows)
    click.echo(
        f"{found.slug}: {c.enrolled} enrolled, {c.logged_in} logged in, {c.never} never, "
        f"{c.active} active now, {c.running} servers running"
    )
    for r in rows:
        last = dashboard.ago(r.last_activity)
        click.echo(f"{r.username}\t{r.name}\t{r.section or ''}\t{last}\t{r.server}")


@click.command("poll")
def poll_command() -> None:
    """Copy the Hub's users and activity into the database once, then exit."""
    try:
        result = poll_once(hub_client())
    except HubError as e:
        fail(e.message)
    click.echo(f"Polled {result.users} Hub users; {result.new_logins} first logins recorded.")
