"""Sign-in and authorization beyond tests/test_signin.py: more `next` tricks, PKCE, revocation.

SECURITY.md items 12 (OAuth: PKCE S256; `next` only relative paths under the service prefix)
and 13 (authorization on each request, so a revoked token stops working within the cache time).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from tests.conftest import TEST_AUTH_CACHE_SECONDS
from tests.hubusers import hub_login, start_oauth

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


def test_a_stolen_code_is_useless_without_the_pkce_verifier(hub):
    """Even with the client secret, a code taken from a URL cannot be exchanged for a token."""
    _, callback = start_oauth(hub, "instructor")
    code = parse_qs(urlparse(callback).query)["code"][0]
    r = requests.post(
        f"{hub.api_url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "service-hubclass",
            "client_secret": hub.service_token,
            "redirect_uri": "/services/hubclass/oauth_callback",
        },
    )
    assert r.status_code == 400
    assert "access_token" not in r.text


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
