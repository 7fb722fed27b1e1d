"""``gitsync URL DEST [--branch] [--path] [--policy] [--json]`` of the app, on real folders."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db

KEYS = ["outcome", "before", "after", "updated", "kept", "restored", "renamed", "error"]
# Added after the documented ones: readers of older reports keep working.
KEYS += ["not_applied", "missed"]


@pytest.fixture
def cli(app, base_dir):
    """`flask gitsync` of a real app on a migrated database (the sync is audited there)."""
    app.config["HUBCLASS_ALLOWED_REPO_URLS"] = ["file:///"]
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["gitsync", *map(str, args)])

    return invoke


def test_json_report_of_a_clone_then_an_update(cli, home, upstream, student):
    dest = home / "course"

    first = cli(upstream.url, dest, "--json")

    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert list(report) == KEYS
    assert report["outcome"] == "cloned"
    assert report["before"] is None and len(report["after"]) == 40
    assert report["error"] is None

    student.write(dest / "week1" / "data.csv", "mine\n")
    (dest / "README.md").unlink()
    upstream.commit({"week2/lab.ipynb": "v2\n"})
    second = json.loads(cli(upstream.url, dest, "--json").output)
    assert second["outcome"] == "updated"
    assert second["before"] == report["after"]
    assert second["updated"] == ["week2/lab.ipynb"]
    assert second["kept"] == ["week1/data.csv"]
    assert second["restored"] == ["README.md"]
    assert second["renamed"] == []
    # Each sync wrote into someone's folder: the audit log has both, by the command line.
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor, e.target) for e in events] == [
        ("folder.sync", "(command line)", str(dest))
    ] * 2
    assert [(e.detail["outcome"], e.detail["commit"]) for e in events] == [
        ("cloned", report["after"]),
        ("updated", second["after"]),
    ]


def test_branch_path_and_backup_policy(cli, home, upstream, student):
    upstream.checkout("fall", create=True)
    upstream.commit({"week1/fall.txt": "fall\n"})
    dest = home / "course"

    result = cli(upstream.url, dest, "--branch", "fall", "--path", "week1", "--json")
    assert json.loads(result.output)["outcome"] == "cloned"
    assert (dest / "week1" / "fall.txt").exists() and not (dest / "README.md").exists()

    student.git(dest, "checkout", "-q", "--detach")
    attention = cli(upstream.url, dest, "--branch", "fall", "--path", "week1", "--json")
    assert attention.exit_code == 0
    assert json.loads(attention.output)["error"]["code"] == "detached_head"

    backup = cli(upstream.url, dest, "--branch", "fall", "--policy", "backup", "--json")
    data = json.loads(backup.output)
    assert data["outcome"] == "cloned"
    assert data["renamed"][0]["from"] == "course"
    assert data["renamed"][0]["to"].startswith("course_backup_")


def test_a_refused_url_fails_with_a_non_zero_exit(cli, home):
    result = cli("http://169.254.169.254/latest", home / "course", "--json")

    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["outcome"] == "failed"
    assert data["error"]["code"] == "url_not_allowed"
    assert list(home.iterdir()) == []
    assert db.session.scalars(select(AuditEvent)).all() == []  # refused: nothing changed


def test_human_output_without_json(cli, home, upstream):
    result = cli(upstream.url, home / "course")

    assert result.exit_code == 0
    assert result.output.startswith("cloned: - -> ")
    assert "  updated: week1/data.csv" in result.output


def test_a_bad_policy_is_a_usage_error(cli, home, upstream):
    result = cli(upstream.url, home / "course", "--policy", "overwrite")

    assert result.exit_code == 2
    assert not (home / "course").exists()
