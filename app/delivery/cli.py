"""`flask --app wsgi distribute COURSE SLUG`: distribute an assignment from cron or a script;
`flask --app wsgi reset COURSE SLUG USERNAME`: put one student's files back to the course's."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app

from app import courses
from app.cli import fail
from app.errors import HubclassError
from app.extensions import db
from app.jobs.runner import worker_name

from . import progress_json, service
from .ways import ways_of, why_none
from .worker import work_until_finished


@click.command("distribute")
@click.argument("course")
@click.argument("slug")
@click.option("--section", default=None, help="Only the students of this section.")
@click.option("--users", default=None, help="Only these students (comma-separated usernames).")
@click.option("--only-behind", is_flag=True, help="Only students without the latest commit.")
@click.option("--retry-failed", is_flag=True, help="Only students whose last delivery failed.")
@click.option(
    "--wait",
    is_flag=True,
    help="Run them here too (as root); return when none is left to run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def distribute_command(
    course: str,
    slug: str,
    section: str | None,
    users: str | None,
    only_behind: bool,
    retry_failed: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Distribute the assignment SLUG of COURSE to its students' homes."""
    try:
        assignment = service.find_assignment(courses.get_course(course, who=None), slug)
        distribution = service.distribute(
            assignment,
            who=None,
            section=section,
            users=None if users is None else [u.strip() for u in users.split(",") if u.strip()],
            only_behind=only_behind,
            retry_failed=retry_failed,
        )
    except HubclassError as e:
        fail(e.message)
    summary = _committed(distribution.id, wait)
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(
        f"Distribution {summary['distribution']} of {summary['assignment']} to "
        f"{summary['total']} students: {summary['done']} done, {summary['failed']} failed, "
        f"{summary['attention']} need attention, {summary['waiting']} waiting, "
        f"{summary['queued'] + summary['running']} queued or running."
    )
    for entry in summary["deliveries"]:
        why = entry["error"] or entry["waiting_for"] or entry["outcome"] or ""
        click.echo(f"{entry['username']}\t{entry['state']}\t{why}")


def _committed(distribution_id: int, wait: bool) -> dict[str, Any]:
    """Commit what was queued; with `wait`, run it here too (as root; otherwise wait for the
    root worker); return its progress JSON."""
    db.session.commit()
    here = ways_of(current_app.config).any
    if not here:
        click.echo(why_none(current_app.config) + (" Waiting for it." if wait else ""), err=True)
    if wait:
        work_until_finished(distribution_id, worker_name(0), run_here=here)
    db.session.expire_all()  # read what the workers wrote
    return progress_json.distribution_json(service.get_distribution(distribution_id))


@click.command("reset")
@click.argument("course")
@click.argument("slug")
@click.argument("username")
@click.option(
    "--path", "paths", multiple=True, help="A file or folder of the assignment to reset (repeat)."
)
@click.option("--whole-folder", is_flag=True, help="Reset the student's whole folder.")
@click.option("--wait", is_flag=True, help="Run it here too; return when it has run.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def reset_command(
    course: str,
    slug: str,
    username: str,
    paths: tuple[str, ...],
    whole_folder: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Reset USERNAME's files of the assignment SLUG of COURSE to the course's version they
    were given; their copy is moved aside with a timestamp, never deleted."""
    if whole_folder == bool(paths):
        fail("Give either --path (once per file or folder) or --whole-folder.")
    try:
        assignment = service.find_assignment(courses.get_course(course, who=None), slug)
        distribution = service.reset(
            assignment, username, None if whole_folder else list(paths), who=None
        )
    except HubclassError as e:
        fail(e.message)
    summary = _committed(distribution.id, wait)
    if as_json:
        click.echo(json.dumps(summary))
        return
    (entry,) = summary["deliveries"]
    what = "the whole folder" if whole_folder else ", ".join(entry["paths"])
    click.echo(f"Reset {summary['distribution']} of {what} for {username}: {entry['state']}.")
    if entry["error"]:
        click.echo(entry["error"])
    for moved in (entry["report"] or {}).get("renamed", []):
        click.echo(f"Their copy {moved['from']} is now {moved['to']}.")
