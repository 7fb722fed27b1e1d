"""A backup taken in the middle of a distribution, restored into a fresh data dir and database:
the service's own processes (`flask backup`, `flask restore`, `flask worker`), the real Hub,
real students and homes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.delivery import distribute
from app.delivery.models import Delivery
from app.delivery.states import State
from app.extensions import db
from app.jobs.models import Lease
from tests.backup.kit import app_on, flask, home_state
from tests.delivery.kit import (
    assignment_for,
    eventually,
    leftovers,
    make_homes,
    owners,
    states,
    worker_process,
)
from tests.gitsync.conftest import repo_git

pytestmark = [pytest.mark.hub, pytest.mark.root]

STUDENTS = 16
# Generous: a loaded 2-core machine, real users, real git.
SETTLE_SECONDS = 180


def outcomes() -> dict[str, tuple[str, str | None, str | None]]:
    """Each student's deliveries: (state, outcome, commit), as committed now."""
    rows = db.session.execute(
        select(Delivery.username, Delivery.state, Delivery.outcome, Delivery.commit)
    ).all()
    db.session.commit()
    return {name: (state, outcome, commit) for name, state, outcome, commit in rows}


def settled(distribution_id: int) -> bool:
    return states(distribution_id) == {"done": STUDENTS}


def test_a_backup_taken_mid_distribution_restores_and_the_service_resumes_delivering_nothing_twice(
    service_env, homes: Path, make_students, upstream, tmp_path: Path
):
    students = make_students(STUDENTS)
    make_homes(homes, students)
    old = {**service_env("old"), "HUBCLASS_DELIVERY_CONCURRENCY": "2"}
    new = {**service_env("new"), "HUBCLASS_DELIVERY_CONCURRENCY": "2"}
    saved = tmp_path / "saved.tar.gz"
    released = repo_git(upstream.bare, "rev-parse", "HEAD").strip()

    with app_on(old) as app:
        hw1 = assignment_for("backup", upstream, students)
        distribution_id = distribute(hw1, who=None).id
        db.session.commit()
        first = worker_process(old)
        try:
            eventually(
                lambda: (now := states(distribution_id))["done"] >= 3 and now["claimed"] > 0,
                "some delivered, some running",
                SETTLE_SECONDS,
            )
            # The worker paused with deliveries claimed (their syncs go on as the students):
            # the backup sees a moment with some done, some running, some queued.
            os.kill(first.pid, signal.SIGSTOP)
            at_backup = states(distribution_id)
            done_in_backup = set(
                db.session.scalars(select(Delivery.username).where(Delivery.state == State.DONE))
            )
            taken = app.test_cli_runner().invoke(args=["backup", str(saved), "--json"])
            assert taken.exit_code == 0, taken.output
            os.kill(first.pid, signal.SIGCONT)
            eventually(lambda: settled(distribution_id), "the old run finished", SETTLE_SECONDS)
        finally:
            first.send_signal(signal.SIGCONT)
            first.send_signal(signal.SIGTERM)
            first.wait(60)
        before_restore = outcomes()
    assert at_backup["claimed"] >= 1 and at_backup["queued"] >= 1 and at_backup["done"] >= 3
    assert json.loads(taken.output)["secret_key"] is True

    # Those delivered after the backup was taken work on in their folders meanwhile.
    after_backup = [s for s in students if s.name not in done_in_backup]
    for student in after_backup[:3]:
        hw1_folder = homes / student.name / "hw1"
        student.write(hw1_folder / "week1" / "data.csv", "a,b\n1,2\n3,4 mine\n")
        student.write(hw1_folder / "mine.txt", "my own notes\n")
    homes_then = {s.name: home_state(homes / s.name) for s in students}

    restored = flask(new, "restore", str(saved), "--json")
    assert restored.returncode == 0, restored.stderr
    done = json.loads(restored.stdout)
    assert done["requeued"] == at_backup["claimed"]
    assert (Path(new["HUBCLASS_DATA_DIR"]) / "secret_key").read_bytes() == (
        Path(old["HUBCLASS_DATA_DIR"]) / "secret_key"
    ).read_bytes()  # instructors stay signed in

    with app_on(new, migrated=False):
        # What was running is queued again, what was queued still is; no lease of the old run.
        assert states(distribution_id) == {
            "done": at_backup["done"],
            "queued": at_backup["queued"] + at_backup["claimed"],
        }
        assert db.session.scalar(select(func.count()).select_from(Lease)) == 0
        attempts = db.session.scalars(select(Delivery.attempts)).all()
        assert set(attempts) <= {0, 1}  # the old run's claims do not count against a delivery
        again = worker_process(new)
        try:
            eventually(lambda: settled(distribution_id), "the restored run finished", 180)
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(60)
        after = outcomes()
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "service.restore")
        ).all()
        assert [event.detail["requeued"] for event in events] == [at_backup["claimed"]]
        per_student = db.session.execute(
            select(Delivery.username, func.count(Delivery.id)).group_by(Delivery.username)
        ).all()
        assert {count for _, count in per_student} == {1}

    ran_again = set(after) - done_in_backup
    assert len(ran_again) == STUDENTS - at_backup["done"]
    for student in students:
        home = homes / student.name
        # Nothing delivered twice: the same folder, the same .git, every file byte for byte,
        # the student's own edits kept, nothing moved aside, no temporary folder.
        assert home_state(home) == homes_then[student.name], student.name
        assert leftovers(home) == []
        assert owners(home / "hw1") == {student.uid}
        assert repo_git(home / "hw1", "rev-parse", "HEAD").strip() == released
        if student.name in ran_again:
            # Honest: the second run found the commit there and changed nothing.
            assert after[student.name] == ("done", "unchanged", released), student.name
            assert before_restore[student.name] == ("done", "cloned", released)
        else:
            assert (
                after[student.name]
                == before_restore[student.name]
                == (
                    "done",
                    "cloned",
                    released,
                )
            )
