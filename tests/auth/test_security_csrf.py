"""CSRF and safe methods: a signed-in browser's cookie alone never changes anything.

SECURITY.md item 14 (every state-changing route is a POST with a CSRF token; a same-site page
cannot post on the instructor's behalf; GET never changes state).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from flask import Flask

from app import create_app
from app.config import from_env
from tests import test_browser
from tests.conftest import hub_env
from tests.hubusers import (
    csrf_token,
    hub_group,
    hub_has,
    make_course,
    roster_csv,
    sign_in,
    user_token,
)

pytestmark = pytest.mark.hub

browser = test_browser.browser  # the module's Chromium, shared with the browser tests

# Written by the activity poller on its own timer, whatever requests come in: a copy of the
# Hub's state, not a change anybody asked for.
POLLER_TABLES = {"hub_user_state", "activity_sample", "lease"}


def instructor_api(hub) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"token {user_token(hub, 'instructor')}"
    return session


def course_slugs(hub) -> set[str]:
    courses = instructor_api(hub).get(hub.service_url + "api/v1/courses").json()["courses"]
    return {c["slug"] for c in courses}


def db_state(hub) -> dict[str, list]:
    """Every row of every table of the service's database, but the poller's copies."""
    path = hub.service_data_dir / "hubclass.sqlite"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name not in POLLER_TABLES
        ]
        return {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in tables}  # noqa: S608


def hub_state(hub) -> dict[str, tuple]:
    """Each Hub user's admin flag, groups and server, and each group's members."""
    admin = hub.admin()
    state = {}
    for kind in ("users", "groups"):
        offset = 0
        while True:
            r = admin.get(
                f"{hub.api_url}/{kind}",
                params={"offset": offset, "limit": 200},
                headers={"Accept": "application/jupyterhub-pagination+json"},
            )
            body = r.json()
            for item in body["items"]:
                state[f"{kind}/{item['name']}"] = (
                    item.get("admin"),
                    tuple(sorted(item.get("groups") or item.get("users") or ())),
                    bool(item.get("server")),
                )
            if not body["_pagination"]["next"]:
                break
            offset = body["_pagination"]["next"]["offset"]
    return state


def test_the_api_with_a_session_cookie_but_no_csrf_token_cannot_post(hub):
    session, page = sign_in(hub, "instructor")
    make_course(hub, instructor_api(hub), "cookieonly")
    created = session.post(hub.service_url + "api/v1/courses", json={"slug": "cookie-made"})
    assert created.status_code == 400
    assert created.json()["error"]["code"] == "csrf"
    roster = session.post(
        hub.service_url + "api/v1/courses/cookieonly/roster",
        params={"apply": "1"},
        data=roster_csv(["cookievictim"]),
        headers={"Content-Type": "text/csv"},
    )
    assert roster.status_code == 400
    assert roster.json()["error"]["code"] == "csrf"
    assert "cookie-made" not in course_slugs(hub)
    assert not hub_has(hub, "cookievictim")
    assert hub_group(hub, "course-cookieonly") == []
    # The same session with its token is an instructor's browser at work: that one passes.
    ok = session.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "cookie-made"},
        headers={"X-CSRFToken": csrf_token(page.text)},
    )
    assert ok.status_code == 201


def test_a_csrf_token_from_another_session_is_refused(hub):
    victim, _ = sign_in(hub, "instructor")
    _, attacker_page = sign_in(hub, "hubadmin")
    stolen = csrf_token(attacker_page.text)
    r = victim.post(
        hub.service_url + "courses",
        data={"slug": "borrowed-token", "title": "x", "csrf_token": stolen},
    )
    assert r.status_code == 400
    assert "form expired" in r.text
    r = victim.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "borrowed-token"},
        headers={"X-CSRFToken": stolen},
    )
    assert r.status_code == 400
    assert "borrowed-token" not in course_slugs(hub)


ATTACK_PAGES = {
    # A plain form, as any page may hold.
    "/form": """<form method="post" action="{service}courses">
        <input name="slug" value="csrf-form"><input name="title" value="x"></form>
        <script>document.forms[0].submit()</script>""",
    # The roster API, applying: text/plain needs no CORS preflight.
    "/api": """<form method="post" enctype="text/plain"
        action="{service}api/v1/courses/csrf-target/roster?apply=1&remove=delete&confirm=csrf-target">
        <input name="csrfvictim@example.edu" value=""></form>
        <script>document.forms[0].submit()</script>""",
    # fetch() from script, the cookie included, the answer unreadable (no-cors) but sent.
    "/fetch": """<script>
        fetch("{service}api/v1/courses", {{method: "POST", mode: "no-cors",
          credentials: "include", headers: {{"Content-Type": "text/plain"}},
          body: JSON.stringify({{slug: "csrf-fetch"}})}})
          .finally(() => {{ document.title = "sent"; }});
        </script>""",
}


@pytest.fixture
def attacker_site(hub):
    """Pages on another loopback port: same site as the Hub (ports do not make sites)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = ATTACK_PAGES[self.path].format(service=hub.service_url).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.browser
