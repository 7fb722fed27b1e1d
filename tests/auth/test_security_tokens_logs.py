"""Tokens and logs: tokens come only in a header, never reach the log; values cannot forge lines.

SECURITY.md items 16 (tokens never in the session cookie, the log or a URL) and 17 (values are
logged with %r, so a username with a newline stays on one line). The service's output goes to
the Hub's log file, as on a real single-machine Hub; the Hub's own lines are in it too.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from app import create_app
from app.logs import MAX_MESSAGE
from tests.hubusers import (
    csrf_token,
    ensure_users,
    hub_login,
    make_course,
    remove_from_group,
    sign_in,
    start_oauth,
    user_token,
)

pytestmark = pytest.mark.hub

# A line of the service's own log: "2026-01-01 10:00:00,123 INFO app.auth Signed in: 'x'".
SERVICE_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ app\.")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


@pytest.mark.parametrize("parameter", ["token", "access_token", "api_token"])
def test_a_token_in_the_url_is_not_accepted(hub, parameter):
    token = user_token(hub, "instructor")
    slug = "url-" + parameter.replace("_", "-")
    query = "?" + urlencode({parameter: token})
    api = requests.get(hub.service_url + "api/v1/whoami" + query)
    assert api.status_code == 401
    created = requests.post(hub.service_url + "api/v1/courses" + query, json={"slug": slug})
    assert created.status_code == 401
    page = requests.get(hub.service_url + query, allow_redirects=False)
    assert page.status_code == 302
    assert "/services/hubclass/login" in page.headers["Location"]
    slugs = requests.get(hub.service_url + "api/v1/courses", headers=bearer(token)).json()
    assert slug not in {c["slug"] for c in slugs["courses"]}


def test_service_tokens_do_not_identify_an_instructor(hub):
    # The suite's admin service holds admin:users, Hubclass's own token admin:users too; neither
    # is a person, so neither may act as an instructor through the API.
    for token in (hub.admin_token, hub.service_token):
        r = requests.post(
            hub.service_url + "api/v1/courses", json={"slug": "by-a-service"}, headers=bearer(token)
        )
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
    listing = requests.get(
        hub.service_url + "api/v1/courses", headers=bearer(user_token(hub, "instructor"))
    )
    assert "by-a-service" not in {c["slug"] for c in listing.json()["courses"]}


def test_tokens_and_session_cookies_never_reach_the_log(hub):
    token = user_token(hub, "instructor")
    assert requests.get(hub.service_url + "api/v1/whoami", headers=bearer(token)).ok
    wrong = "wrong" + secrets.token_hex(16)
    assert requests.get(hub.service_url + "api/v1/whoami", headers=bearer(wrong)).status_code == 401
    session, page = sign_in(hub, "instructor")  # the OAuth exchange and its access token
    assert page.status_code == 200
    cookie = session.cookies.get("hubclass-session", path="/services/hubclass/")
    # A refused sign-in logs why; the why must not carry the code, state or a token.
    attacker, callback = start_oauth(hub, "instructor")
    code = parse_qs(urlparse(callback).query)["code"][0]
    forged = hub.service_url + "oauth_callback?" + urlencode({"code": code, "state": "forged"})
    assert attacker.get(forged, allow_redirects=False).status_code == 403

    log = hub.log()
    assert "Signed in: 'instructor'" in log  # the log was written, and is the one read here
    assert "Sign-in failed" in log
    for secret in (token, wrong, hub.service_token, hub.admin_token, cookie):
        assert secret not in log
    sign_in_failures = [line for line in log.splitlines() if "Sign-in failed" in line]
    assert not any(code in line for line in sign_in_failures)


def test_a_username_with_a_newline_stays_on_one_log_line(hub):
    marker = "FORGED" + secrets.token_hex(4)
    forged = f"2099-01-01 00:00:00,000 INFO app.auth Signed in: 'hubadmin' {marker}"
    first = f"logforge{secrets.token_hex(3)}"
    name = f"{first}\n{forged}".lower()  # the Hub lowercases names
    # The Hub accepts such a name from its API (HUB_FACTS.md); put it among the instructors.
    ensure_users(hub, [name], groups=["instructors"])
    try:
        session = hub_login(hub, name)
        page = session.get(hub.service_url)
        assert page.status_code == 200
        assert "<h1>Courses</h1>" in page.text
    finally:
        remove_from_group(hub, "instructors", [name])
    ours = [line for line in hub.log().splitlines() if SERVICE_LINE.match(line) and first in line]
    # The whole name, newline escaped, is on the service's one "Signed in" line. (The Hub
    # writes the name raw, so the forged text does start a line of the file: the Hub's.)
    assert ours == [f"{ours[0].split(' Signed in: ')[0]} Signed in: {name!r}"]


def test_roster_values_with_newlines_cannot_forge_log_lines(hub):
    marker = "FORGED" + secrets.token_hex(4)
    forged = f"2099-01-01 00:00:00,000 WARNING app.roster {marker}"
    api = requests.Session()
    api.headers.update(bearer(user_token(hub, "instructor")))
    make_course(hub, api, "lognl")
    rows = f'username\nlognlok\n"lognl\n{forged}"\n"{forged}"\n'.encode()
    r = api.post(
        hub.service_url + "api/v1/courses/lognl/roster",
        params={"apply": 1, "username_from": "column:username", "filename": f"a\n{forged}.csv"},
        data=rows,
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["add"] == ["lognlok"]
    session, _ = sign_in(hub, "instructor")
    page = session.get(hub.service_url + "courses/lognl/roster/")
    r = session.post(
        hub.service_url + "courses/lognl/roster/",
        data={"csrf_token": csrf_token(page.text), "username_from": "column",
              "username_column": "username"},
        files={"file": (f"b\n{forged}.csv", rows, "text/csv")},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert not any(line.startswith(forged) for line in hub.log().splitlines())


def test_a_long_outside_value_makes_a_long_log_line_never_an_endless_one(app):
    """The app's every logger cuts its message (app/logs.py); a newline inside stays escaped."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        create_app(app.config)  # a second app in the process: the messages are cut once
        hostile = "x" * 100_000 + "\nFORGED line"
        logging.getLogger("app.roster.apply").warning("Creating users failed: %r", hostile)
        logging.getLogger("app").warning("short %s", "value")
        logging.getLogger("werkzeug").warning("theirs: %s", "y" * 3000)
    finally:
        root.removeHandler(handler)
    lines = written.getvalue().splitlines()
    cut, short, theirs = lines
    assert cut.startswith("app.roster.apply Creating users failed: 'xxx")
    assert cut.endswith(f"... ({len(repr(hostile)) + 23 - MAX_MESSAGE} more characters cut)")
    assert len(cut) < MAX_MESSAGE + 100
    assert short == "app short value"
    assert theirs == "werkzeug theirs: " + "y" * 3000  # other libraries' records are theirs
