"""`flask --app wsgi course create|list`: the course use cases for cron and scripts."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.cli import fail
from app.extensions import db
from app.hub import HubError, hub_client

from . import service as courses
from .names import GROUP_PREFIX

course_cli = AppGroup("course", help="Create and list courses.")


@course_cli.command(
    "create", help=f"Create a course; its students will join the Hub group {GROUP_PREFIX}SLUG."
)
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
    help=f"The Hub group {GROUP_PREFIX}SLUG exists already: make its members the course's "
    "students.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the course as JSON.")
def course_create(
    slug: str, title: str, instructor_groups: str, adopt_group: bool, as_json: bool
) -> None:
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
        fail(e.message)
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
