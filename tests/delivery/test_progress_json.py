"""The progress JSON (app/delivery/progress_json.py) says each delivery as the pages do, and
reads an ended delivery's report once per result: the page's script asks for it every second."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select, update

from app.assignments.models import Assignment
from app.delivery import distribution_json
from app.delivery.models import RESET, Delivery, Distribution
from app.delivery.service import said
from app.extensions import db
from app.timeutil import utcnow
from tests.delivery.kit import course_with

CLONED = {"outcome": "cloned", "before": None, "after": "2" * 40, "updated": ["a.ipynb"],
          "kept": [], "restored": [], "renamed": [], "error": None, "not_applied": [],
          "missed": []}  # fmt: skip
KEPT = {**CLONED, "outcome": "updated", "before": "1" * 40, "kept": ["a.ipynb", "b.py"]}
STUCK = {**CLONED, "outcome": "needs_attention", "after": None,
         "error": {"code": "operation_in_progress", "message": "In (MERGE_HEAD)."}}  # fmt: skip
FULL = {**CLONED, "outcome": "failed", "after": None,
        "error": {"code": "git_failed", "message": "fatal: No space left on device"}}  # fmt: skip


def _distribution(app) -> int:
    course = course_with("pj", [f"s{i}" for i in range(8)])
    assignment = Assignment(course=course, slug="hw1", title="Homework 1", target="hw1",
                            repo_url="https://git.example.org/hw1.git")  # fmt: skip
    distribution = Distribution(assignment=assignment, scope="course")
    db.session.add_all([assignment, distribution])
    db.session.flush()
    now = utcnow()
    rows = [
        ("s0", "queued", None, None, None, None),
        ("s1", "claimed", None, None, None, None),
        ("s2", "waiting", None, None, "waiting for first login", None),
        ("s3", "done", CLONED, None, None, now),
        ("s4", "done", KEPT, None, None, now),
        ("s5", "attention", STUCK, None, None, now),
        ("s6", "failed", FULL, None, None, now),
        ("s7", "failed", None, "Hub admins get no deliveries into their home: ask one.", None,
         now),
    ]  # fmt: skip
    db.session.add_all(
        Delivery(distribution_id=distribution.id, assignment_id=assignment.id, username=name,
                 state=state, report=report, error=error, waiting_for=waiting,
                 finished_at=finished, outcome=(report or {}).get("outcome"))
        for name, state, report, error, waiting, finished in rows
    )  # fmt: skip
    reset = Delivery(distribution_id=distribution.id, assignment_id=assignment.id,
                     username="s3", kind=RESET, state="done", paths=["a.ipynb"],
                     report={**CLONED, "outcome": "reset"}, finished_at=now)  # fmt: skip
    db.session.add(reset)
    db.session.commit()
    return distribution.id


def _reports_read(app) -> list[str]:
    """The statements that read the report column, from now on."""
    seen: list[str] = []

    def look(conn, cursor, statement, *_):
        if "report" in statement.split("FROM")[0]:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", look)
    return seen


def test_each_delivery_is_said_as_its_page_says_it(app):
    distribution_id = _distribution(app)
    found = distribution_json(db.session.get(Distribution, distribution_id))
    pages = {(d.username, d.kind): said(d) for d in db.session.scalars(select(Delivery))}
    assert {(e["username"], e["kind"]): e["said"] for e in found["deliveries"]} == pages
    assert pages[("s4", "sync")] == "updated; kept 2 of your edits"
    assert pages[("s5", "sync")] == "needs attention: a merge is in progress"
    assert pages[("s6", "sync")] == "failed: disk full"
    assert pages[("s7", "sync")] == "failed: Hub admins get no deliveries into their home"
    (reset,) = [e for e in found["deliveries"] if e["kind"] == RESET]
    assert reset["paths"] == ["a.ipynb"] and reset["report"]["outcome"] == "reset"
    assert (found["total"], found["done"], found["failed"], found["attention"]) == (9, 3, 2, 1)


def test_an_ended_deliverys_report_is_read_once_per_result(app):
    distribution_id = _distribution(app)
    first = distribution_json(db.session.get(Distribution, distribution_id))
    read = _reports_read(app)

    again = distribution_json(db.session.get(Distribution, distribution_id))

    assert again == first
    # Only the reset's report is read again: the JSON shows it whole.
    (statement,) = read
    assert statement.count("?") + statement.count("%(") == 1, statement
    # A result written again (as worker.record() writes one: the report with a new
    # finished_at) is said anew.
    db.session.execute(
        update(Delivery)
        .where(Delivery.username == "s3", Delivery.kind == "sync")
        .values(state="failed", report=FULL, finished_at=utcnow() + timedelta(seconds=1))
    )
    db.session.commit()
    read.clear()
    after = distribution_json(db.session.get(Distribution, distribution_id))
    (s3,) = [e for e in after["deliveries"] if (e["username"], e["kind"]) == ("s3", "sync")]
    assert s3["said"] == "failed: disk full"
    assert len(read) == 1
