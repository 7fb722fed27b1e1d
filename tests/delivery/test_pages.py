"""The delivery pages through the Flask test client, signed in as the suite Hub's instructor:
the Distribute form, a distribution's progress and its filter, the retry and distribute-again
buttons, a student's delivery page, and who may see them. Deliveries are real (real users'
homes, a real upstream, worker threads of the app)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.delivery.models import Delivery, Distribution
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
from tests.hubusers import csrf_token, ensure_users

pytestmark = [pytest.mark.hub, pytest.mark.root]

PREFIX = "/services/hubclass"
HOSTILE = "<img src=x onerror=alert(1)>"


def signed_in(app, name: str = "instructor") -> FlaskClient:
    client = app.test_client()
    with client.session_transaction(PREFIX + "/") as session:
        session["username"] = name
    return client


def alert(page: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def rows(page: str) -> dict[str, tuple[str, str, bool]]:
    """The progress table: username -> (state, outcome words, hidden)."""
    found = re.findall(
        r'<tr data-username="([^"]*)" data-state="(\w+)"( hidden)?>.*?data-cell="said">(.*?)</td>',
        page,
        re.S,
    )
    return {html.unescape(u): (state, html.unescape(said), bool(h)) for u, state, h, said in found}


def count(page: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}">(\d+)<', page).group(1))


def distributions() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(Distribution))


class Pages:
    """The instructor on the course's pages."""

    def __init__(self, client: FlaskClient, course: str):
        self.client = client
        self.base = f"{PREFIX}/courses/{course}/assignments/hw1"

    def get(self, path: str = "", **query) -> str:
        # Every request of a test runs in the fixture's one app context, where Flask-WTF keeps
        # the last page's CSRF token (in `g`): each person's page must make its own.
        g.pop("csrf_token", None)
        r = self.client.get(self.base + path, query_string=query)
        assert r.status_code == 200, r.text
        return r.text

    def distribute(self, **fields) -> tuple[int, str]:
        """Post the Distribute form; (status, where it went or the page it answered)."""
        data = {"to": "course", "only": "all", "section": "", "users": "", **fields}
        data["csrf_token"] = csrf_token(self.get())
        r = self.client.post(self.base + "/distributions", data=data)
        return r.status_code, r.headers.get("Location") or r.text

    def press(self, page: str, button: str) -> str:
        """Post the form of the page's button `button`, as the browser would; the new page."""
        for form in re.findall(r"<form method=\"post\".*?</form>", page, re.S):
            if f">{button}</button>" in form:
                fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
                action = html.unescape(re.search(r'action="([^"]+)"', form).group(1))
                r = self.client.post(action, data={k: html.unescape(v) for k, v in fields.items()})
                assert r.status_code == 302, r.text
                return r.headers["Location"]
        raise AssertionError(f"no button {button!r}")


