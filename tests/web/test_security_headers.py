"""Every answer of the service carries the CSP and nosniff headers: pages, API, errors, redirects.

SECURITY.md item 15: a CSP with `default-src 'self'` and `X-Content-Type-Options: nosniff` on
everything, so an escaping slip cannot run a script and no answer is sniffed into HTML. Error
answers are the ones most often built outside the normal path, so each kind is listed here.
"""

from __future__ import annotations

import pytest
import requests

from tests.hubusers import csrf_token, ensure_users, sign_in, user_token

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def instructor(hub) -> requests.Session:
    session, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    r = session.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "headers", "title": "Headers"},
        headers={"X-CSRFToken": csrf_token(page.text)},
    )
    assert r.status_code in (201, 409), r.text
    return session


def _student_token(hub) -> str:
    ensure_users(hub, ["hdrstudent"])
    return user_token(hub, "hdrstudent")


HTML, JSON = "text/html", "application/json"
# (what, who asks: the signed-in "session", "nobody" or a "student" token, method, path,
# expected status, expected content type)
CASES = [
    ("course list page", "session", "GET", "", 200, HTML),
    ("status page", "session", "GET", "status", 200, HTML),
    ("course page", "session", "GET", "courses/headers", 200, HTML),
    ("roster page", "session", "GET", "courses/headers/roster/", 200, HTML),
    ("stylesheet", "session", "GET", "static/style.css", 200, "text/css"),
    ("health", "nobody", "GET", "health", 200, JSON),
    ("API with a session", "session", "GET", "api/v1/whoami", 200, JSON),
    ("API without credentials", "nobody", "GET", "api/v1/whoami", 401, JSON),
    ("API, a student's token", "student", "GET", "api/v1/courses", 403, JSON),
    ("API, unknown course", "session", "GET", "api/v1/courses/no-such-course", 404, JSON),
    ("API, POST without a CSRF token", "session", "POST", "api/v1/courses", 400, JSON),
    ("page, unknown course", "session", "GET", "courses/no-such-course", 404, HTML),
    ("page, unknown path", "session", "GET", "no/such/page", 404, HTML),
    ("page, wrong method", "session", "GET", "logout", 405, HTML),
    ("page, form without a CSRF token", "session", "POST", "courses", 400, HTML),
    ("sign-in callback without state", "nobody", "GET", "oauth_callback?code=x", 403, HTML),
    ("redirect to sign in", "nobody", "GET", "status", 302, HTML),
]


@pytest.mark.parametrize(
    ("what", "who", "method", "path", "status", "content_type"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_every_kind_of_answer_has_csp_and_nosniff(
    hub, instructor, what, who, method, path, status, content_type
):
    client = instructor if who == "session" else requests.Session()
    if who == "student":
        client.headers["Authorization"] = f"token {_student_token(hub)}"
    body = {"json": {"slug": "x"}} if path.startswith("api/") else {"data": {"slug": "x"}}
    r = client.request(
        method,
        hub.service_url + path,
        allow_redirects=False,
        **(body if method == "POST" else {}),
    )
    assert r.status_code == status, (what, r.text[:300])
    assert r.headers["Content-Type"].startswith(content_type)
    policy = [p.strip() for p in r.headers["Content-Security-Policy"].split(";")]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy  # no framing: no clickjacking of Apply buttons
    assert not any("unsafe-inline" in p or "unsafe-eval" in p for p in policy)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Traceback" not in r.text
