"""Resetting one student's files through the queue: real users, real homes, real git, worker
loops. The student's copy stays beside the course's version, byte for byte and theirs; the
audit history says who reset what for whom; a refusal queues nothing or changes nothing."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import audit
from app.audit.actions import RESTORE
from app.audit.models import AuditEvent
from app.courses import CLI_ACTOR
from app.delivery import distribute, distribution_json, reset, worker
from app.delivery.models import Delivery, Distribution
from app.delivery.service import DeliveryError
from app.extensions import db
from tests.delivery.kit import (
    assignment_for,
    assignment_of,
    course_with,
    eventually,
    make_home,
    make_homes,
    owners,
    settled,
    states,
    workers,
)
from tests.delivery.test_queue import _with_handler
from tests.gitsync.conftest import repo_git, tree_bytes

pytestmark = pytest.mark.root

FIRST = "line 1\nline 2\nline 3\n"  # week1/notes.ipynb of the first release (conftest.upstream)


def _delivered(app, hw1) -> None:
    first = distribute(hw1, who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: settled(first.id), "the first release delivered")
    assert states(first.id) == {"done": 1}


def _resets() -> list[tuple]:
    db.session.remove()  # read what the command or the workers committed
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery.reset"))
    return [(e.actor, e.target, e.detail) for e in rows]


def test_a_reset_puts_back_the_version_given_keeps_the_students_copy_and_is_audited(
    app, homes: Path, make_students, upstream
):
    (student,) = make_students(1)
    make_home(homes, student)
    hw1 = assignment_for("reset", upstream, [student])
    _delivered(app, hw1)
    folder = homes / student.name / "hw1"
    given = repo_git(folder, "rev-parse", "HEAD").strip()
    mine = b"line 1\nmy answer\n"
    student.write(folder / "week1" / "notes.ipynb", mine)
    upstream.commit({"week1/notes.ipynb": "not distributed yet\n"}, "later")

    one_id = reset(hw1, student.name, ["week1/notes.ipynb"], who=None).id
    db.session.commit()
    assert _resets() == [
        (
            CLI_ACTOR,
            "hw1",
            {
                "distribution": one_id,
                "student": student.name,
                "paths": ["week1/notes.ipynb"],
                "whole_folder": False,
                "commit": given,
            },
        )
    ]
    with workers(app, 1):
        eventually(lambda: settled(one_id), "the reset ran")
    (entry,) = distribution_json(db.session.get(Distribution, one_id))["deliveries"]
    assert (entry["kind"], entry["state"], entry["outcome"]) == ("reset", "done", "reset"), entry
    assert entry["commit"] == given
    ((moved,),) = [entry["report"]["renamed"]]
    assert moved["from"] == "week1/notes.ipynb"
    assert re.fullmatch(r"week1/notes__\d{14}\.ipynb", moved["to"])
    assert (folder / "week1" / "notes.ipynb").read_text() == FIRST  # what the student was given
    assert (folder / moved["to"]).read_bytes() == mine
    assert owners(folder) == {student.uid}

    # The whole folder, from the command line: the old folder is kept beside the fresh one.
    before = tree_bytes(folder)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["reset", "reset", "hw1", student.name, "--whole-folder", "--wait", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    (entry,) = summary["deliveries"]
    assert (summary["scope"], entry["state"], entry["paths"]) == ("reset", "done", []), summary
    ((moved,),) = [entry["report"]["renamed"]]
    assert moved["from"] == "hw1" and re.fullmatch(r"hw1_backup_\d{14}", moved["to"])
    assert tree_bytes(homes / student.name / moved["to"]) == before
    assert (folder / "week1" / "notes.ipynb").read_text() == FIRST
    assert sorted(p.name for p in (folder / "week1").iterdir()) == ["data.csv", "notes.ipynb"]
    assert owners(folder) == owners(homes / student.name / moved["to"]) == {student.uid}
    assert _resets()[-1][2]["whole_folder"] is True

    for args, words in (
        (["reset", "reset", "hw1", student.name], "Give either --path"),
        (["reset", "reset", "hw1", student.name, "--path", "x", "--whole-folder"], "either"),
        (["reset", "reset", "hw1", student.name, "--path", "../../etc/passwd"], "'..'"),
        (["reset", "reset", "hw1", "stranger", "--whole-folder"], "not an active student"),
    ):
        refused = runner.invoke(args=args)
        assert refused.exit_code == 1 and words in refused.output, (args, refused.output)
    assert len(_resets()) == 2  # refusals record nothing


def test_a_link_the_student_planted_into_another_home_is_refused_and_changes_nothing(
    app, homes: Path, make_students, upstream
):
    student, other = make_students(2)
    make_homes(homes, [student, other])
    hw1 = assignment_for("links", upstream, [student, other])
    first = distribute(hw1, who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: states(first.id) == {"done": 2}, "both delivered")
    folder = homes / student.name / "hw1"
    os.rename(folder / "week1", folder / "week1-mine")
    os.symlink(homes / other.name / "hw1" / "week1", folder / "week1")
    theirs, mine = tree_bytes(homes / other.name), tree_bytes(folder)

    planted = reset(hw1, student.name, ["week1/notes.ipynb"], who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: settled(planted.id), "the reset ran")
    (entry,) = distribution_json(db.session.get(Distribution, planted.id))["deliveries"]
    assert entry["state"] == "failed" and "symbolic link" in entry["error"], entry
    assert tree_bytes(homes / other.name) == theirs
    assert tree_bytes(folder) == mine


def test_refusals_queue_nothing(app, upstream):
    hw1 = assignment_of(course_with("refusals", ["ann", "ben"]), upstream)
    # ann was given the assignment (a delivery that ran); ben never was.
    ran = Distribution(assignment=hw1, scope="users")
    db.session.add(
        Delivery(distribution=ran, assignment=hw1, username="ann", state="done", commit="a" * 40)
    )
    db.session.commit()
    queued = db.session.scalar(select(func.count()).select_from(Delivery))
    for username, paths, code in (
        ("ann", ["../x"], "path_invalid"),
        ("ann", ["/etc/passwd"], "path_invalid"),
        ("ann", [".git/hooks/post-merge"], "path_invalid"),
        ("ann", ["week1/", "README.md"], "path_invalid"),
        ("ann", [], "no_paths"),
        ("ann", [f"f{i}" for i in range(501)], "too_many_paths"),
        ("ben", ["README.md"], "not_delivered"),
        ("cat", None, "not_a_student"),
    ):
        with pytest.raises(DeliveryError) as refused:
            reset(hw1, username, paths, who=None)
        assert refused.value.code == code, (username, paths, refused.value.message)
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == queued
    assert _resets() == []


def test_a_reset_and_a_sync_of_the_same_folder_never_overlap(
    app, homes: Path, make_students, upstream
):
    (student,) = make_students(1)
    make_home(homes, student)
    hw1 = assignment_for("overlap-reset", upstream, [student])
    _delivered(app, hw1)
    upstream.commit({"README.md": "# Homework 1, corrected\n"}, "fix")
    sync = distribute(hw1, who=None)
    db.session.commit()
    sync_id = sync.id
    gate = threading.Event()

    def held_open(job, context):
        if job.distribution_id == sync_id:
            gate.wait(60)  # the sync holds the folder until the reset has come and tried
        return worker.deliver(job, context)

    _with_handler(app, held_open)
    app.config["HUBCLASS_DELIVERY_CONCURRENCY"] = 2
    with workers(app, 2):
        try:
            eventually(lambda: states(sync_id) == {"claimed": 1}, "the sync is running")
            back = reset(hw1, student.name, ["README.md"], who=None)
            db.session.commit()
            back_id = back.id

            def turned_back() -> bool:
                rows = db.session.scalars(
                    select(Delivery.waiting_for).where(Delivery.distribution_id == back_id)
                ).all()
                db.session.commit()
                return rows == [worker.FOLDER_BUSY]

            eventually(turned_back, "the reset found the folder busy")
        finally:
            gate.set()
        eventually(lambda: settled(sync_id) and settled(back_id), "both ended")
    # The sync ran first and gave the student a newer version than the one the reset was
    # asked for: the reset refuses rather than put back another commit than the one pinned.
    assert states(sync_id) == {"done": 1} and states(back_id) == {"failed": 1}
    (error,) = db.session.scalars(
        select(Delivery.error).where(Delivery.distribution_id == back_id)
    ).all()
    assert "newer version" in error and "Ask for the reset again" in error, error
    runs = db.session.execute(
        select(Delivery.started_at, Delivery.finished_at)
        .where(Delivery.distribution_id.in_([sync_id, back_id]))
        .order_by(Delivery.started_at)
    ).all()
    assert runs[0][1] <= runs[1][0], "the reset and the sync ran at once in the folder"
    folder = homes / student.name / "hw1"
    assert (folder / "README.md").read_text() == "# Homework 1, corrected\n"
    assert [p.name for p in folder.glob("README__*.md")] == []


def test_a_reset_asked_for_before_a_restore_is_not_run_again_after_it(
    app, homes: Path, make_students, upstream
):
    """The restored rows cannot tell whether the reset already ran after the backup: run again,
    it would move the student's newer work aside. It needs attention instead, nothing moved."""
    (student,) = make_students(1)
    make_home(homes, student)
    hw1 = assignment_for("reset-restored", upstream, [student])
    _delivered(app, hw1)
    folder = homes / student.name / "hw1"
    student.write(folder / "week1" / "notes.ipynb", b"line 1\nwork after the reset\n")
    one_id = reset(hw1, student.name, ["week1/notes.ipynb"], who=None).id
    db.session.commit()
    # As `flask restore` records it, after the reset was asked for (app/backup/service.py).
    audit.record(CLI_ACTOR, RESTORE, target="backup.tar.gz")
    db.session.commit()
    before = tree_bytes(folder)

    with workers(app, 1):
        eventually(lambda: settled(one_id), "the reset ended")

    (entry,) = distribution_json(db.session.get(Distribution, one_id))["deliveries"]
    assert entry["state"] == "attention", entry
    assert "restored from a backup" in entry["said"]
    assert "ask for the reset again" in entry["error"]
    assert tree_bytes(folder) == before
    assert sorted(p.name for p in (folder / "week1").iterdir()) == ["data.csv", "notes.ipynb"]
