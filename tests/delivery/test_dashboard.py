"""The course dashboard's assignment columns (app/delivery/dashboard.py): each student's standing
per assignment on the page, in the CSV and the API, the "behind or failed" filter, the newest
commit the service noted, and the rule itself (states.standing)."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import event, select

from app.activity import columns as dashboard_columns
from app.activity import students as dashboard
from app.assignments.models import Assignment
from app.assignments.service import change_assignment
from app.delivery import distribute, reset
from app.delivery.models import RESET, Delivery, Distribution
from app.delivery.states import NEEDS_ACTION, Standing, State, standing
from app.extensions import db
from tests.delivery.kit import (
    assignment_of,
    course_with,
    eventually,
    make_home,
    make_homes,
    settled,
    workers,
)
from tests.delivery.test_pages import PREFIX, signed_in

OLD, NEW = "a" * 40, "b" * 40


@pytest.mark.parametrize(
    ("state", "commit", "latest", "expected"),
    [
        (None, None, NEW, Standing.NOT_DELIVERED),
        (State.SUPERSEDED, None, NEW, Standing.NOT_DELIVERED),
        (State.QUEUED, None, NEW, Standing.DELIVERING),
        (State.CLAIMED, None, NEW, Standing.DELIVERING),
        (State.WAITING, None, NEW, Standing.WAITING),
        (State.FAILED, None, NEW, Standing.FAILED),
        (State.ATTENTION, None, NEW, Standing.ATTENTION),
        (State.DONE, NEW, NEW, Standing.CURRENT),
        (State.DONE, OLD, NEW, Standing.BEHIND),
        (State.DONE, OLD, None, Standing.DELIVERED),  # the branch never read: unknown
        (State.DONE, None, NEW, Standing.DELIVERED),
    ],
)
def test_a_students_standing_follows_their_newest_sync_and_the_newest_known_commit(
    state, commit, latest, expected
):
    assert standing(state, commit, latest) == expected


def test_behind_failed_and_attention_need_action_waiting_and_not_delivered_do_not():
    assert {Standing.BEHIND, Standing.FAILED, Standing.ATTENTION} == NEEDS_ACTION


def _sync(assignment: Assignment, username: str, state: str, commit: str | None = None, **kw):
    distribution = Distribution(assignment=assignment, scope="course")
    db.session.add(
        Delivery(
            distribution=distribution,
            assignment=assignment,
            username=username,
            state=state,
            commit=commit,
            **kw,
        )
    )
    db.session.commit()


def test_the_columns_take_two_queries_whatever_the_course_and_a_reset_changes_no_standing(app):
    names = [f"s{i:03d}" for i in range(60)]
    course = course_with("cols", names)
    hws = []
    for number in range(1, 6):
        hw = Assignment(
            course=course, slug=f"hw{number}", title=f"Homework {number}", repo_url="file:///x",
            target=f"hw{number}", latest_commit=NEW,
        )  # fmt: skip
        db.session.add(hw)
        hws.append(hw)
    db.session.commit()
    for name in names:
        for hw in hws:
            _sync(hw, name, State.DONE, OLD if name.endswith("7") else NEW)
    _sync(hws[0], "s000", State.FAILED)  # newer: failed now
    _sync(hws[0], "s000", State.SUPERSEDED)  # never ran: no input
    _sync(hws[1], "s001", State.DONE, NEW, kind=RESET)  # a reset: no input
    _sync(hws[1], "s007", State.FAILED, kind=RESET)
    _sync(hws[2], "gone", State.DONE, NEW)  # no longer a student

    db.session.refresh(course)  # loaded before counting, as the page has it
    queries: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        queries.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        found = dashboard_columns.read(course, names)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(queries) == 2, queries  # the assignments, their newest syncs
    assert [c.slug for c in found.columns] == ["hw1", "hw2", "hw3", "hw4", "hw5"]
    assert set(found.cells) == set(names)
    assert found.cells["s000"]["hw1"].state == "failed"
    assert found.cells["s000"]["hw1"].needs_action
    assert found.cells["s000"]["hw2"].state == "current"
    assert found.cells["s001"]["hw2"].state == "current"
    assert found.cells["s007"]["hw2"].state == "behind"  # its failed reset changes nothing
    assert found.cells["s007"]["hw2"].commit == OLD

    rows = dashboard.students(course)
    dashboard.with_assignments(course, rows)
    behind = dashboard.select_rows(rows, show=dashboard.Show.BEHIND)
    assert [r.username for r in behind] == ["s000", "s007", "s017", "s027", "s037", "s047", "s057"]


def test_the_newest_commit_is_noted_when_read_and_forgotten_when_the_branch_changes(app, upstream):
    course = course_with("noted", ["ann"])
    hw1 = assignment_of(course, upstream)
    changed = hw1.updated_at
    assert hw1.latest_commit is None
    head = upstream.commit({"README.md": "# Homework 1, again\n"}, "second release")
    distribute(hw1, who=None, only_behind=True)  # reads the branch to find who is behind
    db.session.commit()
    db.session.expire_all()
    assert hw1.latest_commit == head and hw1.latest_checked_at is not None
    assert hw1.updated_at == changed  # the instructor changed nothing

    change_assignment(hw1, who=None, title="Homework one")
    assert hw1.latest_commit == head
    change_assignment(hw1, who=None, branch="week2")  # another branch: unknown until fetched
    db.session.commit()
    assert hw1.latest_commit is None and hw1.latest_checked_at is None


def _cells(page: str) -> dict[str, dict[str, tuple[str, str]]]:
    """The dashboard's table: username -> assignment slug -> (state, title)."""
    table = page.split("<tbody>")[1].split("</tbody>")[0]
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        name = re.search(r"<td><code>([^<]*)</code>", row)
        if not name:
            continue
        cells = re.findall(
            r'<td data-assignment="([^"]+)"><span class="badge standing-[\w-]+"'
            r'(?: title="([^"]*)")?>([^<]*)</span>',
            row,
        )
        found[html.unescape(name.group(1))] = {s: (w, html.unescape(t)) for s, t, w in cells}
    return found


