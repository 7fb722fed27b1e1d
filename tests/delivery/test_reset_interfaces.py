"""Resetting a student's files through the API and the page's form, signed in on the suite's
real Hub (the test client is the browser; nobody's home is touched: the resets are queued and
no worker runs here). The form's files come from the service's own mirror."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy import select

from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.delivery import service
from app.delivery.models import Delivery, Distribution
from app.delivery.reset_views import reset_context
from app.extensions import db
from app.gitsync import ensure_mirror
from tests.delivery.kit import assignment_of, course_with
from tests.hubusers import csrf_token, ensure_users, user_token

pytestmark = pytest.mark.hub

PREFIX = "/services/hubclass"
STRANGER = "reset-other"  # an instructor, of none of these courses


@dataclass
class Course:
    app: Flask
    slug: str
    assignment: Assignment
    base: str  # the API's .../assignments/hw1


@pytest.fixture
def course(hub, hub_delivery_app, upstream) -> Iterator[Course]:
    """A course of the suite's instructor whose student ann was given hw1 (a delivery that ran);
    the service's mirror has that commit."""
    ensure_users(hub, ["instructor", STRANGER], groups=["instructors"])
    slug = "resets"
    made = course_with(slug, ["ann", "ben"])
    made.created_by = "instructor"
    hw1 = assignment_of(made, upstream)
    ensure_mirror(upstream.url, None, service.mirrors_dir(), timeout=30)
    given = upstream.commit({}, "the release ann was given")
    ensure_mirror(upstream.url, None, service.mirrors_dir(), timeout=30)
    ran = Distribution(assignment=hw1, scope="users")
    db.session.add(
        Delivery(distribution=ran, assignment=hw1, username="ann", state="done", commit=given)
    )
    db.session.commit()
    yield Course(hub_delivery_app, slug, hw1, f"{PREFIX}/api/v1/courses/{slug}/assignments/hw1")


def _api(hub, app: Flask, name: str = "instructor") -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"token {user_token(hub, name)}"
    return client


def _resets() -> list[dict]:
    db.session.remove()  # read what the requests committed
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery.reset"))
    return [{"actor": e.actor, "target": e.target, **e.detail} for e in rows]


def test_the_api_queues_a_reset_answers_202_and_refuses_what_is_not_a_reset(hub, course):
    client = _api(hub, course.app)
    r = client.post(f"{course.base}/students/ann/reset", json={"paths": ["week1/notes.ipynb"]})
    assert r.status_code == 202, r.text
    started = r.get_json()
    location = r.headers["Location"]
    assert location == f"{PREFIX}/api/v1/distributions/{started['distribution']}"
    followed = client.get(location).get_json()
    assert (followed["scope"], followed["total"], followed["queued"]) == ("reset", 1, 1)
    (entry,) = followed["deliveries"]
    assert (entry["username"], entry["kind"], entry["paths"]) == (
        "ann", "reset", ["week1/notes.ipynb"]
    )  # fmt: skip
    r = client.post(f"{course.base}/students/ann/reset", json={"whole_folder": True})
    assert (r.status_code, r.get_json()["deliveries"][0]["paths"]) == (202, []), r.text

    for body, status, words in (
        ({}, 400, "either the paths or the whole folder"),
        ({"paths": ["README.md"], "whole_folder": True}, 400, "either"),
        ({"whole_folder": False}, 400, "either"),
        ({"paths": []}, 400, "Choose the files"),
        ({"paths": "README.md"}, 400, "'paths' must be a list of strings"),
        ({"paths": ["../../etc/passwd"]}, 400, "'..'"),
        ({"paths": ["/etc/passwd"]}, 400, "not an absolute one"),
        ({"paths": [".git/config"]}, 400, ".git"),
        ({"whole_folder": "yes"}, 400, "must be true or false"),
        ({"everything": True}, 400, "Unknown field 'everything'"),
    ):
        r = client.post(f"{course.base}/students/ann/reset", json=body)
        message = r.get_json()["error"]["message"]
        assert (r.status_code, words in message) == (status, True), (body, r.text)
    r = client.post(f"{course.base}/students/ben/reset", json={"whole_folder": True})
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "not_delivered"), r.text
    for who in ("stranger", "nobody%2Fx"):
        r = client.post(f"{course.base}/students/{who}/reset", json={"whole_folder": True})
        assert r.status_code == 404, r.text
    r = client.post(f"{PREFIX}/api/v1/courses/resets/assignments/nope/students/ann/reset", json={})
    assert r.status_code == 404

    # Another course's instructor: neither the course nor its distributions exist for them.
    other = _api(hub, course.app, STRANGER)
    r = other.post(f"{course.base}/students/ann/reset", json={"whole_folder": True})
    assert r.status_code == 404, r.text
    assert other.get(location).status_code == 404
    assert [(e["actor"], e["target"], e["student"], e["paths"]) for e in _resets()] == [
        ("instructor", "hw1", "ann", ["week1/notes.ipynb"]),
        ("instructor", "hw1", "ann", []),
    ]


