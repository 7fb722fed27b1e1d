"""Sign-in and authorization beyond tests/auth/test_signin.py: more `next` tricks, PKCE, revocation.

SECURITY.md items 12 (OAuth: PKCE S256; `next` only relative paths under the service prefix)
and 13 (authorization on each request, so a revoked token stops working within the cache time).
Issue 8 items 8 (a failed callback, which any page can link to, changes nothing in a signed-in
session) and 9 (a write asks the Hub about its token every time: revocation is immediate there).
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from flask_migrate import upgrade

from app import create_app
from app.auth import access
from app.config import from_env
from app.courses.models import Course
from app.extensions import db
from tests.conftest import HUB_MAJOR, TEST_AUTH_CACHE_SECONDS, hub_env
from tests.hubusers import (
    callback_url,
    ensure_users,
    hub_login,
    remove_from_group,
    sign_in,
    start_oauth,
)

pytestmark = pytest.mark.hub


@pytest.mark.parametrize(
    "target",
    [
        "/services/hubclass//evil.example",  # any doubled slash is refused outright
        "/services/hubclass/\r\nLocation: https://evil.example",  # header injection
        "/services/hubclass/\nSet-Cookie: hubclass-session=x",
        "/services/hubclassevil/",  # the prefix without its slash
        "\t//evil.example",
        " //evil.example",
        "https:/evil.example",
        "%2F%2Fevil.example",
        "/services/hubclass/./../../hub/admin",
        "/services/hubclass/..",
        "http://127.0.0.1/services/hubclass/",  # absolute, even to this host
        "",
    ],
)
def test_more_unsafe_next_targets_land_on_the_course_list(hub, target):
    session = hub_login(hub, "instructor")
    page = session.get(hub.service_url + "login?" + urlencode({"next": target}))
    assert page.status_code == 200
    assert page.url == hub.service_url
    for step in page.history:
        location = step.headers.get("Location", "")
        assert "evil" not in location
        assert "\n" not in location and "\r" not in location
        assert "hubclass-session=x;" not in step.headers.get("Set-Cookie", "")


def test_a_nul_in_next_is_refused_before_any_redirect(hub):
    # A NUL in any request input is one 400 (app/inputs.py), before the view decides anything.
    session = hub_login(hub, "instructor")
    target = "/services/hubclass/\x00/../../evil"
    page = session.get(hub.service_url + "login?" + urlencode({"next": target}))
    assert page.status_code == 400
    assert "NUL character" in page.text
    assert not any("evil" in step.headers.get("Location", "") for step in page.history)


def test_a_safe_next_keeps_its_query(hub):
    session = hub_login(hub, "instructor")
    target = "/services/hubclass/status?tab=hub&x=%2F%2Fevil"
    page = session.get(hub.service_url + "login?" + urlencode({"next": target}))
    assert page.status_code == 200
    assert page.url == hub.url + target


def test_signin_uses_pkce_s256_and_the_relative_callback(hub):
    session = hub_login(hub, "instructor")
    r = session.get(hub.service_url + "login", allow_redirects=False)
    query = parse_qs(urlparse(r.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256 digest
    assert query["redirect_uri"] == ["/services/hubclass/oauth_callback"]
    assert len(query["state"][0]) >= 20


def _exchange(hub, code: str, **credentials: str) -> requests.Response:
    """The Hub's token endpoint, asked for a token for `code` by someone other than Hubclass."""
    return requests.post(
        f"{hub.api_url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "service-hubclass",
            "redirect_uri": "/services/hubclass/oauth_callback",
            **credentials,
        },
    )


def test_a_stolen_code_is_useless_without_the_client_secret(hub):
    """A code taken from a URL (a log, a Referer) cannot be exchanged by whoever took it."""
    _, callback = start_oauth(hub, "instructor")
    code = parse_qs(urlparse(callback).query)["code"][0]
    r = _exchange(hub, code, client_secret="not-the-service-token")
    assert r.status_code in (400, 401, 403)
    assert "access_token" not in r.text


def test_a_stolen_code_is_useless_without_the_pkce_verifier(hub):
    """Even with the client secret, a code taken from a URL cannot be exchanged for a token:
    on JupyterHub 6, which checks PKCE. JupyterHub 5 has no PKCE (docs/deploy.md says so), so
    there the client secret, which only the service holds, is what protects the code."""
    _, callback = start_oauth(hub, "instructor")
    code = parse_qs(urlparse(callback).query)["code"][0]
    r = _exchange(hub, code, client_secret=hub.service_token)
    if HUB_MAJOR >= 6:
        assert r.status_code == 400
        assert "access_token" not in r.text
    else:
        assert r.status_code == 200, "JupyterHub 5 checks PKCE now: update docs/deploy.md"
        assert "access_token" in r.json()


