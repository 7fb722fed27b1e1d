"""Courses: created and listed through the pages, the API and the CLI, with the same rules."""

from __future__ import annotations

import json
import time

import pytest
import requests

from app import courses
from app.extensions import db
from app.models import AuditEvent
from tests.conftest import TEST_AUTH_CACHE_SECONDS
from tests.hubusers import csrf_token, sign_in, user_token


@pytest.mark.parametrize(
    "slug",
    ["", "Data100", "data 100", "-data", "data-", "da--ta", "a" * 41, "../x", "<b>x</b>", "é"],
)
def test_unsafe_slugs_are_refused_with_a_reason(app, slug):
    with pytest.raises(courses.CourseError) as caught:
        courses.create_course(slug, "T", actor="teacher")
    assert caught.value.code == "invalid_slug"
    assert "lowercase" in caught.value.message


def test_create_course_records_an_audit_event(app):
    course = courses.create_course("data100", "Data 100", actor="teacher")
    db.session.commit()
    assert course.hub_group == "course-data100"
    event = db.session.scalars(db.select(AuditEvent)).one()
    assert (event.actor, event.action, event.target) == ("teacher", "course.create", "data100")
    with pytest.raises(courses.CourseError) as caught:
        courses.create_course("data100", "Again", actor="teacher")
    assert caught.value.code == "exists"


def test_cli_create_and_list(runner):
    result = runner.invoke(args=["course", "create", "intro", "--title", "Intro to Python"])
    assert result.exit_code == 0, result.output
    assert "course-intro" in result.output
    result = runner.invoke(args=["course", "list", "--json"])
    listed = json.loads(result.output)
    assert [(c["slug"], c["title"], c["hub_group"]) for c in listed] == [
        ("intro", "Intro to Python", "course-intro")
    ]
    result = runner.invoke(args=["course", "create", "Bad Slug"])
    assert result.exit_code == 1
    assert "cannot be a course slug" in result.output


@pytest.mark.hub
def test_instructor_creates_a_course_with_the_form(hub):
    session, page = sign_in(hub, "instructor")
    token = csrf_token(page.text)
    r = session.post(
        hub.service_url + "courses",
        data={"slug": "form-made", "title": "Made <b>here</b>", "csrf_token": token},
    )
    assert r.status_code == 200
    assert r.url == hub.service_url + "courses/form-made"
    assert "course-form-made" in r.text
    assert "Made &lt;b&gt;here&lt;/b&gt;" in r.text  # escaped, not markup
    bad = session.post(
        hub.service_url + "courses", data={"slug": "Bad Slug", "title": "", "csrf_token": token}
    )
    assert bad.status_code == 400
    assert "cannot be a course slug" in bad.text