def test_distribute_read_the_progress_filter_it_retry_the_failed_and_distribute_again(
    hub_delivery_app, homes: Path, make_students, upstream
):
    app = hub_delivery_app
    ann, ben, cat, dan = make_students(4)
    make_homes(homes, [ann, ben])  # cat never logged in
    make_home(homes, dan).chmod(0o777)  # others could write into dan's home: refused
    names = [ann.name, ben.name, cat.name, dan.name, HOSTILE]
    course = course_with("pages", names, {ann.name: "lab-a", ben.name: "lab-a; lab-b"})
    course.created_by = "instructor"
    assignment_of(course, upstream)
    pages = Pages(signed_in(app), "pages")

    page = pages.get()
    assert '<option value="lab-a">lab-a</option><option value="lab-b">lab-b</option>' in page
    assert 'id="progress"' not in page  # nothing distributed yet

    # Refusals: flashed in the instructor's words, the form as posted, nothing created.
    for fields, words in (
        ({"to": "section"}, "Choose the section to send it to."),
        ({"to": "users", "users": f"{ann.name}, stranger"}, "Not active students of the course"),
        ({"only": "failed"}, "No delivery of 'hw1' in the course 'pages' has failed."),
        ({"to": "section", "section": "lab-z"}, "no active students in section 'lab-z'"),
    ):
        status, answer = pages.distribute(**fields)
        assert status == 400 and words in alert(answer), (fields, alert(answer))
    assert distributions() == 0
    status, answer = pages.distribute(to="users", users=f"{ann.name} stranger")
    assert f'value="{ann.name} stranger"' in answer  # what was typed stays

    with workers(app, 1):
        status, where = pages.distribute()
        assert status == 302 and where.endswith("/distributions/1"), where
        eventually(lambda: settled(1), "the first distribution ends")
    page = pages.get("/distributions/1")
    assert "Distribution 1 of hw1 started: 5 students queued." in page
    table = rows(page)
    assert table[ann.name] == ("done", "received", False)
    assert table[cat.name] == ("waiting", "waiting for first login", False)
    # The delivery's own refusal, cut to its first clause (and to a table's width).
    assert table[dan.name][0] == "failed"
    assert table[dan.name][1].startswith(f"failed: The home '{homes / dan.name}' can be written")
    assert [count(page, k) for k in ("queued", "running", "done", "failed", "waiting")] == [
        0,
        0,
        2,
        1,
        2,
    ]
    assert '<progress id="bar-1" max="5" value="3"' in page
    # Outside text is text: the hostile name is escaped, never markup.
    assert HOSTILE not in page and html.escape(HOSTILE, quote=True) in page
    assert "data-when-failed hidden" not in page  # something failed: the retry button shows

    # The filter works without a script: the other rows are hidden, not dropped.
    waiting = rows(pages.get("/distributions/1", show="waiting"))
    assert {name for name, row in waiting.items() if not row[2]} == {cat.name, HOSTILE}
    assert len(waiting) == 5
    assert 'value="waiting" selected' in pages.get("/distributions/1", show="waiting")
    assert len(rows(pages.get("/distributions/1", show="\u0661"))) == 5  # unknown: everyone

    # The same words in the JSON the script polls (with the browser's session).
    summary = pages.client.get(f"{PREFIX}/api/v1/distributions/1").json
    said = {d["username"]: d["said"] for d in summary["deliveries"]}
    assert said[ann.name] == "received" and summary["failed"] == 1
    assert {"username", "state", "outcome", "commit", "error", "waiting_for"} <= set(
        summary["deliveries"][0]
    )

    # Retry the failed ones: only dan, whose home is fixed now.
    (homes / dan.name).chmod(0o750)
    with workers(app, 1):
        where = pages.press(page, "Retry the failed ones")
        eventually(lambda: settled(2), "the retry ends")
    retried = pages.get("/distributions/2")
    assert rows(retried) == {dan.name: ("done", "received", False)}
    assert "data-when-failed hidden" in retried

    # Distribute again after the course changed: ben's edit is kept, ann's merge is left alone.
    ben.write(homes / ben.name / "hw1" / "week1" / "notes.ipynb", "line 1\nben's answer\nline 3\n")
    ann.write(homes / ann.name / "hw1" / ".git" / "MERGE_HEAD", "0" * 40 + "\n")
    upstream.commit({"week1/data.csv": "a,b\n1,2\n3,4\n"}, "more data")
    with workers(app, 1):
        where = pages.press(page, "Distribute again")
        eventually(lambda: settled(3), "the second distribution ends")
    again = pages.get()  # the assignment's page shows the newest one
    table = rows(again)
    assert table[ben.name][1] == "updated; kept 1 of your edits"
    assert table[ann.name][:2] == ("attention", "needs attention: a merge is in progress")
    assert table[cat.name][1] == "waiting for first login"
    assert "distribution 3" in again and 'id="distributions"' in again  # and lists the others

    # Ben's delivery page: the engine's whole report, and every delivery to him.
    student = pages.get(f"/students/{ben.name}")
    assert "updated; kept 1 of your edits" in student
    assert re.search(r"Their edits, kept.*<code>week1/notes.ipynb</code>", student, re.S)
    assert '<section class="card" id="reset">' in student  # the reset form, for this student
    assert re.search(r"Updated from the course.*<code>week1/data.csv</code>", student, re.S)
    assert student.count('/distributions/1">1</a>') == 1 and '/distributions/3">3</a>' in student
    newest = db.session.scalars(
        select(Delivery).where(Delivery.username == ben.name).order_by(Delivery.id.desc())
    ).first()
    assert f"<code>{newest.report['before']}</code>" in student
    assert f"<code>{newest.report['after']}</code>" in student
    # A report from before the engine said it per cell ("missed"): its not_applied (the
    # course's change the student's side won over) is named.
    older = {key: value for key, value in newest.report.items() if key != "missed"}
    newest.report = {**older, "not_applied": ["week1/notes.ipynb"]}
    db.session.commit()
    again = html.unescape(pages.get(f"/students/{ben.name}"))
    assert "<h4><code>week1/notes.ipynb</code></h4>" in again
    assert "some of the course's change to this file did not arrive" in again
    attention = pages.get(f"/students/{ann.name}")
    assert "<code>operation_in_progress</code>" in attention and "MERGE_HEAD" in attention
    hostile = pages.client.get(pages.base + "/students/" + HOSTILE)
    assert hostile.status_code == 200 and HOSTILE not in hostile.text
    assert pages.client.get(pages.base + "/students/nobody").status_code == 404


def test_only_the_course_managers_see_its_distributions(
    hub, hub_delivery_app, homes: Path, upstream
):
    app = hub_delivery_app
    ensure_users(hub, ["otherteacher"], groups=["instructors"])
    ours = course_with("mine", ["ada"])
    ours.created_by = "instructor"
    assignment_of(ours, upstream)
    theirs = course_with("theirs", ["bob"])
    theirs.created_by = "otherteacher"
    assignment_of(theirs, upstream)
    mine = Pages(signed_in(app), "mine")
    assert mine.distribute()[0] == 302  # ada waits: no account on this machine
    other = Pages(signed_in(app, "otherteacher"), "theirs")
    assert other.distribute()[0] == 302
    stranger = signed_in(app, "otherteacher")
    for path in ("", "/distributions/1", "/students/ada"):
        assert stranger.get(mine.base + path).status_code == 404, path
    g.pop("csrf_token", None)
    token = csrf_token(stranger.get(PREFIX + "/").text)
    r = stranger.post(mine.base + "/distributions", data={"csrf_token": token})
    assert r.status_code == 404
    # Another assignment's distribution is not this one's.
    assert mine.client.get(mine.base + "/distributions/2").status_code == 404
    assert mine.client.get(f"{PREFIX}/api/v1/distributions/2").status_code == 404
    assert signed_in(app, "student1").get(mine.base).status_code == 403
    assert distributions() == 2
