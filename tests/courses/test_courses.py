"""Courses: created and listed through the pages, the API and the CLI, with the same rules."""

from __future__ import annotations

import html
import json
import time

import pytest
import requests

from app import courses
from app.audit.models import AuditEvent
from app.auth import Instructor
from app.extensions import db
from tests.conftest import HUB_VERSION, TEST_AUTH_CACHE_SECONDS
from tests.hubusers import csrf_token, sign_in, user_token

TEACHER = Instructor("teacher", admin=False, groups=("instructors",), instructor=True)


def no_groups(name: str) -> None:
    """A stand-in for a Hub that has no group of that name."""
    return None


@pytest.mark.parametrize(
    "slug",
    ["", "Data100", "data 100", "-data", "data-", "da--ta", "a" * 41, "../x", "<b>x</b>", "é"],
)
def test_unsafe_slugs_are_refused_with_a_reason(app, slug):
    with pytest.raises(courses.CourseError) as caught:
        courses.create_course(slug, "T", who=TEACHER, group_members=no_groups)
    assert caught.value.code == "invalid_slug"
    assert "lowercase" in caught.value.message


def test_create_course_records_an_audit_event(app):
    course = courses.create_course("data100", "Data 100", who=TEACHER, group_members=no_groups)
    db.session.commit()
    assert course.hub_group == "course-data100"
    assert course.created_by == "teacher"
    event = db.session.scalars(db.select(AuditEvent)).one()
    assert (event.actor, event.action, event.target) == ("teacher", "course.create", "data100")
    with pytest.raises(courses.CourseError) as caught:
        courses.create_course("data100", "Again", who=TEACHER, group_members=no_groups)
    assert caught.value.code == "exists"


@pytest.mark.hub
def test_cli_create_and_list(hub_app):
    runner = hub_app.test_cli_runner()
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
    assert f"JupyterHub {HUB_VERSION}" in page.text
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

    # The owner adds teacher-b by username on the course page: teacher-b manages it too.
    session, page = sign_in(hub, "instructor", "courses/mine")
    token = csrf_token(page.text)

    def save_staff(who: requests.Session, users: str = "", groups: str = "") -> str:
        return html.unescape(
            who.post(
                hub.service_url + "courses/mine/staff",
                data={"staff_users": users, "instructor_groups": groups, "csrf_token": token},
            ).text
        )

    assert "Teaching staff saved" in save_staff(session, users="teacher-b")
    assert requests.get(f"{base}/mine", headers=other).json()["staff_users"] == ["teacher-b"]
    assert "The Hub has no user 'nobody-here'" in save_staff(session, users="nobody-here")
    assert "is not a Hub group name" in save_staff(session, groups="ok, <b>bad</b>")
    assert "group of students" in save_staff(session, groups="course-mine")
    # A group the instructor is not in would hand its members this course: only admins may.
    ensure_users(hub, ["teacher-c"], groups=["mine-staff", "service-visitors"])
    refused = save_staff(session, users="teacher-b", groups="mine-staff")
    assert "You are not in the Hub group 'mine-staff'" in refused
    assert requests.get(f"{base}/mine", headers=other).json()["instructor_groups"] == []
    admin_session, admin_page = sign_in(hub, "hubadmin", "courses/mine")
    token = csrf_token(admin_page.text)
    assert "Teaching staff saved" in save_staff(admin_session, groups="mine-staff")
    assert "No Hub group is called no-such-group" in save_staff(
        admin_session, groups="mine-staff, no-such-group"
    )
    third = {"Authorization": f"token {user_token(hub, 'teacher-c')}"}
    time.sleep(TEST_AUTH_CACHE_SECONDS + 0.5)  # teacher-c's groups are re-read from the Hub
    assert requests.get(f"{base}/mine", headers=third).status_code == 200


@pytest.mark.hub
def test_teaching_staff_act_on_their_course_only_and_are_never_removed(hub):
    from tests.hubusers import api as api_session
    from tests.hubusers import ensure_users, make_course, post_roster, roster_csv

    # The TA may reach the service (some Hubs let everyone) but is not an instructor.
    ensure_users(hub, ["ta-only"], groups=["service-visitors"])
    owner = api_session(hub)
    make_course(hub, owner, "solo")
    make_course(hub, owner, "solo-other")
    post_roster(hub, owner, "solo", roster_csv(["ta-only", "solostu"]), apply=1)
    ta = {"Authorization": f"token {user_token(hub, 'ta-only')}"}
    base = hub.service_url + "api/v1/courses"
    assert requests.get(f"{base}/solo", headers=ta).status_code == 403

    session, page = sign_in(hub, "instructor", "courses/solo")
    saved = session.post(
        hub.service_url + "courses/solo/staff",
        data={"staff_users": "ta-only", "csrf_token": csrf_token(page.text)},
    )
    assert "Teaching staff saved" in saved.text
    time.sleep(TEST_AUTH_CACHE_SECONDS + 0.5)
    assert requests.get(f"{base}/solo", headers=ta).status_code == 200
    # Staff of one course: not another course, no new courses, no new staff.
    assert requests.get(f"{base}/solo-other", headers=ta).status_code == 404
    assert [c["slug"] for c in requests.get(base, headers=ta).json()["courses"]] == ["solo"]
    # Nor the service's settings and scopes, which are for instructors and admins.
    assert requests.get(hub.service_url + "api/v1/status", headers=ta).status_code == 403
    created = requests.post(base, json={"slug": "ta-made"}, headers=ta)
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "not_allowed"
    ta_session, ta_page = sign_in(hub, "ta-only", "courses/solo")
    assert "New course" not in sign_in(hub, "ta-only")[1].text
    assert 'action="/services/hubclass/courses/solo/staff"' not in ta_page.text
    grab = ta_session.post(
        hub.service_url + "courses/solo/staff",
        data={"staff_users": "ta-only, solostu", "csrf_token": csrf_token(ta_page.text)},
    )
    assert "Only the course&#39;s instructors and Hub admins" in grab.text
    assert requests.get(f"{base}/solo", headers=owner.headers).json()["staff_users"] == ["ta-only"]

    result = post_roster(
        hub, owner, "solo", roster_csv(["solostu"]), remove="delete", apply=1, confirm="solo"
    )
    assert result["protected"] == [
        {"username": "ta-only", "reason": "teaching staff of this course"}
    ]
