"""The audit log page, its CSV and GET /api/v1/audit against the real Hub: who sees which
events (an instructor their courses', a TA their course's, a Hub admin all, also those of no
course), each filter, paging, hostile filter values, and the CSV's formula escaping.

Two courses: A, made by `instructor` with the staff group of the TA `alogta`, and B, made by
another instructor. The session's one service database holds other tests' events too, so
assertions name these courses, or check that nothing else shows.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app import audit
from app.audit.actions import ACTIONS
from app.audit.models import AuditEvent
from app.courses import CLI_ACTOR
from app.courses.models import Course
from app.extensions import db
from app.timeutil import iso_z
from tests.hubusers import absolute, api, ensure_users, post_roster, roster_csv, sign_in

pytestmark = pytest.mark.hub

A, B, PAGED = "alog-a", "alog-b", "alog-paged"
OTHER = "alogprof"  # the instructor of B
TA = "alogta"  # teaching staff of A, through A's staff group
TA_GROUP = "alog-tas"
# A roster file's name is the apply event's target: one a spreadsheet would run.
FORMULA_FILE = '=HYPERLINK("http://evil.example/","x").csv'
GHOST = "alog-ghost"  # the target of an event of no course
REPO = "file:///nonexistent/alog/week1.git"


@pytest.fixture(scope="module")
def world(hub):
    """A's and B's events, made through the API: creations, roster applies, assignments."""
    ensure_users(hub, ["instructor"], groups=[TA_GROUP])
    ensure_users(hub, [TA], groups=[TA_GROUP, "service-visitors"])
    ensure_users(hub, [OTHER], groups=["instructors"])
    mine, other = api(hub), api(hub, OTHER)
    for who, slug, groups in ((mine, A, [TA_GROUP]), (other, B, []), (mine, PAGED, [])):
        body = {"slug": slug, "title": slug.upper(), "instructor_groups": groups}
        r = who.post(hub.service_url + "api/v1/courses", json=body)
        assert r.status_code == 201, r.text
    post_roster(hub, mine, A, roster_csv(["aloga1", "aloga2"]), apply=1, filename=FORMULA_FILE)
    post_roster(hub, other, B, roster_csv(["alogb1"]), apply=1)
    for who, slug in ((mine, A), (other, B)):
        r = who.post(hub.service_url + f"api/v1/courses/{slug}/assignments",
                     json={"slug": "week1", "repo_url": REPO})  # fmt: skip
        assert r.status_code == 201, r.text
    r = mine.patch(
        hub.service_url + f"api/v1/courses/{A}/assignments/week1", json={"depth": "full"}
    )
    assert r.status_code == 200, r.text
    return hub


@pytest.fixture
def stored(world, service_app):
    """The ids of A's and B's events, read from the service's database."""
    db.session.remove()
    return {slug: course_events(slug) for slug in (A, B)}


def course_events(slug: str) -> list[int]:
    """The ids of a course's events, newest first."""
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    query = select(AuditEvent.id).where(AuditEvent.course_id == course.id)
    return list(db.session.scalars(query.order_by(AuditEvent.id.desc())))


def shown_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-event="(\d+)"', page)]


