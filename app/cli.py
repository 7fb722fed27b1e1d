"""`flask --app wsgi ...` commands: the same services as the pages, for cron and scripts."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from . import courses
from .extensions import db

course_cli = AppGroup("course", help="Create and list courses.")

# The CLI acts as the machine's administrator; audit events say so.
CLI_ACTOR = "cli"


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@course_cli.command("create")
@click.argument("slug")
@click.option("--title", default="", help="Human title, e.g. 'Data 100, Fall'.")
@click.option("--json", "as_json", is_flag=True, help="Print the course as JSON.")
def course_create(slug: str, title: str, as_json: bool) -> None:
    """Create a course; its students will join the Hub group course-SLUG."""
    try:
        course = courses.create_course(slug, title, actor=CLI_ACTOR)
    except courses.CourseError as e:
        _fail(e.message)
    db.session.commit()
    if as_json:
        click.echo(json.dumps(courses.to_json(course)))
    else:
        click.echo(f"Created course {course.slug} (Hub group {course.hub_group}).")


@course_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def course_list(as_json: bool) -> None:
    """List the courses."""
    items = courses.list_courses()
    if as_json:
        click.echo(json.dumps([courses.to_json(c) for c in items]))
        return
    for course in items:
        click.echo(f"{course.slug}\t{course.title}\t{course.hub_group}")


def init_app(app: Flask) -> None:
    app.cli.add_command(course_cli)
