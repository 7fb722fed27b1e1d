"""Signing in through the Hub and the instructor check, against the real Hub."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from tests.conftest import TEST_AUTH_CACHE_SECONDS
from tests.hubusers import (
    ensure_users,
    hub_login,
    remove_from_group,
    sign_in,
    start_oauth,
    user_token,
)

pytestmark = pytest.mark.hub


def test_instructor_signs_in_and_sees_the_course_list(hub):
    session, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    assert page.url == hub.service_url
    assert "<h1>Courses</h1>" in page.text
    assert "instructor" in page.text  # shown as the signed-in person
    cookie = next(c for c in session.cookies if c.name == "hubclass-session")
    assert cookie.path == "/services/hubclass/"
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_hub_admin_is_let_in(hub):
    _, page = sign_in(hub, "hubadmin")
    assert page.status_code == 200
    assert "<h1>Courses</h1>" in page.text


def test_student_is_refused_with_a_page_saying_why(hub):
    ensure_users(hub, ["curious"])
    session = hub_login(hub, "curious")
    page = session.get(hub.service_url)
    # The Hub's own authorize step refuses users outside the instructors role, with its page.
    assert page.status_code == 403
    assert "You do not have permission to access JupyterHub service hubclass" in page.text
    assert "<h1>Courses</h1>" not in page.text


def test_a_non_instructor_the_hub_lets_through_gets_the_instructors_only_page(hub):
    # Hubs may grant access:services to everyone: Hubclass checks for itself.
    ensure_users(hub, ["visitor"], groups=["service-visitors"])
    _, page = sign_in(hub, "visitor")
    assert page.status_code == 403
    assert "Hubclass is for instructors" in page.text
    assert "visitor" in page.text
    assert "instructors" in page.text  # which group to ask for
    token = user_token(hub, "visitor")
    api = requests.get(
        hub.service_url + "api/v1/courses", headers={"Authorization": f"token {token}"}
    )
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "not_instructor"


def test_a_students_token_without_service_access_is_refused(hub):
    ensure_users(hub, ["nosy"])
    token = user_token(hub, "nosy")
    api = requests.get(
        hub.service_url + "api/v1/courses", headers={"Authorization": f"token {token}"}
    )
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "token_scope"


def test_an_instructors_narrow_token_is_refused(hub):
    r = hub.admin().post(
        f"{hub.api_url}/users/instructor/tokens",
        json={"note": "narrow", "scopes": ["read:users:name!user=instructor"]},
    )
    assert r.status_code == 201, r.text
    api = requests.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "narrow-token"},
        headers={"Authorization": f"token {r.json()['token']}"},
    )
    assert api.status_code == 403
    assert "access:services!service=hubclass" in api.json()["error"]["message"]


def test_pages_redirect_to_the_hub_login_and_api_answers_401(hub):
    page = requests.get(hub.service_url + "status", allow_redirects=False)
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/services/hubclass/login?next=")
    assert parse_qs(urlparse(page.headers["Location"]).query)["next"] == [
        "/services/hubclass/status"
    ]
    api = requests.get(hub.service_url + "api/v1/courses", allow_redirects=False)
    assert api.status_code == 401
    assert api.headers["Content-Type"].startswith("application/json")
    assert api.json()["error"]["code"] == "unauthenticated"


def test_signin_returns_to_the_page_asked_for(hub):
    session = hub_login(hub, "instructor")
    page = session.get(hub.service_url + "status")
    assert page.status_code == 200
    assert page.url == hub.service_url + "status"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "///evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/hub/../x",
        "/services/hubclass/../../hub/admin",
        "/services/other/",
        "javascript:alert(1)",
        "/services/hubclass/%2e%2e/%2e%2e/hub/admin",
        "/services/hubclass/%2F%2Fevil.example",
        "/services/hubclass/%5c%5cevil.example",
    ],
)
def test_open_redirects_are_refused(hub, target):
    session = hub_login(hub, "instructor")
    page = session.get(hub.service_url + "login?" + urlencode({"next": target}))
    assert page.status_code == 200
    assert page.url == hub.service_url  # landed on the course list, not the target
    assert all("evil" not in r.headers.get("Location", "") for r in page.history)


def test_tampered_state_is_refused_and_no_session_is_made(hub):
    session, callback = start_oauth(hub, "instructor")
    query = parse_qs(urlparse(callback).query)
    forged = (
        hub.service_url
        + "oauth_callback?"
        + urlencode({"code": query["code"][0], "state": "forged-state"})
    )
    r = session.get(forged, allow_redirects=False)
    assert r.status_code == 403
    assert "Sign-in failed" in r.text
    after = session.get(hub.service_url + "api/v1/whoami", allow_redirects=False)
    assert after.status_code == 401


def test_missing_state_or_code_is_refused(hub):
    session, callback = start_oauth(hub, "instructor")
    code = parse_qs(urlparse(callback).query)["code"][0]
    r = session.get(hub.service_url + "oauth_callback?code=" + code, allow_redirects=False)
    assert r.status_code == 403
    r = session.get(hub.service_url + "oauth_callback", allow_redirects=False)
    assert r.status_code == 403


def test_a_replayed_callback_is_refused(hub):
    session, callback = start_oauth(hub, "instructor")
    first = session.get(callback, allow_redirects=False)
    assert first.status_code == 302  # signed in
    # The same callback again, in a browser that is not signed in (the attacker's).
    other = hub_login(hub, "instructor")
    replay = other.get(callback, allow_redirects=False)
    assert replay.status_code == 403
    assert other.get(hub.service_url + "api/v1/whoami").status_code == 401


def test_the_session_cookie_holds_only_the_username(hub):
    import base64
    import zlib

    session, _ = sign_in(hub, "instructor")
    value = session.cookies.get("hubclass-session", path="/services/hubclass/")
    payload = value.split(".")[0 if not value.startswith(".") else 1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = zlib.decompress(raw) if value.startswith(".") else raw
    assert b"instructor" in data
    assert hub.service_token.encode() not in data
    assert b"access_token" not in data


def test_api_accepts_an_instructors_hub_token(hub):
    token = user_token(hub, "instructor")
    r = requests.get(hub.service_url + "api/v1/whoami", headers={"Authorization": f"token {token}"})
    assert r.status_code == 200
    assert r.json()["name"] == "instructor"
    bad = requests.get(
        hub.service_url + "api/v1/whoami", headers={"Authorization": "token not-a-token"}
    )
    assert bad.status_code == 401


def test_post_without_csrf_token_is_refused(hub):
    session, _ = sign_in(hub, "instructor")
    r = session.post(hub.service_url + "courses", data={"slug": "nocsrf", "title": "x"})
    assert r.status_code == 400
    assert "form expired" in r.text
    courses = session.get(hub.service_url + "api/v1/courses").json()["courses"]
    assert "nocsrf" not in [c["slug"] for c in courses]


def test_removed_instructor_loses_access_within_the_cache_time(hub):
    ensure_users(hub, ["ta1"], groups=["instructors"])
    session, page = sign_in(hub, "ta1")
    assert page.status_code == 200
    remove_from_group(hub, "instructors", ["ta1"])
    time.sleep(TEST_AUTH_CACHE_SECONDS + 0.5)
    page = session.get(hub.service_url)
    assert page.status_code == 403
    assert "Hubclass is for instructors" in page.text
    assert "ta1" in page.text


def _gunicorn_workers(master: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.add(int(entry))
    return children


def test_session_survives_a_service_restart(hub):
    session, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    master = int((hub.service_data_dir / "gunicorn.pid").read_text())
    before = _gunicorn_workers(master)
    os.kill(master, signal.SIGHUP)  # gunicorn starts new worker processes: a fresh app each
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = _gunicorn_workers(master)
        if after and not (after & before):
            break
        time.sleep(0.2)
    assert after and not (after & before), "gunicorn did not replace its workers"
    page = session.get(hub.service_url + "status", allow_redirects=False)
    assert page.status_code == 200
    assert "<h1>Status</h1>" in page.text


def test_any_wsgi_server_serves_it_with_the_hubs_environment(hub, tmp_path):
    """`flask run` instead of gunicorn: same app, same prefix handling, same sign-in redirect."""
    import subprocess
    import sys

    from demo.launch import free_port

    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "JUPYTERHUB_SERVICE_PREFIX": "/services/hubclass/",
        "HUBCLASS_DATA_DIR": str(tmp_path),
        "HUBCLASS_WORKERS": "0",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/services/hubclass/"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        page = requests.get(base, allow_redirects=False, timeout=5)
        assert page.status_code == 302
        assert page.headers["Location"] == "/services/hubclass/login?next=/services/hubclass/"
        login = requests.get(base + "login", allow_redirects=False, timeout=5)
        assert login.status_code == 302
        assert "/hub/api/oauth2/authorize?" in login.headers["Location"]
        assert "code_challenge_method=S256" in login.headers["Location"]
        outside = requests.get(f"http://127.0.0.1:{port}/elsewhere", timeout=5)
        assert outside.status_code == 404
    finally:
        server.terminate()
        server.wait(10)


def test_oauth_codes_and_url_tokens_never_reach_the_log(hub):
    from urllib.parse import urlparse as parse

    session, callback = start_oauth(hub, "instructor")
    code = parse_qs(parse(callback).query)["code"][0]
    assert session.get(callback).status_code == 200
    token = user_token(hub, "instructor")
    r = requests.get(hub.service_url + "api/v1/whoami", params={"token": token})
    assert r.status_code == 401  # a token in a URL is not accepted
    time.sleep(0.5)  # let the access log line land
    # The service's own lines (the Hub and its proxy write theirs with a "[" prefix, and
    # scrubbing the proxy's is the proxy's business).
    ours = "\n".join(line for line in hub.log().splitlines() if not line.startswith("["))
    assert code not in ours
    assert token not in ours
    assert '"GET /services/hubclass/oauth_callback"' in ours  # logged, without its query
