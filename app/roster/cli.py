"""`flask --app wsgi roster import COURSE FILE [--apply]`: the roster use cases for scripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app import courses
from app.cli import fail
from app.hub import HubError

from . import DEFAULT_RULE, RosterError, imports
from .apply import is_failure
from .plan import RemoveMode

roster_cli = AppGroup("roster", help="Import class rosters.")


@roster_cli.command("import")
@click.argument("course")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--username-from",
    default=DEFAULT_RULE,
    show_default=True,
    help="email-local, email, or column:NAME.",
)
@click.option(
    "--remove",
    type=click.Choice([mode.value for mode in RemoveMode]),
    default=RemoveMode.NONE.value,
    show_default=True,
    help="What happens to enrolled students missing from the file.",
)
@click.option("--confirm", default=None, help="The course slug, to allow a large removal.")
@click.option("--apply", "do_apply", is_flag=True, help="Apply the plan (default: only print it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def roster_import(course, file, username_from, remove, confirm, do_apply, as_json) -> None:
    """Compare FILE with COURSE's students and print the plan; --apply makes the changes."""
    try:
        found = courses.get_course(course, who=None)
        with open(file, "rb") as f:
            data = f.read()
        record = imports.import_file(
            found,
            data,
            Path(file).name,
            actor=courses.CLI_ACTOR,
            rule=username_from,
            remove=remove,
            apply_now=do_apply,
            confirm=confirm,
        )
    except (courses.CourseError, RosterError, HubError) as e:
        fail(e.message)
    result = imports.result_json(record)
    if as_json:
        click.echo(json.dumps(result))
    else:
        _print_plan(result)
    if any(is_failure(r) for r in result["results"].values()):
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