@pytest.mark.hub
def test_api_creates_and_lists_courses(hub):
    headers = {"Authorization": f"token {user_token(hub, 'instructor')}"}
    r = requests.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "api-made", "title": "API"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["hub_group"] == "course-api-made"
    again = requests.post(
        hub.service_url + "api/v1/courses", json={"slug": "api-made"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "exists"
    listed = requests.get(hub.service_url + "api/v1/courses", headers=headers).json()
    assert "api-made" in [c["slug"] for c in listed["courses"]]
    missing = requests.get(hub.service_url + "api/v1/courses/nope", headers=headers)
    assert missing.status_code == 404


@pytest.mark.hub
def test_status_page_shows_hub_version_scopes_and_no_secrets(hub):
    session, _ = sign_in(hub, "instructor")
    page = session.get(hub.service_url + "status")
    assert page.status_code == 200
    assert "JupyterHub 6." in page.text
    assert "every scope Hubclass needs" in page.text
    assert "Schema up to date" in page.text
    assert hub.service_token not in page.text
    secret = (hub.service_data_dir / "secret_key").read_text().strip()
    assert secret not in page.text
    data = session.get(hub.service_url + "api/v1/status").json()
    assert data["ok"] is True
    assert data["last_poll"].endswith("Z")  # the background poller has run
    assert data["missing_scopes"] == []


@pytest.mark.hub
@pytest.mark.parametrize("body", ["[1, 2]", '"data100"', "null", "{not json"])
def test_api_refuses_a_body_that_is_not_an_object(hub, body):
    headers = {
        "Authorization": f"token {user_token(hub, 'instructor')}",
        "Content-Type": "application/json",
    }
    r = requests.post(hub.service_url + "api/v1/courses", data=body, headers=headers)
    assert r.status_code == 400
    assert "JSON object" in r.json()["error"]["message"]


@pytest.mark.hub
def test_instructors_manage_only_their_own_courses_until_given_a_group(hub):
    from tests.hubusers import ensure_users

    ensure_users(hub, ["teacher-b", "ta-b"], groups=["instructors"])
    owner = {"Authorization": f"token {user_token(hub, 'instructor')}"}
    other = {"Authorization": f"token {user_token(hub, 'teacher-b')}"}
    admin = {"Authorization": f"token {user_token(hub, 'hubadmin')}"}
    r = requests.post(hub.service_url + "api/v1/courses", json={"slug": "mine"}, headers=owner)
    assert r.status_code == 201
    base = hub.service_url + "api/v1/courses"
    assert requests.get(f"{base}/mine", headers=other).status_code == 404
    assert requests.get(f"{base}/mine/students", headers=other).status_code == 404
    roster = requests.post(
        f"{base}/mine/roster",
        data=b"a@example.edu\n",
        headers={**other, "Content-Type": "text/csv"},
    )
    assert roster.status_code == 404
    assert "mine" not in [c["slug"] for c in requests.get(base, headers=other).json()["courses"]]
    assert requests.get(f"{base}/mine", headers=admin).status_code == 200  # Hub admins see all

    # The owner names a staff group on the course page: its members manage the course too.
    ensure_users(hub, ["teacher-b"], groups=["mine-staff"])
    session, page = sign_in(hub, "instructor", "courses/mine")
    saved = session.post(
        hub.service_url + "courses/mine/staff",
        data={"instructor_groups": "mine-staff", "csrf_token": csrf_token(page.text)},
    )
    assert "Teaching staff saved" in saved.text
    time.sleep(TEST_AUTH_CACHE_SECONDS + 0.5)  # teacher-b's groups are re-read from the Hub
    assert requests.get(f"{base}/mine", headers=other).json()["instructor_groups"] == ["mine-staff"]
    bad = session.post(
        hub.service_url + "courses/mine/staff",
        data={"instructor_groups": "ok, <b>bad</b>", "csrf_token": csrf_token(page.text)},
    )
    assert "is not a Hub group name" in bad.text
    students = session.post(
        hub.service_url + "courses/mine/staff",
        data={"instructor_groups": "course-mine", "csrf_token": csrf_token(page.text)},
    )
    assert "group of students" in students.text
    missing = session.post(
        hub.service_url + "courses/mine/staff",
        data={
            "instructor_groups": "mine-staff, no-such-group",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert "No Hub group is called no-such-group" in missing.text


@pytest.mark.hub
def test_teaching_staff_outside_the_instructors_group_get_in_and_are_never_removed(hub):
    from tests.hubusers import api as api_session
    from tests.hubusers import ensure_users, hub_group, make_course, post_roster, roster_csv

    # The TA is in the course's staff group and may reach the service, but is not an instructor.
    ensure_users(hub, ["ta-only"], groups=["solo-tas", "service-visitors"])
    owner = api_session(hub)
    make_course(hub, owner, "solo")
    post_roster(hub, owner, "solo", roster_csv(["ta-only", "solostu"]), apply=1)
    ta = {"Authorization": f"token {user_token(hub, 'ta-only')}"}
    assert requests.get(hub.service_url + "api/v1/courses/solo", headers=ta).status_code == 403

    session, page = sign_in(hub, "instructor", "courses/solo")
    session.post(
        hub.service_url + "courses/solo/staff",
        data={"instructor_groups": "solo-tas", "csrf_token": csrf_token(page.text)},
    )
    time.sleep(TEST_AUTH_CACHE_SECONDS + 0.5)
    assert requests.get(hub.service_url + "api/v1/courses/solo", headers=ta).status_code == 200
    result = post_roster(
        hub, owner, "solo", roster_csv(["solostu"]), remove="delete", apply=1, confirm="solo"
    )
    assert [p["username"] for p in result["protected"]] == ["ta-only"]
    assert "ta-only" in hub_group(hub, "solo-tas")
