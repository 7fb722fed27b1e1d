"""The course dashboard against the real Hub: logins, activity, servers, escaping, export."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import pytest

from app.courses.models import Course
from app.extensions import db
from app.roster.models import Enrollment
from app.web.pages import PAGE_SIZE
from tests.hubusers import api, hub_login, sign_in

pytestmark = pytest.mark.hub


def enrol(hub, session, slug: str, rows: list[tuple[str, str, str]]) -> None:
    """Create a course and apply a roster of (username, name, section) rows."""
    r = session.post(hub.service_url + "api/v1/courses", json={"slug": slug, "title": slug})
    assert r.status_code == 201, r.text
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "name", "email", "section"])
    for username, name, section in rows:
        writer.writerow([username, name, f"{username}@example.edu", section])
    r = session.post(
        hub.service_url + f"api/v1/courses/{slug}/roster",
        params={"apply": 1, "username_from": "column:username"},
        data=out.getvalue().encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text


def students_when(hub, session, slug: str, ready, timeout: float = 20) -> dict[str, dict]:
    """Poll the API until `ready(students)` holds (the service polls the Hub in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        data = session.get(hub.service_url + f"api/v1/courses/{slug}/students").json()
        students = {s["username"]: s for s in data["students"]}
        if ready(students) or time.monotonic() > deadline:
            return students
        time.sleep(0.5)


def test_signed_in_students_show_as_logged_in_and_the_rest_as_never(hub):
    session = api(hub)
    names = [f"dash{i}" for i in range(6)]
    enrol(
        hub,
        session,
        "dash",
        [(n, f"Student {n}", "A" if i < 3 else "B") for i, n in enumerate(names)],
    )
    for name in names[:2]:
        hub_login(hub, name)  # the form, then /hub/home: the Hub records activity
    students = students_when(
        hub, session, "dash", lambda s: all(s[n]["logged_in"] for n in names[:2])
    )
    assert {n for n, s in students.items() if s["logged_in"]} == set(names[:2])
    assert all(students[n]["active_now"] for n in names[:2])
    assert all(students[n]["first_login"] is None for n in names[2:])
    assert students["dash0"]["section"] == "A"
    assert set(students["dash0"]) >= {
        "username", "name", "section", "first_login", "last_activity", "logged_in",
        "active_now", "server", "assignments",
    }  # fmt: skip

    browser, _ = sign_in(hub, "instructor")
    page = browser.get(hub.service_url + "courses/dash")
    assert page.status_code == 200
    assert "<strong>6</strong> enrolled" in page.text
    assert "<strong>2</strong> logged in at least once" in page.text
    assert "<strong>4</strong> never logged in" in page.text
    never = browser.get(hub.service_url + "courses/dash", params={"show": "never"}).text
    assert "dash5" in never and "dash0" not in never.split("<tbody>")[1].split("</tbody>")[0]
    assert "dash2@example.edu, dash3@example.edu" in page.text  # the copyable list
    section_b = browser.get(hub.service_url + "courses/dash", params={"section": "B"}).text
    body = section_b.split("<tbody>")[1]
    assert "dash3" in body and "dash0" not in body
    lab = browser.get(hub.service_url + "courses/dash/lab").text
    assert 'http-equiv="refresh"' in lab
    assert "<svg" in page.text  # the activity chart


def test_a_started_server_shows_as_running(hub):
    session = api(hub)
    enrol(hub, session, "servers", [("srv1", "Server One", ""), ("srv2", "Server Two", "")])
    r = hub.admin().post(f"{hub.api_url}/users/srv1/server")
    assert r.status_code in (201, 202), r.text
    students = students_when(hub, session, "servers", lambda s: s["srv1"]["server"] == "running")
    assert students["srv1"]["server"] == "running"
    assert students["srv2"]["server"] == "stopped"
    hub.admin().delete(f"{hub.api_url}/users/srv1/server")
    students = students_when(hub, session, "servers", lambda s: s["srv1"]["server"] == "stopped")
    assert students["srv1"]["server"] == "stopped"


def test_markup_in_names_is_escaped_and_the_csv_escapes_formulas(hub):
    session = api(hub)
    enrol(
        hub,
        session,
        "escapes",
        [("esc1", "<script>alert(1)</script>", "<b>S</b>"), ("esc2", '=HYPERLINK("x")', "+1")],
    )
    browser, _ = sign_in(hub, "instructor")
    page = browser.get(hub.service_url + "courses/escapes").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>S</b>" not in page
    export = browser.get(hub.service_url + "courses/escapes/students.csv")
    assert export.headers["Content-Type"].startswith("text/csv")
    assert export.headers["Content-Disposition"].startswith("attachment;")
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(export.text))}
    assert rows["esc2"]["name"] == '\'=HYPERLINK("x")'
    assert rows["esc2"]["section"] == "'+1"
    assert rows["esc1"]["name"] == "<script>alert(1)</script>"  # data, not a formula: kept


