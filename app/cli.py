"""`flask --app wsgi ...` commands: the same services as the pages, for cron and scripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from . import courses
from .extensions import db
from .gitsync.cli import gitsync_command
from .jobs.cli import worker_command

course_cli = AppGroup("course", help="Create and list courses.")

# The CLI acts as the machine's administrator; audit events say so.
CLI_ACTOR = courses.CLI_ACTOR


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@course_cli.command("create")
@click.argument("slug")
@click.option("--title", default="", help="Human title, e.g. 'Data 100, Fall'.")
@click.option(
    "--instructor-groups",
    default="",
    help="Comma-separated Hub groups whose members manage this course (Hub admins always do).",
)
@click.option(
    "--adopt-group",
    is_flag=True,
    help="The Hub group course-SLUG exists already: make its members the course's students.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the course as JSON.")
def course_create(
    slug: str, title: str, instructor_groups: str, adopt_group: bool, as_json: bool
) -> None:
    """Create a course; its students will join the Hub group course-SLUG."""
    from .hub import HubError
    from .hubclient import hub_client

    seen: dict[str, list[str] | None] = {}

    def group_members(name: str) -> list[str] | None:
        seen[name] = hub_client().group_members(name)
        return seen[name]

    try:
        course = courses.create_course(
            slug,
            title,
            who=None,
            instructor_groups=instructor_groups,
            group_members=group_members,
            adopt_group=adopt_group,
        )
    except (courses.CourseError, HubError) as e:
        _fail(e.message)
    db.session.commit()
    adopted = seen.get(course.hub_group)
    if as_json:
        click.echo(json.dumps({**courses.to_json(course), "adopted_members": adopted}))
        return
    click.echo(f"Created course {course.slug} (Hub group {course.hub_group}).")
    if adopted is not None:
        click.echo(f"Adopted the existing group; its {len(adopted)} members are the students:")
        for name in adopted:
            click.echo(f"  {name}")


@course_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def course_list(as_json: bool) -> None:
    """List the courses."""
    items = courses.list_courses(who=None)
    if as_json:
        click.echo(json.dumps([courses.to_json(c) for c in items]))
        return
    for course in items:
        click.echo(f"{course.slug}\t{course.title}\t{course.hub_group}")


roster_cli = AppGroup("roster", help="Import class rosters.")


@roster_cli.command("import")
@click.argument("course")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--username-from",
    default="email-local",
    show_default=True,
    help="email-local, email, or column:NAME.",
)
@click.option(
    "--remove",
    type=click.Choice(["none", "group", "delete"]),
    default="none",
    show_default=True,
    help="What happens to enrolled students missing from the file.",
)
@click.option("--confirm", default=None, help="The course slug, to allow a large removal.")
@click.option("--apply", "do_apply", is_flag=True, help="Apply the plan (default: only print it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def roster_import(course, file, username_from, remove, confirm, do_apply, as_json) -> None:
    """Compare FILE with COURSE's students and print the plan; --apply makes the changes."""
    from .hub import HubError
    from .roster import RosterError, imports

    try:
        found = courses.get_course(course, who=None)
        with open(file, "rb") as f:
            data = f.read()
        record = imports.import_file(
            found,
            data,
            Path(file).name,
            actor=CLI_ACTOR,
            rule=username_from,
            remove=remove,
            apply_now=do_apply,
            confirm=confirm,
        )
    except (courses.CourseError, RosterError, HubError) as e:
        _fail(e.message)
    result = imports.result_json(record)
    if as_json:
        click.echo(json.dumps(result))
    else:
        _print_plan(result)
    if any(r.startswith("failed") for r in result["results"].values()):
        sys.exit(2)


def _print_plan(result: dict) -> None:
    for note in result["notes"]:
        click.echo(f"note: {note}")
    click.echo(
        f"add {len(result['add'])}, keep {len(result['keep'])}, remove {len(result['remove'])}, "
        f"invalid {len(result['invalid'])}, duplicates {len(result['duplicates'])}, "
        f"skipped {len(result['skipped'])}"
    )
    for item in result["invalid"]:
        click.echo(f"  invalid row {item['row']}: {item['value']!r}: {item['reason']}")
    if result["applied"]:
        for name, outcome in sorted(result["results"].items()):
            click.echo(f"  {name}: {outcome}")
    else:
        click.echo("Nothing changed: add --apply to apply this plan.")


@click.command("status")
@click.argument("course")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_command(course: str, as_json: bool) -> None:
    """Show who of COURSE has logged in, is active now, and runs a server."""
    from . import dashboard

    try:
        found = courses.get_course(course, who=None)
    except courses.CourseError as e:
        _fail(e.message)
    rows = dashboard.students(found)
    if as_json:
        click.echo(json.dumps({"course": found.slug, "students": [r.to_json() for r in rows]}))
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
    from .activity import poll_once
    from .hub import HubError
    from .hubclient import hub_client

    try:
        result = poll_once(hub_client())
    except HubError as e:
        _fail(e.message)
    click.echo(f"Polled {result.users} Hub users; {result.new_logins} first logins recorded.")


def init_app(app: Flask) -> None:
    app.cli.add_command(course_cli)
    app.cli.add_command(roster_cli)
    app.cli.add_command(status_command)
    app.cli.add_command(poll_command)
    app.cli.add_command(gitsync_command, "gitsync")
    app.cli.add_command(worker_command)
