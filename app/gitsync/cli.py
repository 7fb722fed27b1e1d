"""``flask --app wsgi gitsync URL DEST``: run the engine on one folder and print the report.

The only module of the package that imports Flask (and the app's audit log: a sync writes into
someone's folder, so it is recorded like a distribution); the app registers ``gitsync_command``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app import audit
from app.audit.actions import FOLDER_SYNC
from app.courses.service import CLI_ACTOR
from app.extensions import db

from .errors import GitSyncError
from .mirror import DEFAULT_MAX_TREE_BYTES, DEFAULT_MAX_TREE_ENTRIES, ensure_mirror
from .report import SyncReport
from .urls import validate_repo_url
from .workspace import sync


def _allowed_prefixes() -> list[str]:
    value = current_app.config.get("HUBCLASS_ALLOWED_REPO_URLS") or []
    if isinstance(value, str):  # tolerate the raw env form "a,b"
        value = value.split(",")
    return [prefix.strip() for prefix in value if prefix.strip()]


def _summary(report: SyncReport) -> str:
    lines = [f"{report.outcome}: {report.before or '-'} -> {report.after or '-'}"]
    for label, paths in (
        ("updated", report.updated),
        ("kept", report.kept),
        ("restored", report.restored),
        ("not applied (the student's side won)", report.not_applied),
    ):
        lines += [f"  {label}: {path}" for path in paths]
    lines += [f"  renamed: {src} -> {dst}" for src, dst in report.renamed]
    if report.error_code:
        lines.append(f"  error ({report.error_code}): {report.error_message}")
    return "\n".join(lines)


@click.command("gitsync")
@click.argument("url")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--branch", default=None, help="Branch to deliver (default: the remote's HEAD).")
@click.option("--path", "subpath", default=None, help="Release only this sub-folder.")
@click.option(
    "--policy",
    type=click.Choice(["needs-attention", "backup"]),
    default="needs-attention",
    show_default=True,
    help="What to do with a folder the engine cannot merge into safely.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@with_appcontext
def gitsync_command(
    url: str, dest: Path, branch: str | None, subpath: str | None, policy: str, as_json: bool
) -> None:
    """Sync the workspace DEST from URL, as the owner of DEST's parent folder."""
    prefixes = _allowed_prefixes()
    try:
        validate_repo_url(url, prefixes)
        mirrors = Path(current_app.config["HUBCLASS_DATA_DIR"]) / "mirrors"
        config = current_app.config
        mirror = ensure_mirror(
            url,
            branch,
            mirrors,
            max_tree_bytes=config.get("HUBCLASS_MAX_REPO_BYTES", DEFAULT_MAX_TREE_BYTES),
            max_tree_entries=config.get("HUBCLASS_MAX_REPO_ENTRIES", DEFAULT_MAX_TREE_ENTRIES),
        )
    except GitSyncError as exc:
        report = SyncReport.problem("failed", exc.code, exc.message)
    else:
        report = sync(
            url,
            dest.absolute(),
            branch=branch,
            path=subpath,
            policy=policy.replace("-", "_"),
            allowed_prefixes=prefixes,
            mirror=mirror,
        )
        audit.record(
            CLI_ACTOR,
            FOLDER_SYNC,
            target=str(dest.absolute()),
            url=url,
            branch=branch,
            path=subpath,
            outcome=report.outcome,
            commit=report.after,
        )
        db.session.commit()
    click.echo(json.dumps(report.to_json()) if as_json else _summary(report))
    if report.failed:
        raise click.exceptions.Exit(1)
