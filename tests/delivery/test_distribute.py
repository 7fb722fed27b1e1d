"""Distributing an assignment into students' homes: real users, real git, worker loops."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.activity.models import HubUserState
from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.delivery import distribute, distribution_json
from app.delivery.models import Delivery
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
from tests.gitsync.conftest import repo_git

pytestmark = pytest.mark.root


def test_30_students_get_the_folder_owned_by_each_and_the_homeless_get_it_when_the_home_appears(
    app, homes: Path, make_students, upstream
):
    students = make_students(30)
    with_home, homeless = students[:25], students[25:]
    make_homes(homes, with_home)
    hw1 = assignment_for("thirty", upstream, students)
    distribution = distribute(hw1, who=None)
    db.session.commit()

    with workers(app, 2):
        eventually(lambda: states(distribution.id) == {"done": 25, "waiting": 5}, "25 delivered")
        summary = distribution_json(distribution)
        waiting = [d for d in summary["deliveries"] if d["state"] == "waiting"]
        assert {d["username"] for d in waiting} == {s.name for s in homeless}
        assert {d["waiting_for"] for d in waiting} == {"waiting for first login"}
        assert (summary["total"], summary["done"], summary["waiting"]) == (30, 25, 5)
        # Their first login: the spawner makes their homes. Nobody presses anything.
        make_homes(homes, homeless)
        eventually(lambda: states(distribution.id) == {"done": 30}, "the 5 delivered too")

    released = repo_git(upstream.bare, "rev-parse", "HEAD").strip()
    for student in students:
        folder = homes / student.name / "hw1"
        assert (folder / "week1" / "notes.ipynb").read_text() == "line 1\nline 2\nline 3\n"
        assert owners(folder) == {student.uid}, student.name
        assert repo_git(folder, "rev-parse", "HEAD").strip() == released
    summary = distribution_json(distribution)
    assert {d["commit"] for d in summary["deliveries"]} == {released}
    assert {d["outcome"] for d in summary["deliveries"]} == {"cloned"}


def test_a_student_who_edited_a_notebook_keeps_the_edit_when_an_update_is_distributed_again(
    app, homes: Path, make_students, upstream
):
    (student,) = make_students(1)
    make_home(homes, student)
    hw1 = assignment_for("edits", upstream, [student])
    first = distribute(hw1, who=None)
    db.session.commit()
    notebook = homes / student.name / "hw1" / "week1" / "notes.ipynb"
    with workers(app, 1):
        eventually(lambda: states(first.id) == {"done": 1}, "the first release delivered")
        student.write(notebook, "line 1\nline 2, my answer\nline 3\n")
        update = upstream.commit(
            {"README.md": "# Homework 1, corrected\n", "week2/lab.ipynb": "lab\n"}, "week 2"
        )
        again = distribute(hw1, who=None)
        db.session.commit()
        eventually(lambda: states(again.id) == {"done": 1}, "the update delivered")

    assert notebook.read_text() == "line 1\nline 2, my answer\nline 3\n"
    assert (homes / student.name / "hw1" / "week2" / "lab.ipynb").read_text() == "lab\n"
    assert (homes / student.name / "hw1" / "README.md").read_text() == "# Homework 1, corrected\n"
    (delivered,) = distribution_json(again)["deliveries"]
    assert (delivered["outcome"], delivered["commit"]) == ("updated", update)
    report = db.session.scalar(select(Delivery.report).where(Delivery.distribution_id == again.id))
    assert report["kept"] == ["week1/notes.ipynb"]
    assert owners(homes / student.name / "hw1") == {student.uid}


def test_a_distribution_targets_a_section_chosen_students_those_behind_or_those_that_failed(
    app, homes: Path, make_students, upstream
):
    ann, ben, cat, dan = make_students(4)
    make_homes(homes, [ann, ben, cat, dan])
    sections = {ann.name: "lab-a", ben.name: "lab-a; lab-b", cat.name: "lab-b"}
    course = course_with("targets", [ann.name, ben.name, cat.name, dan.name], sections)
    hw1 = assignment_of(course, upstream)

    def targeted(distribution) -> list[str]:
        return [d["username"] for d in distribution_json(distribution)["deliveries"]]

    def run(distribution) -> None:
        db.session.commit()
        with workers(app, 1):
            eventually(lambda: settled(distribution.id), "every delivery ran")

    lab_b = distribute(hw1, who=None, section="lab-b")
    assert targeted(lab_b) == sorted([ben.name, cat.name])
    assert lab_b.scope == "section"
    run(lab_b)
    chosen = distribute(hw1, who=None, users=[ann.name])
    assert (targeted(chosen), chosen.scope) == ([ann.name], "users")
    run(chosen)
    # dan never got it: he alone is behind; after a new commit, everyone is.
    assert targeted(distribute(hw1, who=None, only_behind=True)) == [dan.name]
    db.session.rollback()
    upstream.commit({"week2/lab.ipynb": "lab\n"}, "week 2")
    behind = distribute(hw1, who=None, only_behind=True)
    assert targeted(behind) == sorted(s.name for s in (ann, ben, cat, dan))
    # cat's home is now someone else's: her delivery fails, and only hers is retried.
    os.chown(homes / cat.name, dan.uid, dan.gid)
    run(behind)
    summary = distribution_json(behind)
    assert (summary["done"], summary["failed"]) == (3, 1)
    (failed,) = [d for d in summary["deliveries"] if d["state"] == "failed"]
    assert failed["username"] == cat.name
    assert "belongs to uid" in failed["error"]
    os.chown(homes / cat.name, cat.uid, cat.gid)
    retry = distribute(hw1, who=None, retry_failed=True)
    assert (targeted(retry), retry.scope) == ([cat.name], "failed")
    run(retry)
    retried = select(AuditEvent).where(AuditEvent.action == "distribution.retry")
    assert [(e.actor, e.target, e.detail) for e in db.session.scalars(retried)] == [
        ("(command line)", "hw1", {"distribution": retry.id, "scope": "failed", "students": 1})
    ]
    assert states(retry.id) == {"done": 1}
    with pytest.raises(DeliveryError, match="has failed"):
        distribute(hw1, who=None, retry_failed=True)
    with pytest.raises(DeliveryError, match="latest commit"):
        distribute(hw1, who=None, only_behind=True)
    with pytest.raises(DeliveryError, match="Not active students"):
        distribute(hw1, who=None, users=["nobody"])
    with pytest.raises(DeliveryError, match="no active students"):
        distribute(hw1, who=None, section="lab-z")


def test_a_depth_set_after_the_deliveries_were_queued_is_the_history_they_bring(
    app, homes: Path, make_students, upstream
):
    # The worker reads the assignment's depth when it runs the delivery: full history or N
    # commits, for courses that teach git, and the student's own git shows it.
    (student,) = make_students(1)
    make_home(homes, student)
    for number in (2, 3, 4):
        upstream.commit({"README.md": f"# Homework 1, take {number}\n"}, f"take {number}")
    course = course_with("history", [student.name])
    full = assignment_of(course, upstream)
    deep = assignment_of(course, upstream, slug="hw2", target="hw2")
    first, second = distribute(full, who=None), distribute(deep, who=None)
    db.session.commit()
    # NULL: the model's default (1) would replace a None given to the ORM.
    db.session.execute(update(Assignment).where(Assignment.id == full.id).values(depth=None))
    db.session.execute(update(Assignment).where(Assignment.id == deep.id).values(depth=2))
    db.session.commit()
    with workers(app, 1):
        for distribution in (first, second):
            eventually(lambda d=distribution: states(d.id) == {"done": 1}, "delivered")
    home = homes / student.name
    assert student.git(home / "hw1", "log", "--format=%s").splitlines() == [
        "take 4", "take 3", "take 2", "first release"
    ]  # fmt: skip
    assert student.git(home / "hw2", "log", "--format=%s").splitlines() == ["take 4", "take 3"]


def test_a_newer_distribution_supersedes_what_an_older_one_has_not_run_yet(
    app, homes: Path, make_students, upstream
):
    ann, ben = make_students(2)
    make_home(homes, ann)  # ben has no home: his first delivery waits
    hw1 = assignment_for("newer", upstream, [ann, ben])
    first = distribute(hw1, who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: states(first.id) == {"done": 1, "waiting": 1}, "ann's delivered")
    second = distribute(hw1, who=None)
    db.session.commit()
    assert states(first.id) == {"done": 1, "superseded": 1}
    with workers(app, 1):
        eventually(lambda: states(second.id) == {"done": 1, "waiting": 1}, "the second ran")
    assert distribution_json(first)["superseded"] == 1


def test_a_repository_that_leads_into_the_data_dir_since_it_was_queued_is_refused_at_delivery(
    app, homes: Path, make_students, upstream, tmp_path: Path
):
    (student,) = make_students(1)
    make_home(homes, student)
    course = course_with("datadir", [student.name])
    # Saved while it was an ordinary repository, then made a link into Hubclass's own mirrors.
    # distribute() refuses it then too (test_scope.py); here the link is made once queued.
    link = tmp_path / "course-repo.git"
    link.mkdir()
    assignment = assignment_of(course, upstream, repo_url=f"file://{link}")
    distribution = distribute(assignment, who=None)
    db.session.commit()
    link.rmdir()
    mirrors = Path(app.config["HUBCLASS_DATA_DIR"]) / "mirrors"
    mirrors.mkdir(exist_ok=True)
    link.symlink_to(mirrors)
    with workers(app, 1):
        eventually(lambda: states(distribution.id) == {"failed": 1}, "refused")
    error = distribution_json(distribution)["deliveries"][0]["error"]
    assert "Hubclass's own data folder" in error
    assert list((homes / student.name).iterdir()) == []


def test_a_repository_over_a_limit_fails_its_deliveries_naming_the_setting_and_writes_nothing(
    app, homes: Path, make_students, upstream
):
    (student,) = make_students(1)
    make_home(homes, student)
    assignment = assignment_for("limits", upstream, [student])
    app.config["HUBCLASS_MAX_REPO_ENTRIES"] = 3  # the repository: 3 files in 1 folder
    distribution = distribute(assignment, who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: states(distribution.id) == {"failed": 1}, "refused")
    error = distribution_json(distribution)["deliveries"][0]["error"]
    assert "more than 3 files and folders" in error
    assert "raise HUBCLASS_MAX_REPO_ENTRIES (now 3)" in error
    assert list((homes / student.name).iterdir()) == []


def test_a_hub_admin_a_privileged_account_and_a_home_others_can_write_get_nothing_at_once(
    app, homes: Path, make_students, upstream
):
    admin, sudoer, shared, student = make_students(4)
    make_homes(homes, [admin, sudoer, shared, student])
    # As the activity poller copies the Hub's users: the Hub calls `admin` an admin.
    db.session.add_all(
        [HubUserState(username=admin.name, admin=True), HubUserState(username=student.name)]
    )
    subprocess.run(["usermod", "--append", "--groups", "sudo", sudoer.name], check=True)
    (homes / shared.name).chmod(0o777)
    hw1 = assignment_for("privileged", upstream, [admin, sudoer, shared, student])
    distribution = distribute(hw1, who=None)
    db.session.commit()

    with workers(app, 1):
        eventually(lambda: states(distribution.id) == {"failed": 3, "done": 1}, "refused at once")

    errors = {d["username"]: d["error"] for d in distribution_json(distribution)["deliveries"]}
    assert errors[admin.name].startswith(
        "Hub admins get no deliveries into their home: their account can act for everyone"
    )
    assert f"{sudoer.name!r} is in the group 'sudo'" in errors[sudoer.name]
    assert "chmod go-w" in errors[shared.name]
    assert errors[student.name] is None
    for refused in (admin, sudoer, shared):
        assert list((homes / refused.name).iterdir()) == []
    assert (homes / student.name / "hw1" / "README.md").exists()


def test_a_target_folder_now_refused_is_refused_at_distribution_and_at_delivery(
    app, homes: Path, make_students, upstream
):
    (student,) = make_students(1)
    make_home(homes, student)
    # Saved before `bin` was refused (the model takes it as it is): distribute refuses it...
    old = assignment_for("oldbin", upstream, [student], target="bin")
    with pytest.raises(DeliveryError) as refused:
        distribute(old, who=None)
    assert refused.value.code == "target_invalid"
    assert "~/bin is on the PATH" in refused.value.message
    # ...and a delivery queued before the target became `bin` fails without writing anything.
    assignment = assignment_of(old.course, upstream, slug="hw2", target="hw2")
    distribution = distribute(assignment, who=None)
    db.session.commit()
    db.session.execute(
        update(Assignment).where(Assignment.id == assignment.id).values(target="bin")
    )
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: states(distribution.id) == {"failed": 1}, "refused")
    error = distribution_json(distribution)["deliveries"][0]["error"]
    assert error.startswith("The target folder 'bin' is refused: ~/bin is on the PATH")
    assert list((homes / student.name).iterdir()) == []
