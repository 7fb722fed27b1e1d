"""Redirects never take their host from the request: a forged Host header sends nobody elsewhere.

Issue 8 item 7. Werkzeug builds the URL of its own slash redirects (`api//v1` merged into
`api/v1`, `roster` completed to `roster/`) from the request's Host header, so
`Host: evil.example` came back as `Location: http://evil.example/...`: with a cache or a proxy in
front that keys on the path only, or a link rewritten by a hostile page, that is an open
redirect. Every Location is relative (`/...`, never `//...`) or on the Hub's configured URL.
"""

from __future__ import annotations

import pytest
import requests

from app.web.redirects import on_the_hub
from tests.hubusers import csrf_token, sign_in

FORGED = "evil.example"
FORGED_HEADERS = {
    "Host": {"Host": FORGED},
    # Not trusted by gunicorn or Werkzeug without a ProxyFix; checked so it stays that way.
    "X-Forwarded-Host": {"X-Forwarded-Host": FORGED, "X-Forwarded-Proto": "https"},
    "Forwarded": {"Forwarded": f"host={FORGED};proto=https"},
}
# (what, path under the service prefix) that answer with a redirect to someone signed out.
SIGNED_OUT_REDIRECTS = [
    ("doubled slash in the API", "api//v1/whoami"),
    ("doubled slash with a query", "api//v1/courses?x=1"),
    ("many slashes in a page", "courses///redirects//lab"),
    ("roster without its trailing slash", "courses/redirects/roster"),
    ("a page while signed out", "status"),
    ("sign in", "login"),
]


def assert_stays_on_the_hub(hub, response: requests.Response) -> str:
    assert response.status_code in (301, 302, 303, 307, 308), response.text[:200]
    location = response.headers["Location"]
    relative = location.startswith("/") and not location.startswith(("//", "/\\"))
    assert relative or location.startswith(hub.url + "/"), location
    assert FORGED not in location
    return location


def bases(hub) -> dict[str, str]:
    return {
        "through the proxy": hub.url,
        "at the service port": f"http://127.0.0.1:{hub.service_port}",
    }


@pytest.mark.hub
@pytest.mark.parametrize("header", FORGED_HEADERS)
@pytest.mark.parametrize("route", ["through the proxy", "at the service port"])
@pytest.mark.parametrize(
    ("what", "path"), SIGNED_OUT_REDIRECTS, ids=[what for what, _ in SIGNED_OUT_REDIRECTS]
)
def test_a_forged_host_never_becomes_the_redirect_target(hub, route, header, what, path):
    url = bases(hub)[route] + "/services/hubclass/" + path
    r = requests.get(url, headers=FORGED_HEADERS[header], allow_redirects=False)
    assert_stays_on_the_hub(hub, r)


@pytest.mark.hub
def test_slash_redirects_keep_their_path_and_query(hub):
    base = f"http://127.0.0.1:{hub.service_port}/services/hubclass/"
    r = requests.get(base + "api//v1/courses?x=1", headers={"Host": FORGED}, allow_redirects=False)
    assert r.headers["Location"] == "/services/hubclass/api/v1/courses?x=1"
    r = requests.get(base + "courses/a/roster", headers={"Host": FORGED}, allow_redirects=False)
    assert r.headers["Location"] == "/services/hubclass/courses/a/roster/"


@pytest.mark.hub
@pytest.mark.parametrize("route", ["through the proxy", "at the service port"])
def test_a_signed_in_instructors_redirects_ignore_a_forged_host(hub, route):
    session, page = sign_in(hub, "instructor")
    assert page.status_code == 200
    base = bases(hub)[route] + "/services/hubclass/"
    slug = "redir-" + route.split()[-1]
    # requests matches cookies against the Host header: send the session cookie by hand.
    cookie = session.cookies.get("hubclass-session", path="/services/hubclass/")
    forged = {"Host": FORGED, "Cookie": f"hubclass-session={cookie}"}
    created = requests.post(
        base + "courses",
        data={"csrf_token": csrf_token(page.text), "slug": slug, "title": "R"},
        headers=forged,
        allow_redirects=False,
    )
    assert assert_stays_on_the_hub(hub, created) == f"/services/hubclass/courses/{slug}"
    for path in ("api//v1/whoami", f"courses/{slug}/roster", "login"):
        r = requests.get(base + path, headers=forged, allow_redirects=False)
        assert_stays_on_the_hub(hub, r)
    assert requests.get(base + "api/v1/whoami", headers=forged).json()["name"] == "instructor"


HUB_URL = "https://hub.example.edu/hub/"
PREFIX = "/services/hubclass/"


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/services/hubclass/courses/a", "/services/hubclass/courses/a"),
        ("https://hub.example.edu/hub/api/oauth2/authorize?x=1", "unchanged"),
        ("HTTPS://Hub.Example.EDU/hub/home", "unchanged"),
        ("http://hub.example.edu/hub/home", "/hub/home"),  # not the configured scheme
        ("http://evil.example/services/hubclass/a?b=1#c", "/services/hubclass/a?b=1#c"),
        ("https://hub.example.edu.evil.example/x", "/x"),
        ("http://evil.example", PREFIX),
        ("http://evil.example//evil.example/x", PREFIX),
        ("//evil.example/x", "/x"),
        ("/\\evil.example/x", PREFIX),
        ("/\t/evil.example/x", "/x"),  # urlsplit drops the tab, as browsers do
        ("javascript:alert(1)", PREFIX),
        ("courses/a", PREFIX),
    ],
)
def test_a_location_is_a_path_here_or_on_the_configured_hub(location, sent):
    expected = location if sent == "unchanged" else sent
    assert on_the_hub(location, HUB_URL, PREFIX) == expected


def test_without_a_public_url_every_location_is_a_path():
    assert on_the_hub("http://127.0.0.1:8000/hub/home", "/hub/", PREFIX) == "/hub/home"