def alert(page: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def api_events(session, hub, **params) -> list[dict]:
    """Every event the API gives for these filters, page by page (`older` as `before`)."""
    found: list[dict] = []
    while True:
        r = session.get(hub.service_url + "api/v1/audit", params=params)
        assert r.status_code == 200, r.text
        found += r.json()["events"]
        if r.json()["older"] is None:
            return found
        params = {**params, "before": r.json()["older"]}


# -- who sees what ------------------------------------------------------------------------------


def test_an_instructor_sees_their_courses_events_and_none_of_another_course(world, stored):
    hub = world
    browser, page = sign_in(hub, "instructor", "audit")
    assert page.status_code == 200, page.text
    assert shown_ids(page.text)
    assert not set(shown_ids(page.text)) & set(stored[B])
    mine = set(stored[A])
    r = browser.get(hub.service_url + "audit", params={"course": A})
    assert shown_ids(r.text) == stored[A]

    everything = api_events(api(hub), hub)
    assert {e["id"] for e in everything} >= mine
    assert not {e["id"] for e in everything} & set(stored[B])
    assert {e["course"] for e in everything} >= {A, PAGED}
    assert B not in {e["course"] for e in everything}
    assert None not in {e["course"] for e in everything}


def test_the_other_instructor_sees_only_their_course(world, stored):
    hub = world
    found = api_events(api(hub, OTHER), hub)
    assert [e["id"] for e in found if e["course"] == B] == stored[B]
    assert {e["course"] for e in found} == {B}
    _, page = sign_in(hub, OTHER, "audit")
    assert set(shown_ids(page.text)) == set(stored[B])


def test_a_teaching_assistant_sees_the_course_they_are_staff_of_only(world, stored):
    hub = world
    found = api_events(api(hub, TA), hub)
    assert [e["id"] for e in found] == stored[A]
    _, page = sign_in(hub, TA, f"courses/{A}/audit")
    assert shown_ids(page.text) == stored[A]
    _, other = sign_in(hub, TA, f"courses/{B}/audit")
    assert other.status_code == 404
    assert not shown_ids(other.text)


def test_a_hub_admin_sees_every_course_and_the_events_of_no_course(world, stored, service_app):
    hub = world
    ghost = audit.record(CLI_ACTOR, "course.create", target=GHOST, title="no course")
    db.session.commit()
    found = api_events(api(hub, "hubadmin"), hub)
    ids = {e["id"] for e in found}
    assert set(stored[A]) | set(stored[B]) | {ghost.id} <= ids
    assert [e for e in found if e["id"] == ghost.id] == [
        {"id": ghost.id, "at": iso_z(ghost.at), "actor": CLI_ACTOR,
         "action": "course.create", "course": None, "target": GHOST,
         "detail": {"title": "no course"}},
    ]  # fmt: skip
    _, page = sign_in(hub, "hubadmin", "audit")
    assert ghost.id in shown_ids(page.text)
    # Nobody else sees it, not even through a filter on its action.
    for name in ("instructor", TA, OTHER):
        theirs = api_events(api(hub, name), hub, action="course.create")
        assert ghost.id not in {e["id"] for e in theirs}


def test_another_course_cannot_be_reached_through_the_filter_the_csv_or_its_page(world, stored):
    hub = world
    browser, _ = sign_in(hub, "instructor")
    message = f"There is no course '{B}' that you teach"
    for path in ("audit", "audit.csv"):
        r = browser.get(hub.service_url + path, params={"course": B})
        assert r.status_code == 400 and message in html.unescape(r.text), r.text
        assert not shown_ids(r.text)
    r = api(hub).get(hub.service_url + "api/v1/audit", params={"course": B})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unknown_course"
    assert message in r.json()["error"]["message"]
    for path in (f"courses/{B}/audit", f"courses/{B}/audit.csv"):
        assert browser.get(hub.service_url + path).status_code == 404
    # B's instructor as an actor: nothing of B comes through.
    assert api_events(api(hub), hub, actor=OTHER) == []


# -- filters ------------------------------------------------------------------------------------


def test_each_filter_narrows_the_list_and_they_combine(world, stored):
    hub = world
    session = api(hub)
    by_course = api_events(session, hub, course=A)
    assert [e["id"] for e in by_course] == stored[A]
    assert [e["action"] for e in by_course][::-1] == [
        "course.create", "roster.accounts", "roster.apply", "assignment.add",
        "assignment.change",
    ]  # fmt: skip
    assert {e["actor"] for e in api_events(session, hub, actor="instructor")} == {"instructor"}
    assert api_events(session, hub, actor="nobody-here") == []
    adds = api_events(session, hub, action="assignment.add")
    assert {e["action"] for e in adds} == {"assignment.add"}
    assert stored[A][1] in {e["id"] for e in adds}  # A's week1 addition
    both = api_events(session, hub, course=A, actor="instructor", action="roster.apply")
    assert [(e["course"], e["target"]) for e in both] == [(A, FORMULA_FILE)]
    assert both[0]["detail"]["students"] == {"created": ["aloga1", "aloga2"]}
    assert both[0]["detail"]["groups_created"] == [f"course-{A}"]

    browser, _ = sign_in(hub, "instructor")
    r = browser.get(hub.service_url + "audit", params={"course": A, "action": "roster.apply"})
    assert shown_ids(r.text) == [both[0]["id"]]
    assert "roster applied to the Hub" in r.text
    # The filters stay in the form and in the export link.
    assert f'<option value="{A}" selected>' in r.text
    assert f"audit.csv?course={A}&amp;action=roster.apply" in r.text
    r = browser.get(hub.service_url + f"courses/{A}/audit", params={"action": "assignment.change"})
    assert shown_ids(r.text) == [stored[A][0]]
    assert "changed:</span> depth: 1 → full" in r.text


def test_the_course_page_shows_that_course_only_whatever_the_course_parameter(world, stored):
    hub = world
    browser, page = sign_in(hub, "instructor", f"courses/{A}/audit")
    assert shown_ids(page.text) == stored[A]
    assert 'aria-current="page">Audit log</a>' in page.text
    r = browser.get(hub.service_url + f"courses/{A}/audit", params={"course": PAGED})
    assert shown_ids(r.text) == stored[A]


HOSTILE = [
    ({"course": "../alog-a"}, "There is no course '../alog-a' that you teach"),
    ({"course": "<script>alert(1)</script>"}, "There is no course '<script>alert(1)</script>'"),
    ({"course": "x" * 1000}, "There is no course 'xxxx"),
    ({"actor": "ada\u202egnp.exe"}, "is not a username"),
    ({"actor": "a" * 300}, "at most 255 characters"),
    ({"action": "course.delete"}, "'course.delete' is not an action of the log"),
    ({"action": "<img src=x onerror=alert(1)>"}, "is not an action of the log"),
    ({"before": "-1"}, "before must be the number of an event"),
    ({"before": "0"}, "before must be the number of an event"),
    ({"before": "9" * 20}, "before must be the number of an event"),
    ({"after": "\u0661\u0662"}, "after must be the number of an event"),
    ({"after": "1.5"}, "after must be the number of an event"),
]


@pytest.mark.parametrize(("params", "said"), HOSTILE, ids=[str(p)[:30] for p, _ in HOSTILE])
def test_a_hostile_filter_gets_a_clear_400_on_the_page_the_csv_and_the_api(world, params, said):
    hub = world
    browser, _ = sign_in(hub, "instructor")
    page = browser.get(hub.service_url + "audit", params=params)
    assert page.status_code == 400
    assert said in alert(page.text)
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert 'name="actor"' in page.text  # the form is still there to mend the filter
    if not {"before", "after"} & set(params):  # the CSV has every page: it reads no paging
        r = browser.get(hub.service_url + "audit.csv", params=params)
        assert r.status_code == 400 and said in html.unescape(r.text)
    r = api(hub).get(hub.service_url + "api/v1/audit", params=params)
    assert r.status_code == 400 and said in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-5"])
def test_the_api_limit_is_a_number_from_1_to_500(world, limit):
    r = api(world).get(world.service_url + "api/v1/audit", params={"limit": limit})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "invalid_limit",
        "message": f"limit must be a number from 1 to 500, not {limit!r}.",
    }


