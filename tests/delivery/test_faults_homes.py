"""Faults in one student's home inside a distribution of several (SECURITY.md faults 3, 4, 5):
a full disk, a read-only home, the student's own git holding `index.lock`. Only that delivery
fails, in the instructor's words; the others arrive; the failed one's files stay byte for byte;
a retry of the failed ones, and a distribution again, converge with no delivery done twice and
no temporary folder left. On SQLite and on PostgreSQL (the queue, the claims, the results)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.delivery import distribute
from app.delivery.models import Delivery
from app.delivery.service import said
from app.extensions import db
from tests.gitsync.conftest import Student, Upstream, repo_git, tmpfs, tree_bytes

from .kit import assignment_for, eventually, leftovers, make_home, settled, states, workers

pytestmark = pytest.mark.root

V2 = {"README.md": "# Homework 1, version 2\n", "week1/more.csv": "c,d\n3,4\n"}


def remount(home: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(home)], check=True)


def run_to_the_end(app, distribution_id: int) -> None:
    with workers(app, 2):
        eventually(lambda: settled(distribution_id), "the deliveries ran", 120)


def rows_of(distribution_id: int) -> dict[str, Delivery]:
    rows = db.session.scalars(select(Delivery).where(Delivery.distribution_id == distribution_id))
    found = {row.username: row for row in rows}
    db.session.commit()
    return found


def deliveries_done(username: str, commit: str) -> int:
    """How many deliveries brought `commit` to the student: more than one is a delivery twice
    (an "unchanged" run of the same commit brings nothing: it is not counted)."""
    count = db.session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.username == username,
            Delivery.commit == commit,
            Delivery.state == "done",
            Delivery.outcome != "unchanged",
        )
    )
    db.session.commit()
    return int(count or 0)


def retry_then_again(app, assignment, failed: set[str], everyone: int) -> None:
    """The instructor retries the failed ones (exactly `failed`), all arrive; then distributes
    to the whole course once more: every delivery ends done (nothing to bring, nobody twice)."""
    retry = distribute(assignment, who=None, retry_failed=True).id
    db.session.commit()
    assert set(rows_of(retry)) == failed
    run_to_the_end(app, retry)
    assert states(retry) == {"done": len(failed)}, {u: r.error for u, r in rows_of(retry).items()}
    again = distribute(assignment, who=None).id
    db.session.commit()
    run_to_the_end(app, again)
    assert states(again) == {"done": everyone}


def with_v2(files: dict[str, bytes | str]) -> dict[str, bytes | str]:
    """The student's files once version 2 arrived: theirs as they were, the course's new."""
    return {**files, **{name: text.encode() for name, text in V2.items()}}


def given_and_edited(
    app, students: list[Student], homes: Path, upstream: Upstream, **fields
) -> tuple:
    """Version 1 delivered to all (the assignment made with `fields`), then each student's
    edits: their files and heads as they are now."""
    hw1 = assignment_for("faulty", upstream, students, **fields)
    first = distribute(hw1, who=None).id
    db.session.commit()
    run_to_the_end(app, first)
    assert states(first) == {"done": len(students)}, {u: r.error for u, r in rows_of(first).items()}
    for student in students:
        folder = homes / student.name / "hw1"
        student.write(folder / "week1" / "data.csv", f"a,b\n1,2\n{student.name}'s answer\n")
        student.write(folder / "mine.txt", b"\x00\x01 not the course's\n")
    files = {s.name: tree_bytes(homes / s.name / "hw1") for s in students}
    heads = {s.name: repo_git(homes / s.name / "hw1", "rev-parse", "HEAD") for s in students}
    return hw1, files, heads


def test_one_full_disk_and_one_read_only_home_fail_alone_in_words_and_a_retry_converges(
    any_db_delivery_app, homes, make_students, upstream
):
    app = any_db_delivery_app
    ok1, ok2, full, read_only = students = make_students(4)
    make_home(homes, ok1)
    make_home(homes, ok2)
    with (
        tmpfs(homes / full.name, "1m", full) as full_home,
        tmpfs(homes / read_only.name, "4m", read_only) as read_only_home,
    ):
        hw1, files, heads = given_and_edited(app, students, homes, upstream)
        # Version 2 holds a file bigger than what is left on the full home's disk.
        big = os.urandom(1_500_000)
        v2 = upstream.commit({**V2, "data/big.bin": big}, "version 2")
        remount(read_only_home, "ro")

        second = distribute(hw1, who=None).id
        db.session.commit()
        run_to_the_end(app, second)

        rows = rows_of(second)
        assert states(second) == {"done": 2, "failed": 2}, {u: r.error for u, r in rows.items()}
        assert said(rows[full.name]) == "failed: disk full", rows[full.name].error
        assert said(rows[read_only.name]) == "failed: the home is read-only"
        for student in (ok1, ok2):
            folder = homes / student.name / "hw1"
            assert rows[student.name].commit == v2
            assert tree_bytes(folder) == {**with_v2(files[student.name]), "data/big.bin": big}
        for student in (full, read_only):  # nothing of theirs lost, nothing half-written
            folder = homes / student.name / "hw1"
            assert tree_bytes(folder) == files[student.name]
            assert repo_git(folder, "rev-parse", "HEAD") == heads[student.name]
            repo_git(folder, "fsck", "--no-progress")
            assert rows[student.name].commit is None
        assert all(leftovers(homes / s.name) == [] for s in students)

        # The instructor frees space and makes the home writable, then retries the failed ones.
        remount(full_home, "size=20m")
        remount(read_only_home, "rw")
        # And once more for the whole course: nothing changes, nobody gets it twice.
        retry_then_again(app, hw1, {full.name, read_only.name}, len(students))
        for student in students:
            folder = homes / student.name / "hw1"
            assert tree_bytes(folder) == {**with_v2(files[student.name]), "data/big.bin": big}
            assert deliveries_done(student.name, v2) == 1
            assert leftovers(homes / student.name) == []
            repo_git(folder, "fsck", "--no-progress")


# The student's `git commit --all` waits in their editor until this file goes (git holds
# index.lock all the while: "an editor opened by 'git commit'", as git's own message says).
EDITOR = '#!/bin/sh\nwhile [ -e {wait} ]; do sleep 0.1; done\necho "my own commit" > "$1"\n'


def test_the_students_own_git_holding_index_lock_fails_that_delivery_alone_and_a_retry_converges(
    any_db_delivery_app, homes, make_students, upstream
):
    app = any_db_delivery_app
    # The engine waits for the student's git up to the delivery's timeout (less a second).
    app.config["HUBCLASS_DELIVERY_TIMEOUT_SECONDS"] = 8
    students = make_students(3)
    for student in students:
        make_home(homes, student)
    busy = students[0]
    hw1, files, _ = given_and_edited(app, students, homes, upstream)
    folder = homes / busy.name / "hw1"
    wait, editor = homes / busy.name / "editing", homes / busy.name / "editor.sh"
    busy.write(wait, "")
    busy.write(editor, EDITOR.format(wait=wait))
    editor.chmod(0o755)
    committing = subprocess.Popen(
        ["git", "-c", f"core.editor={editor}", "commit", "--all"],
        cwd=folder,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(homes / busy.name),
            "GIT_AUTHOR_NAME": "S",
            "GIT_AUTHOR_EMAIL": "s@x",
            "GIT_COMMITTER_NAME": "S",
            "GIT_COMMITTER_EMAIL": "s@x",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **busy.as_me(),
    )
    try:
        lock = folder / ".git" / "index.lock"
        eventually(lock.exists, "the student's git holds the index")
        v2 = upstream.commit(V2, "version 2")

        second = distribute(hw1, who=None).id
        db.session.commit()
        run_to_the_end(app, second)

        rows = rows_of(second)
        assert states(second) == {"done": 2, "failed": 1}, {u: r.error for u, r in rows.items()}
        assert said(rows[busy.name]) == "failed: git was running in the folder"
        assert lock.exists() and committing.poll() is None  # the student's git left alone
        assert tree_bytes(folder) == files[busy.name]
        for student in students[1:]:
            assert tree_bytes(homes / student.name / "hw1") == with_v2(files[student.name])
    finally:
        wait.unlink(missing_ok=True)  # the student ends their commit
        committing.wait(30)
    assert committing.returncode == 0
    mine = repo_git(folder, "rev-parse", "HEAD").strip()

    retry_then_again(app, hw1, {busy.name}, len(students))
    # The student's commit is kept in the history, their files byte for byte, and v2 arrived.
    repo_git(folder, "merge-base", "--is-ancestor", mine, "HEAD")
    repo_git(folder, "merge-base", "--is-ancestor", v2, "HEAD")
    assert tree_bytes(folder) == with_v2(files[busy.name])
    for student in students:
        assert deliveries_done(student.name, v2) == 1
        assert leftovers(homes / student.name) == []
