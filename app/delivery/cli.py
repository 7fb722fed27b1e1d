"""`flask --app wsgi distribute COURSE SLUG`: distribute an assignment from cron or a script."""

from __future__ import annotations

import json

import click

from app import courses
from app.cli import fail
from app.errors import HubclassError
from app.extensions import db
from app.jobs.runner import worker_name

from . import service
from .worker import work_until_finished


@click.command("distribute")
@click.argument("course")
@click.argument("slug")
@click.option("--section", default=None, help="Only the students of this section.")
@click.option("--users", default=None, help="Only these students (comma-separated usernames).")
@click.option("--only-behind", is_flag=True, help="Only students without the latest commit.")
@click.option("--retry-failed", is_flag=True, help="Only students whose last delivery failed.")
@click.option("--wait", is_flag=True, help="Run them here too; return when none is left to run.")
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
    db.session.commit()
    distribution_id = distribution.id
    if wait:
        work_until_finished(distribution_id, worker_name(0))
    db.session.expire_all()  # read what the workers wrote
    summary = service.distribution_json(service.get_distribution(distribution_id))
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
