"""`flask --app wsgi assignment add|change|list`: the assignment use cases for scripts."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from app import courses
from app.cli import fail
from app.extensions import db

from . import rules, service
from .models import Assignment
from .rules import AssignmentError

assignment_cli = AppGroup("assignment", help="Add, change and list a course's assignments.")


def _setting_options(command):
    """The options add and change share; one not given is None (change: keep the value)."""
    options = [
        click.option("--repo", "repo_url", help="The repository's URL (an allowed prefix)."),
        click.option("--branch", help="Branch to deliver; '' for the repository's default."),
        click.option("--path", "subpath", help="Deliver only this sub-folder of the repository."),
        click.option("--target", help="Folder in each student's home (default: repo's name)."),
        click.option(
            "--depth",
            metavar="N|full",
            help=f"Commits to clone: a number ({rules.DEFAULT_DEPTH} by default) or "
            f"'{rules.FULL_DEPTH}' for the whole history.",
        ),
        click.option("--title", help="Human title, e.g. 'Week 1: Python basics'."),
        click.option(
            "--policy",
            type=click.Choice(rules.POLICIES),
            help="A folder that cannot be merged safely: leave it (needs_attention, the "
            "default) or move it aside and clone afresh (backup).",
        ),
        click.option(
            "--course-copy/--no-course-copy",
            "course_copy",
            default=None,
            help="Leave the course's version beside a notebook whose course changes did not "
            "all arrive, as <name>.course.ipynb (off by default).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the assignment as JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _course(slug: str):
    try:
        return courses.get_course(slug, who=None)
    except courses.CourseError as e:
        fail(e.message)


def _echo(assignment: Assignment, as_json: bool, said: str) -> None:
    if as_json:
        click.echo(json.dumps(service.to_json(assignment)))
    else:
        click.echo(said)


@assignment_cli.command("add")
@click.argument("course")
@click.argument("slug")
@_setting_options
def assignment_add(course: str, slug: str, as_json: bool, **options: Any) -> None:
    """Add the assignment SLUG to COURSE: a repository that lands in every student's home."""
    if not options.get("repo_url"):
        fail("Give the repository's URL: --repo URL.")
    try:
        added = service.add_assignment(_course(course), slug, who=None, **_given(options))
    except AssignmentError as e:
        fail(e.message)
    db.session.commit()
    _echo(added, as_json, f"Added assignment {added.slug} to {course}: {added.repo_url} "
          f"lands in ~/{added.target}.")  # fmt: skip


@assignment_cli.command("change")
@click.argument("course")
@click.argument("slug")
@_setting_options
def assignment_change(course: str, slug: str, as_json: bool, **options: Any) -> None:
    """Change the settings of COURSE's assignment SLUG that the options name."""
    try:
        found = service.get_assignment(_course(course), slug)
        changed = service.change_assignment(found, who=None, **_given(options))
    except AssignmentError as e:
        fail(e.message)
    db.session.commit()
    _echo(found, as_json, f"Changed {', '.join(changed)}." if changed else "Nothing changed.")


@assignment_cli.command("list")
@click.argument("course")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def assignment_list(course: str, as_json: bool) -> None:
    """List COURSE's assignments: slug, target folder, repository and branch."""
    items = service.list_assignments(_course(course))
    if as_json:
        click.echo(json.dumps([service.to_json(a) for a in items]))
        return
    for a in items:
        click.echo(f"{a.slug}\t~/{a.target}\t{a.repo_url}\t{a.branch or '(default branch)'}")