def _page(app: Flask, name: str) -> tuple[FlaskClient, str]:
    """A browser signed in as `name`, and the CSRF token of a page it opened (the course list:
    the student's delivery page, which includes the form, is another module's)."""
    client = app.test_client()
    with client.session_transaction(PREFIX + "/") as session:
        session["username"] = name
    with app.app_context():  # its own `g`, where Flask-WTF keeps the page's CSRF token
        page = client.get(f"{PREFIX}/")
    assert page.status_code == 200, page.text
    return client, csrf_token(page.text)


def test_the_page_form_lists_the_course_files_and_queues_the_reset_it_posts(hub, course):
    # Its own app context: Flask-WTF keeps a page's CSRF token in `g` (see _page).
    with course.app.app_context(), course.app.test_request_context(PREFIX + "/"):
        hw1 = db.session.merge(course.assignment)
        context = reset_context(hw1, "ann")
        html = render_template_string(
            '{% include "delivery/_reset.html" %}', assignment=hw1, username="ann", **context
        )
        refused = reset_context(hw1, "ben")["reset_refused"]
    assert context["reset_refused"] is None
    offered = re.findall(r'name="paths" type="checkbox" value="([^"]+)"', html)
    assert offered == ["README.md", "week1/data.csv", "week1/notes.ipynb"], html
    assert 'name="whole_folder"' in html and "The whole folder ~/hw1" in html
    assert 'name="csrf_token"' in html
    assert "has not received" in refused

    client, token = _page(course.app, "instructor")
    action = f"{PREFIX}/courses/resets/assignments/hw1/students/ann/reset"
    back = f"{PREFIX}/courses/resets/assignments/hw1/students/ann"
    r = client.post(action, data={"csrf_token": token, "paths": ["week1/notes.ipynb", "README.md"]})
    assert (r.status_code, r.headers.get("Location")) == (302, back), r.text
    with client.session_transaction(PREFIX + "/") as session:
        ((kind, said),) = session.pop("_flashes")
    assert kind == "message" and said.startswith("Reset of README.md, week1/notes.ipynb for ann")
    db.session.remove()
    (queued,) = db.session.scalars(select(Delivery).where(Delivery.kind == "reset")).all()
    assert (queued.username, queued.paths, queued.state) == (
        "ann", ["README.md", "week1/notes.ipynb"], "queued"
    )  # fmt: skip

    for data, words in (
        ({"paths": ["README.md"], "whole_folder": "y"}, "not both"),
        ({}, "Choose the files"),
        ({"paths": ["../x"]}, "'..'"),
    ):
        r = client.post(action, data={"csrf_token": token, **data})
        assert (r.status_code, r.headers["Location"]) == (302, back), (data, r.text)
        with client.session_transaction(PREFIX + "/") as session:
            ((kind, said),) = session.pop("_flashes")
        assert kind == "error" and words in said, (data, said)
    assert client.post(action, data={"whole_folder": "y"}).status_code == 400  # no CSRF token
    stranger = action.replace("/ann/", "/stranger/")
    assert client.post(stranger, data={"csrf_token": token, "whole_folder": "y"}).status_code == 404
    other, other_token = _page(course.app, STRANGER)
    r = other.post(action, data={"csrf_token": other_token, "whole_folder": "y"})
    assert r.status_code == 404
    assert [e["paths"] for e in _resets()] == [["README.md", "week1/notes.ipynb"]]
