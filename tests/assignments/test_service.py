"""The assignment service on its own database (its Hub unreachable): access, storage, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import assignments
from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.auth import Instructor
from app.courses.models import Course
from app.extensions import db

OWNER = Instructor("owner", admin=False, groups=("instructors",), instructor=True)
STRANGER = Instructor("stranger", admin=False, groups=("instructors",), instructor=True)
REPO = "https://github.com/org/week1.git"


@pytest.fixture
def course(app) -> Course:
    made = Course(slug="svc", title="Service", hub_group="course-svc", created_by="owner")
    db.session.add(made)
    db.session.commit()
    return made


def counts() -> tuple[int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Assignment, AuditEvent)
    )


def test_someone_who_does_not_manage_the_course_can_neither_add_nor_change(course):
    added = assignments.add_assignment(course, "week1", who=OWNER, repo_url=REPO)
    db.session.commit()
    before = counts()

    with pytest.raises(assignments.AssignmentError) as adding:
        assignments.add_assignment(course, "week2", who=STRANGER, repo_url=REPO)
    with pytest.raises(assignments.AssignmentError) as changing:
        assignments.change_assignment(added, who=STRANGER, branch="main")

    assert (adding.value.code, adding.value.http_status) == ("not_allowed", 403)
    assert changing.value.message == (
        "Only the teaching staff of 'svc' and Hub admins manage its assignments."
    )
    assert counts() == before
    assert added.branch is None


def test_a_full_history_is_stored_as_null_and_not_as_the_columns_default(course):
    added = assignments.add_assignment(course, "git-course", who=OWNER, repo_url=REPO, depth="full")
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(Assignment, added.id).depth is None
    assert assignments.to_json(added)["depth"] == "full"


def test_the_command_line_adds_with_no_creator_and_the_allow_list_of_the_config(course):
    added = assignments.add_assignment(course, "cli", who=None, repo_url=REPO)

    assert added.created_by is None
    assert assignments.to_json(added)["nbgitpuller_link"].startswith(
        "/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Forg%2Fweek1.git&"
    )
    with pytest.raises(assignments.AssignmentError) as caught:
        assignments.add_assignment(course, "lab", who=None, repo_url="file:///srv/lab.git")
    assert caught.value.code == "url_not_allowed"


def test_a_setting_the_service_does_not_know_is_a_programming_error(course):
    with pytest.raises(TypeError, match="polciy"):
        assignments.add_assignment(course, "typo", who=OWNER, repo_url=REPO, polciy="backup")


def test_a_target_folder_another_assignment_of_the_course_uses_is_refused_naming_it(course):
    week1 = assignments.add_assignment(course, "week1", who=OWNER, repo_url=REPO)
    lab = assignments.add_assignment(course, "lab", who=OWNER, repo_url=REPO, target="lab")
    db.session.commit()
    before = counts()

    refusals = [
        # Given, in another case (one folder on a case-insensitive disk), or the repository's
        # name as the default.
        lambda: assignments.add_assignment(course, "again", who=OWNER, repo_url=REPO),
        lambda: assignments.add_assignment(
            course, "again", who=OWNER, repo_url=REPO, target="Week1"
        ),
        lambda: assignments.change_assignment(lab, who=OWNER, target="week1"),
    ]
    for refused in refusals:
        with pytest.raises(assignments.AssignmentError) as caught:
            refused()
        assert (caught.value.code, caught.value.http_status) == ("target_taken", 409)
        assert "the assignment 'week1' of 'svc' delivers into ~/week1 already" in (
            caught.value.message
        )
        db.session.rollback()

    assert counts() == before
    assert db.session.get(Assignment, lab.id).target == "lab"
    # Its own folder is no conflict, and another course may use the name.
    assert assignments.change_assignment(week1, who=OWNER, target="week1", title="W1") == {
        "title": {"from": "week1", "to": "W1"}
    }
    other = Course(slug="svc2", title="Other", hub_group="course-svc2", created_by="owner")
    db.session.add(other)
    assert assignments.add_assignment(other, "week1", who=OWNER, repo_url=REPO).target == "week1"