def test_a_nul_in_a_filter_is_refused_before_the_log_is_read(world):
    r = api(world).get(world.service_url + "api/v1/audit", params={"actor": "a\x00b"})
    assert r.status_code == 400
    assert "NUL" in r.json()["error"]["message"]


# -- paging -------------------------------------------------------------------------------------


@pytest.fixture
def paged(world, service_app) -> list[int]:
    """120 more events of the course PAGED (written as the service writes them), newest first."""
    course = db.session.scalar(select(Course).where(Course.slug == PAGED))
    if len(course_events(PAGED)) < 121:
        for i in range(120):
            audit.record("instructor", "assignment.change", course=course, target=f"p{i:03}",
                         changed={"title": {"from": i, "to": i + 1}})  # fmt: skip
        db.session.commit()
    return course_events(PAGED)


def test_the_page_goes_older_and_newer_by_fifty_and_misses_no_event(world, paged):
    hub = world
    browser, first = sign_in(hub, "instructor", f"courses/{PAGED}/audit")
    pages = [shown_ids(first.text)]
    text = first.text
    while 'rel="next"' in text:
        older = html.unescape(re.search(r'href="([^"]+)" rel="next"', text).group(1))
        text = browser.get(absolute(hub, older)).text
        pages.append(shown_ids(text))
    assert [len(p) for p in pages] == [50, 50, 21]
    assert [i for p in pages for i in p] == paged
    # From the last page, Newer goes back one page, and Newest to the first.
    newer = html.unescape(re.search(r'href="([^"]+)" rel="prev"', text).group(1))
    assert shown_ids(browser.get(absolute(hub, newer)).text) == pages[1]
    assert 'rel="prev"' not in first.text