def test_cli_status_and_poll(hub):
    session = api(hub)
    enrol(hub, session, "clistatus", [("cls1", "Cli One", "")])
    env = {
        "PATH": "/usr/bin:/bin",
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "HUBCLASS_DATA_DIR": str(hub.service_data_dir),
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    poll = subprocess.run([*flask, "poll"], env=env, capture_output=True, text=True, check=False)
    assert poll.returncode == 0, poll.stderr
    assert "Polled" in poll.stdout
    status = subprocess.run(
        [*flask, "status", "clistatus", "--json"], env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert [s["username"] for s in data["students"]] == ["cls1"]
    assert data["students"][0]["logged_in"] is False
    missing = subprocess.run(
        [*flask, "status", "nope"], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1
    assert "no course 'nope'" in missing.stderr


def test_a_big_course_is_shown_a_page_at_a_time_and_every_student_counted(hub_app):
    """260 students: the dashboard's table shows 250 a page, filtered and sorted over all of
    them, and so does the roster page's; the counts and the CSV cover everyone."""
    course = Course(slug="big", title="Big", hub_group="course-big", created_by="instructor")
    db.session.add(course)
    db.session.add_all(
        Enrollment(course=course, username=f"s{i:04d}", name=f"Student {i:04d}")
        for i in range(PAGE_SIZE + 10)
    )
    db.session.commit()
    client = hub_app.test_client()
    with client.session_transaction("/services/hubclass/") as session:
        session["username"] = "instructor"

    def table(**params) -> tuple[list[str], str]:
        page = client.get("/services/hubclass/courses/big", query_string=params)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        body = text.split("<tbody>")[1].split("</tbody>")[0]
        return [part.split("</code>")[0] for part in body.split("<code>")[1:]], text

    first, text = table()
    assert first == [f"s{i:04d}" for i in range(PAGE_SIZE)]
    assert f"<strong>{PAGE_SIZE + 10}</strong> enrolled" in text
    assert f"Students 1\u2013{PAGE_SIZE} of {PAGE_SIZE + 10}" in text
    assert "page=2" in text and 'rel="next"' in text and 'rel="prev"' not in text
    second, text = table(page=2)
    assert second == [f"s{i:04d}" for i in range(PAGE_SIZE, PAGE_SIZE + 10)]
    assert 'rel="prev"' in text and 'rel="next"' not in text
    assert table(page=99)[0] == second  # past the end: the last page
    assert table(page="x")[0] == first
    # Sorted over everyone, then paged: the newest name first.
    assert table(sort="name", desc="1")[0][0] == f"s{PAGE_SIZE + 9:04d}"
    few, text = table(q="s02", sort="username", desc="1")
    assert few == [f"s{i:04d}" for i in range(PAGE_SIZE + 9, 199, -1)]
    assert "Students 1\u2013" not in text  # one page: no pages to go through
    exported = client.get("/services/hubclass/courses/big/students.csv").get_data(as_text=True)
    assert len(exported.splitlines()) == PAGE_SIZE + 11
    for number, expected in ((1, range(PAGE_SIZE)), (2, range(PAGE_SIZE, PAGE_SIZE + 10))):
        roster = client.get("/services/hubclass/courses/big/roster/", query_string={"page": number})
        text = roster.get_data(as_text=True)
        body = text.split("<tbody>")[1].split("</tbody>")[0]
        assert [p.split("</code>")[0] for p in body.split("<code>")[1:]] == [
            f"s{i:04d}" for i in expected
        ]
        assert f"{PAGE_SIZE + 10} students</span>" in text
        assert f"page {number} of 2" in text