@pytest.mark.hub
@pytest.mark.root
def test_the_dashboard_shows_each_students_standing_per_assignment_in_page_csv_and_api(
    hub_delivery_app, homes: Path, make_students, upstream
):
    app = hub_delivery_app
    ann, ben, cat, dan = make_students(4)
    make_homes(homes, [ann, ben])  # cat never logged in: waits
    make_home(homes, dan).chmod(0o777)  # others could write into dan's home: fails
    course = course_with("board", [ann.name, ben.name, cat.name, dan.name])
    course.created_by = "instructor"
    hw1 = assignment_of(course, upstream)
    assignment_of(course, upstream, slug="hw2", title="Homework 2", target="hw2")
    first = distribute(hw1, who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: settled(first.id), "the first distribution ends")
    db.session.expire_all()
    old = hw1.latest_commit  # noted by the worker's fetch
    assert old is not None and hw1.latest_checked_at is not None

    newer = upstream.commit({"week1/data.csv": "a,b\n1,2\n3,4\n"}, "more data")
    second = distribute(hw1, who=None, users=[ann.name])
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: settled(second.id), "the second distribution ends")
    db.session.expire_all()
    assert hw1.latest_commit == newer

    client = signed_in(app)
    page = client.get(f"{PREFIX}/courses/board")
    assert page.status_code == 200, page.text
    cells = _cells(page.text)
    hw1_states = {name: cells[name]["hw1"][0] for name in cells}
    assert hw1_states == {
        ann.name: "current",
        ben.name: "behind",
        cat.name: "waiting",
        dan.name: "failed",
    }
    assert cells[ben.name]["hw1"][1] == f"commit {old[:12]}"
    assert {cells[name]["hw2"][0] for name in cells} == {"not delivered"}
    # The column's header: a link to the assignment's page, the commit the service read.
    assert f'href="{PREFIX}/courses/board/assignments/hw1" title="Homework 1">hw1</a>' in page.text
    assert f'latest commit <code title="{newer}">{newer[:7]}</code>, checked' in page.text
    assert 'value="behind" >behind or failed</option>' in page.text

    behind = client.get(f"{PREFIX}/courses/board", query_string={"show": "behind"})
    assert set(_cells(behind.text)) == {ben.name, dan.name}  # waiting is not theirs to act on

    export = client.get(f"{PREFIX}/courses/board/students.csv")
    lines = list(csv.reader(io.StringIO(export.text)))
    assert lines[0][-3:] == ["server", "hw1", "hw2"]
    by_name = {row["username"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert [by_name[s.name]["hw1"] for s in (ann, ben, cat, dan)] == [
        "current", "behind", "waiting", "failed",
    ]  # fmt: skip
    assert by_name[ann.name]["hw2"] == "not delivered"

    data = client.get(f"{PREFIX}/api/v1/courses/board/students").json
    assert [a["slug"] for a in data["assignments"]] == ["hw1", "hw2"]
    assert data["assignments"][0]["latest_commit"] == newer
    assert data["assignments"][0]["latest_checked_at"].endswith("Z")
    assert data["assignments"][1]["latest_commit"] is None  # never fetched
    students = {s["username"]: s["assignments"] for s in data["students"]}
    assert students[ann.name]["hw1"]["state"] == "current"
    assert students[ann.name]["hw1"]["commit"] == newer
    assert students[ben.name]["hw1"] == {
        "state": "behind",
        "commit": old,
        "at": students[ben.name]["hw1"]["at"],
        "needs_action": True,
    }
    assert students[cat.name]["hw1"]["commit"] is None
    assert students[dan.name]["hw1"]["state"] == "failed"
    assert students[dan.name]["hw2"] == {
        "state": "not delivered",
        "commit": None,
        "at": None,
        "needs_action": False,
    }

    # A reset puts back what ben was given: he stays behind.
    put_back = reset(hw1, ben.name, None, who=None)
    db.session.commit()
    with workers(app, 1):
        eventually(lambda: settled(put_back.id), "the reset ends")
    ran = db.session.scalar(select(Delivery.state).where(Delivery.distribution_id == put_back.id))
    assert ran == State.DONE
    again = client.get(f"{PREFIX}/api/v1/courses/board/students").json
    assert {s["username"]: s["assignments"]["hw1"]["state"] for s in again["students"]}[
        ben.name
    ] == "behind"
