"""Whom a distribution reaches, students who join later included, and the assignments that
distribute() refuses before writing anything (no delivery of them could succeed).

No worker runs here and nobody logs in: the students are rows, not real users.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.courses.models import Course
from app.delivery import distribute
from app.delivery.models import Delivery, Distribution
from app.delivery.pending import deliver_to_joiners, reaches
from app.delivery.service import DeliveryError
from app.extensions import db
from app.roster.models import Enrollment
from tests.delivery.kit import assignment_of, course_with
from tests.gitsync.conftest import Upstream

JOINERS = {"cat": "lab-a", "dan": "lab-b", "eve": None, "fay": "lab-b; lab-a"}


def _rows() -> tuple[int, int]:
    """How many distributions and deliveries there are."""
    return (
        db.session.scalar(select(func.count(Distribution.id))) or 0,
        db.session.scalar(select(func.count(Delivery.id))) or 0,
    )


def _join(course: Course, sections: dict[str, str | None]) -> None:
    db.session.add_all(
        Enrollment(course=course, username=name, section=section)
        for name, section in sections.items()
    )
    db.session.commit()


def _joined() -> list[str]:
    """The students delivered to because they joined later."""
    joined = select(Delivery.username).join(Delivery.distribution)
    return sorted(db.session.scalars(joined.where(Distribution.scope == "joined")))


@pytest.mark.parametrize(
    ("scope", "detail", "reached"),
    [
        ("course", {"section": None, "users": None}, {None}),
        ("section", {"section": "lab-a", "users": None}, {"lab-a"}),
        ("section", {"section": None, "users": None}, set()),
        ("users", {"section": None, "users": ["ann"]}, set()),
        ("behind", {"section": None, "users": None}, {None}),
        ("behind", {"section": "lab-a", "users": None}, {"lab-a"}),
        ("behind", {"section": None, "users": ["ann"]}, set()),
        ("behind", {"section": "lab-a", "users": ["ann"]}, set()),
        ("failed", {"section": None, "users": None}, set()),
        ("joined", {"section": None, "users": ["cat"]}, set()),
    ],
)
def test_a_distribution_reaches_later_joiners_of_its_course_or_section_never_chosen_ones(
    scope: str, detail: dict[str, Any], reached: set[str | None]
):
    assert reaches(scope, detail) == reached


@pytest.mark.parametrize(
    ("how", "joined"),
    [
        ({"users": ["ann"], "only_behind": True}, []),
        ({"section": "lab-a", "only_behind": True}, ["cat", "fay"]),
        ({"only_behind": True}, ["cat", "dan", "eve", "fay"]),
        ({"users": ["ann"]}, []),
        ({"section": "lab-a"}, ["cat", "fay"]),
        ({}, ["cat", "dan", "eve", "fay"]),
    ],
    ids=["users-behind", "section-behind", "course-behind", "users", "section", "course"],
)
def test_students_who_join_later_get_only_what_their_course_or_section_was_given(
    app, upstream: Upstream, how: dict[str, Any], joined: list[str]
):
    course = course_with("reach", ["ann", "ben"], {"ann": "lab-a", "ben": "lab-b"})
    hw1 = assignment_of(course, upstream)
    first = distribute(hw1, who=None, **how)
    db.session.commit()
    targeted = list(
        db.session.scalars(select(Delivery.username).where(Delivery.distribution_id == first.id))
    )
    _join(course, JOINERS)

    assert deliver_to_joiners() == len(joined)
    db.session.commit()
    assert _joined() == joined
    # Nobody else either: ben, left out by the first one, stays without.
    everyone = sorted(db.session.scalars(select(Delivery.username)))
    assert everyone == sorted(targeted + joined)
    assert deliver_to_joiners() == 0


def _undeliverable(kind: str, app, course: Course, upstream: Upstream) -> Assignment:
    """An assignment of `course` saved when it was fine, that no delivery could succeed for now."""
    assignment = assignment_of(course, upstream)
    if kind == "target":
        assignment.target = ".hidden"
    elif kind == "url_not_allowed":  # the allow-list was narrowed since
        app.config["HUBCLASS_ALLOWED_REPO_URLS"] = ["https://git.example.org/"]
    elif kind == "url_data_dir":
        assignment.repo_url = f"file://{Path(app.config['HUBCLASS_DATA_DIR']) / 'mirrors'}"
    db.session.commit()
    db.session.refresh(assignment)
    return assignment


REFUSALS = [
    ("target", "target_invalid", "is refused: it starts with"),
    ("url_not_allowed", "url_not_allowed", "is not under an allowed prefix"),
    ("url_data_dir", "url_data_dir", "Hubclass's own data folder"),
]
FIX = {
    "target_invalid": "Give the assignment a plain folder name",
    "url_not_allowed": "Change the assignment's repository URL",
    "url_data_dir": "Change the assignment's repository URL",
}


@pytest.mark.parametrize(("kind", "code", "words"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_distribute_refuses_an_assignment_no_delivery_could_succeed_for_and_writes_nothing(
    app, upstream: Upstream, kind: str, code: str, words: str
):
    course = course_with("refused", ["ann", "ben"], {"ann": "lab-a"})
    assignment = _undeliverable(kind, app, course, upstream)
    for how in ({}, {"section": "lab-a"}, {"users": ["ann"]}, {"only_behind": True}):
        with pytest.raises(DeliveryError) as refused:
            distribute(assignment, who=None, **how)
        error = refused.value
        assert (error.code, error.http_status) == (code, 400), how
        assert words in error.message and FIX[code] in error.message, error.message
        db.session.rollback()
        assert _rows() == (0, 0), how
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 0


@pytest.mark.parametrize(
    ("kind", "code", "words"), REFUSALS, ids=["target", "url_allowed", "data_dir"]
)
def test_the_command_line_refuses_it_too_exits_1_and_writes_nothing(
    app, upstream: Upstream, kind: str, code: str, words: str
):
    course = course_with("clirefused", ["ann"])
    _undeliverable(kind, app, course, upstream)
    runner = app.test_cli_runner()
    for extra in ([], ["--only-behind"]):
        result = runner.invoke(args=["distribute", "clirefused", "hw1", *extra])
        assert result.exit_code == 1, result.output
        assert words in result.output and FIX[code] in result.output, result.output
        db.session.remove()
        assert _rows() == (0, 0)


def test_joiners_get_no_delivery_of_an_assignment_that_became_undeliverable_logged_once(
    app, upstream: Upstream, caplog: pytest.LogCaptureFixture
):
    course = course_with("skipjoin", ["ann"])
    hw1 = assignment_of(course, upstream)
    distribute(hw1, who=None)
    db.session.commit()
    hw1.target = ".hw1"  # changed since: every delivery of it would fail
    db.session.commit()
    _join(course, {"cat": None})
    before = _rows()

    with caplog.at_level(logging.INFO, logger="app.delivery.pending"):
        assert deliver_to_joiners() == 0
        assert deliver_to_joiners() == 0
    db.session.commit()
    assert _rows() == before
    skipped = [r.getMessage() for r in caplog.records if "joined later" in r.getMessage()]
    assert len(skipped) == 1, skipped
    assert "skipjoin" in skipped[0] and "The target folder '.hw1' is refused" in skipped[0]

    hw1.target = "hw1"  # fixed: cat gets it at the next poll
    db.session.commit()
    assert deliver_to_joiners() == 1
    db.session.commit()
    assert _joined() == ["cat"]