def test_a_revoked_token_stops_working_within_the_cache_time(hub):
    admin = hub.admin()
    made = admin.post(f"{hub.api_url}/users/instructor/tokens", json={"note": "to revoke"})
    token, token_id = made.json()["token"], made.json()["id"]
    headers = {"Authorization": f"token {token}"}
    assert requests.get(hub.service_url + "api/v1/whoami", headers=headers).status_code == 200
    r = admin.delete(f"{hub.api_url}/users/instructor/tokens/{token_id}")
    assert r.status_code == 204
    time.sleep(TEST_AUTH_CACHE_SECONDS + 0.5)
    r = requests.post(
        hub.service_url + "api/v1/courses", json={"slug": "after-revoke"}, headers=headers
    )
    assert r.status_code == 401
    assert requests.get(hub.service_url + "api/v1/whoami", headers=headers).status_code == 401


def _still_signed_in_as(hub, session: requests.Session, name: str) -> None:
    page = session.get(hub.service_url, allow_redirects=False)  # no new sign-in allowed
    assert page.status_code == 200
    assert "<h1>Courses</h1>" in page.text
    assert session.get(hub.service_url + "api/v1/whoami").json()["name"] == name


@pytest.mark.parametrize(
    "query",
    ["", "?state=forged", "?code=x&state=forged", "?code=x", "?error=access_denied"],
    ids=["bare", "foreign state", "code and foreign state", "code only", "error"],
)
def test_a_failed_callback_leaves_a_signed_in_instructor_signed_in(hub, query):
    session, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    r = session.get(hub.service_url + "oauth_callback" + query, allow_redirects=False)
    assert r.status_code == 403
    assert "Sign-in failed" in r.text
    assert "hubclass-session" not in r.headers.get("Set-Cookie", "")
    _still_signed_in_as(hub, session, "instructor")
    # Nobody signed in: the failure makes no session either.
    stranger = requests.get(hub.service_url + "oauth_callback" + query, allow_redirects=False)
    assert stranger.status_code == 403
    assert "Set-Cookie" not in stranger.headers


def test_an_attackers_own_callback_link_neither_signs_out_nor_swaps_the_instructor(hub):
    victim, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    # A real code and state, made in the attacker's browser for the attacker's account.
    _, link = start_oauth(hub, "hubadmin")
    r = victim.get(link, allow_redirects=False)
    assert r.status_code == 403
    _still_signed_in_as(hub, victim, "instructor")


def test_abandoned_sign_ins_cannot_grow_the_cookie_past_what_browsers_keep(hub):
    # Each /login remembers its OAuth state for an hour; a failed callback no longer clears
    # them, so without a bound a page opening /login over and over would grow the cookie past
    # 4 KB, and the browser would drop every later sign-in.
    session, _ = sign_in(hub, "instructor")
    for _ in range(30):
        assert session.get(hub.service_url + "login", allow_redirects=False).status_code == 302
    cookie = session.cookies.get("hubclass-session", path="/services/hubclass/")
    assert len(cookie) < 2000
    _still_signed_in_as(hub, session, "instructor")
    # The newest sign-in still completes.
    assert session.get(callback_url(hub, session), allow_redirects=False).status_code == 302
    _still_signed_in_as(hub, session, "instructor")


def _revocable_token(hub, name: str = "instructor") -> tuple[dict[str, str], str]:
    made = hub.admin().post(f"{hub.api_url}/users/{name}/tokens", json={"note": "to revoke"})
    assert made.status_code == 201, made.text
    return {"Authorization": f"token {made.json()['token']}"}, made.json()["id"]


def _revoke(hub, token_id: str, name: str = "instructor") -> None:
    r = hub.admin().delete(f"{hub.api_url}/users/{name}/tokens/{token_id}")
    assert r.status_code == 204