def test_the_api_pages_by_its_limit_and_the_filters_hold_across_pages(world, paged):
    hub = world
    session = api(hub)
    walked = api_events(session, hub, course=PAGED, limit=7)
    assert [e["id"] for e in walked] == paged
    changes = api_events(session, hub, course=PAGED, action="assignment.change", limit=50)
    assert [e["id"] for e in changes] == paged[:-1]  # all but the course's creation
    r = session.get(hub.service_url + "api/v1/audit",
                    params={"course": PAGED, "after": paged[10], "limit": 5})  # fmt: skip
    assert [e["id"] for e in r.json()["events"]] == paged[5:10]
    assert r.json()["newer"] == paged[5] and r.json()["older"] == paged[9]


# -- the CSV ------------------------------------------------------------------------------------


def test_the_csv_holds_the_filtered_events_with_cells_a_spreadsheet_will_not_run(world, stored):
    hub = world
    browser, _ = sign_in(hub, "instructor")
    r = browser.get(hub.service_url + f"courses/{A}/audit.csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"] == f'attachment; filename="{A}-audit.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["id"]) for row in rows] == stored[A]
    assert list(rows[0]) == ["id", "at", "actor", "action", "course", "target", "detail"]
    applied = next(row for row in rows if row["action"] == "roster.apply")
    assert applied["target"] == "'" + FORMULA_FILE
    assert json.loads(applied["detail"])["counts"] == {"created": 2}
    assert {row["course"] for row in rows} == {A}

    # The whole log's export holds what the API gives, every course the reader manages.
    r = browser.get(hub.service_url + "audit.csv", params={"action": "assignment.add"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    expected = api_events(api(hub), hub, action="assignment.add")
    assert [int(row["id"]) for row in rows] == [e["id"] for e in expected]
    assert B not in {row["course"] for row in rows}


def test_the_csv_streams_a_log_longer_than_one_batch(world, paged, monkeypatch):
    # Against the service's own rows, through the same functions, with a batch of 7.
    from app.audit import log

    monkeypatch.setattr(log, "EXPORT_BATCH", 7)
    course = db.session.scalar(select(Course).where(Course.slug == PAGED))
    lines = list(log.csv_lines(log.every_event(None, log.Filters(course=course))))
    assert len(lines) == 1 + len(paged)
    assert [int(line.split(",", 1)[0]) for line in lines[1:]] == paged


# -- every action is in the log's table ---------------------------------------------------------


def test_every_recorded_action_is_one_the_log_names():
    app_dir = Path(__file__).resolve().parents[2] / "app"
    source = "".join(path.read_text() for path in app_dir.rglob("*.py"))
    # The action is among the first words of each call: a literal, or two in an if-else.
    calls = [source[m.end() : m.end() + 200] for m in re.finditer(r"audit\.record\(", source)]
    recorded = {a for call in calls for a in re.findall(r"\"([a-z]+\.[a-z_]+)\"", call)}
    assert len(calls) >= 9 and "distribution.retry" in recorded
    assert recorded <= set(ACTIONS), recorded - set(ACTIONS)