def test_a_same_site_page_cannot_post_on_the_instructors_behalf(hub, browser, attacker_site):
    api = instructor_api(hub)
    make_course(hub, api, "csrf-target")
    api.post(hub.service_url + "api/v1/courses/csrf-target/roster", params={"apply": 1},
             data=roster_csv(["csrfkept"]), headers={"Content-Type": "text/csv"})  # fmt: skip
    context = browser.new_context()
    page = context.new_page()
    test_browser.hub_sign_in(page, hub, "instructor")
    page.wait_for_url(hub.service_url)

    page.goto(attacker_site + "/form")
    page.wait_for_url(hub.service_url + "courses")
    # The session cookie went along (same site), so it is the CSRF check that refused it:
    # without the cookie the answer would be the sign-in redirect.
    assert "The form expired" in page.content()
    page.goto(attacker_site + "/api")
    page.wait_for_url("**/roster?**")
    assert '"code":"csrf"' in page.content().replace(" ", "")
    page.goto(attacker_site + "/fetch")
    page.wait_for_function("document.title === 'sent'")
    context.close()

    assert {"csrf-form", "csrf-fetch"}.isdisjoint(course_slugs(hub))
    assert hub_group(hub, "course-csrf-target") == ["csrfkept"]
    assert hub_has(hub, "csrfkept")
    assert not hub_has(hub, "csrfvictim")


def _get_routes(data_dir) -> list[str]:
    """Every GET route of the app as it is now, with its arguments filled in."""
    app: Flask = create_app(from_env(hub_env(HUBCLASS_DATA_DIR=str(data_dir))))
    values = {
        "slug": "getsweep",
        "import_id": "{import_id}",
        "assignment": "getsweep-a",
        # No distribution is made here (the service's workers would change its rows while the
        # sweep compares the database); the route is still asked, and answers 404.
        "distribution_id": "1",
        "filename": "style.css",
        "username": "getsw00",  # one of the course's students (a student's delivery pages)
    }
    routes = []
    for rule in app.url_map.iter_rules():
        # OAuth is GET by protocol; its callback signs in only with a valid state and code.
        if rule.endpoint in ("auth.login", "auth.oauth_callback"):
            continue
        # Any converter (<slug>, <id:import_id>, <path:filename>) takes the value.
        path = re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: values[m.group(1)], rule.rule)
        routes.append(path.lstrip("/"))
    return routes


def test_get_never_changes_state(hub, tmp_path):
    api = instructor_api(hub)
    make_course(hub, api, "getsweep")
    names = [f"getsw{i:02d}" for i in range(10)]
    api.post(hub.service_url + "api/v1/courses/getsweep/roster", params={"apply": 1},
             data=roster_csv(names), headers={"Content-Type": "text/csv"})  # fmt: skip
    added = api.post(
        hub.service_url + "api/v1/courses/getsweep/assignments",
        json={"slug": "getsweep-a", "repo_url": "git://127.0.0.1/getsweep.git"},
    )
    assert added.status_code == 201, added.text
    # A preview that would remove everyone, waiting for its Apply.
    pending = api.post(
        hub.service_url + "api/v1/courses/getsweep/roster",
        params={"remove": "delete"},
        data=roster_csv(["getswnew"]),
        headers={"Content-Type": "text/csv"},
    ).json()
    assert pending["applied"] is False and len(pending["remove"]) == 10
    session, _ = sign_in(hub, "instructor")
    before_db, before_hub = db_state(hub), hub_state(hub)

    # Every GET route; and the query strings a POST would carry, sent with GET.
    query = (
        "?apply=1&remove=delete&confirm=getsweep&slug=get-made&title=x"
        "&repo_url=git://127.0.0.1/get-made&branch=get-made&target=get-made"
    )
    statuses = {}
    for route in _get_routes(tmp_path):
        url = hub.service_url + route.format(import_id=pending["import"])
        for kind, client in (("cookie", session), ("token", api)):
            r = client.get(url + query, allow_redirects=False)
            assert r.status_code < 500, (route, kind)
            statuses[route, kind] = r.status_code
    for route in (
        "courses",
        "logout",
        f"courses/getsweep/roster/imports/{pending['import']}/apply",
    ):
        r = session.get(hub.service_url + route + query, allow_redirects=False)
        assert r.status_code == 405, route

    assert statuses["", "cookie"] == statuses["api/v1/courses/getsweep/roster", "token"] == 200
    assert statuses["courses/getsweep/roster/imports/{import_id}", "cookie"] == 200
    assert statuses["courses/getsweep/assignments/getsweep-a", "cookie"] == 200
    assert statuses["api/v1/courses/getsweep/assignments/getsweep-a", "token"] == 200
    assert db_state(hub) == before_db
    assert hub_state(hub) == before_hub
    assert hub_group(hub, "course-getsweep") == names
    assert "get-made" not in course_slugs(hub)
    # GET /logout did not sign out either.
    assert session.get(hub.service_url + "api/v1/whoami").status_code == 200