def test_a_revoked_token_cannot_write_at_once_on_the_running_service(hub):
    # One kept-alive connection straight to the service: the same gunicorn worker (each keeps
    # its own cache) answers the read that caches the token and the write after revocation.
    client = requests.Session()
    service = f"http://127.0.0.1:{hub.service_port}/services/hubclass/api/v1/"
    headers, token_id = _revocable_token(hub)
    client.headers.update(headers)
    assert client.get(service + "whoami").status_code == 200
    _revoke(hub, token_id)  # well within the service's cache time of that answer
    r = client.post(service + "courses", json={"slug": "revoked-now"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"


@pytest.fixture
def long_cache_app(hub, tmp_path):
    """An app that trusts a checked token or instructor for 10 minutes, on the real Hub's API."""
    app = create_app(
        from_env(
            hub_env(
                hub.api_url,
                JUPYTERHUB_API_TOKEN=hub.service_token,
                HUBCLASS_DATA_DIR=str(tmp_path / "data"),
                HUBCLASS_AUTH_CACHE_SECONDS="600",
                HUBCLASS_WORKERS="0",  # no poller: only this test's requests reach the Hub
            )
        )
    )
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


API = "/services/hubclass/api/v1/"


def test_a_revoked_token_cannot_write_even_while_its_reads_are_cached(hub, long_cache_app):
    client = long_cache_app.test_client()
    headers, token_id = _revocable_token(hub)
    assert client.get(API + "whoami", headers=headers).status_code == 200
    _revoke(hub, token_id)
    # Reads may ride the cache (the window docs/deploy.md states): this app's is 10 minutes.
    assert client.get(API + "whoami", headers=headers).status_code == 200
    r = client.post(API + "courses", json={"slug": "revoked-write"}, headers=headers)
    assert r.status_code == 401
    assert db.session.query(Course).filter_by(slug="revoked-write").count() == 0
    # The refused write also ends the cached read.
    assert client.get(API + "whoami", headers=headers).status_code == 401


def test_an_instructor_removed_from_the_group_cannot_write_at_once(hub, long_cache_app):
    # Also a service visitor, so the token keeps access to the service after the removal:
    # what refuses the write is Hubclass's own instructor check, asked afresh.
    ensure_users(hub, ["leaving"], groups=["instructors", "service-visitors"])
    client = long_cache_app.test_client()
    headers, _ = _revocable_token(hub, "leaving")
    assert client.get(API + "courses", headers=headers).status_code == 200
    remove_from_group(hub, "instructors", ["leaving"])
    r = client.post(API + "courses", json={"slug": "left-write", "title": "L"}, headers=headers)
    assert r.status_code == 403
    assert r.json["error"]["code"] == "not_instructor"
    assert db.session.query(Course).filter_by(slug="left-write").count() == 0


def test_a_check_half_way_through_its_time_is_refreshed_in_the_background(
    hub, long_cache_app, monkeypatch
):
    """An instructor who keeps browsing never waits for the Hub: a read half way through the
    cache's time is answered from it while the Hub is asked again beside it, so a change on
    the Hub (here: removed from the instructors) is seen before the cached answer expires."""
    ensure_users(hub, ["refreshed"], groups=["instructors"])
    client = long_cache_app.test_client()
    with client.session_transaction("/services/hubclass/") as session:
        session["username"] = "refreshed"
    assert client.get(API + "courses").status_code == 200  # asked the Hub, cached for 600 s
    remove_from_group(hub, "instructors", ["refreshed"])
    assert client.get(API + "courses").status_code == 200  # early on: the cached answer

    # Now past the refresh point (instead of waiting 300 s): still the cached answer, and the
    # Hub is asked again meanwhile.
    monkeypatch.setattr(access, "REFRESH_AFTER", 0)
    assert client.get(API + "courses").status_code == 200
    for thread in [t for t in threading.enumerate() if t.name == "hubclass-auth-refresh"]:
        thread.join(30)
    refused = client.get(API + "courses")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "not_instructor"


def test_a_token_half_way_through_its_time_is_checked_again_in_the_background(
    hub, long_cache_app, monkeypatch
):
    client = long_cache_app.test_client()
    headers, token_id = _revocable_token(hub)
    assert client.get(API + "whoami", headers=headers).status_code == 200
    _revoke(hub, token_id)
    monkeypatch.setattr(access, "REFRESH_AFTER", 0)  # past the refresh point at once
    assert client.get(API + "whoami", headers=headers).status_code == 200  # the cached answer
    for thread in [t for t in threading.enumerate() if t.name == "hubclass-auth-refresh"]:
        thread.join(30)
    assert client.get(API + "whoami", headers=headers).status_code == 401
