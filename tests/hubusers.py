"""Helpers to act on the real test Hub as its admin or a person would, and on Hubclass's API."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import requests

from demo.launch import RunningHub


def ensure_users(hub: RunningHub, names: list[str], groups: list[str] = ()) -> None:
    """Create users (if missing) and put them in groups, with the suite's admin token."""
    admin = hub.admin()
    for start in range(0, len(names), 200):
        r = admin.post(f"{hub.api_url}/users", json={"usernames": names[start : start + 200]})
        assert r.status_code in (201, 409), r.text
    for group in groups:
        r = admin.post(f"{hub.api_url}/groups/{group}")
        assert r.status_code in (201, 409), r.text
        r = admin.post(f"{hub.api_url}/groups/{group}/users", json={"users": names})
        assert r.status_code == 200, r.text


def remove_users(hub: RunningHub, names: list[str]) -> None:
    """Delete users from the Hub (those already gone are fine), several at a time."""
    admin = hub.admin()

    def remove(name: str) -> None:
        r = admin.delete(f"{hub.api_url}/users/{name}")
        assert r.status_code in (204, 404), r.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(remove, names))


def remove_from_group(hub: RunningHub, group: str, names: list[str]) -> None:
    r = hub.admin().delete(f"{hub.api_url}/groups/{group}/users", json={"users": names})
    assert r.status_code == 200, r.text


def user_token(hub: RunningHub, name: str) -> str:
    """Issue an API token for a user, as the user would from the Hub's token page."""
    r = hub.admin().post(f"{hub.api_url}/users/{name}/tokens", json={"note": "test"})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def hub_login(hub: RunningHub, name: str) -> requests.Session:
    """Sign in to the Hub through its login form (not yet into Hubclass)."""
    session = requests.Session()
    session.get(f"{hub.url}/hub/login").raise_for_status()
    r = session.post(
        f"{hub.url}/hub/login?next=/hub/home",
        data={"username": name, "password": hub.password, "_xsrf": session.cookies["_xsrf"]},
    )
    r.raise_for_status()
    assert "/hub/home" in r.url, f"Hub login failed for {name}: {r.url}"
    return session


def sign_in(
    hub: RunningHub, name: str, path: str = ""
) -> tuple[requests.Session, requests.Response]:
    """Sign in to the Hub, then open a Hubclass page, following the OAuth dance."""
    session = hub_login(hub, name)
    response = session.get(hub.service_url + path)
    return session, response


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def absolute(hub: RunningHub, location: str) -> str:
    return urljoin(hub.url + "/", location)


def start_oauth(hub, name: str) -> tuple[requests.Session, str]:
    """Sign in to the Hub and walk the OAuth redirects up to (not into) the callback."""
    session = hub_login(hub, name)
    return session, callback_url(hub, session)


def callback_url(hub, session: requests.Session) -> str:
    """Walk /login's redirects in this browser up to (not into) the callback; return its URL."""
    url = hub.service_url + "login"
    for _ in range(5):
        r = session.get(url, allow_redirects=False)
        assert r.status_code in (301, 302, 303), r.text
        url = absolute(hub, r.headers["Location"])
        if "/oauth_callback" in url:
            return url
    raise AssertionError("the Hub never redirected to the callback")


# -- courses and rosters through Hubclass's API --------------------------------------------


def roster_csv(names: list[str], section: str | None = None) -> bytes:
    lines = ["name,email" + (",section" if section else "")]
    for name in names:
        lines.append(f"{name.title()},{name}@example.edu" + (f",{section}" if section else ""))
    return ("\n".join(lines) + "\n").encode()


def api(hub, name: str = "instructor") -> requests.Session:
    """A requests session that calls Hubclass's API with a user's Hub token."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {user_token(hub, name)}"
    return session


def make_course(hub, session, slug: str) -> None:
    r = session.post(hub.service_url + "api/v1/courses", json={"slug": slug, "title": slug})
    assert r.status_code == 201, r.text


def post_roster(hub, session, slug, data: bytes, **params) -> dict:
    r = session.post(
        hub.service_url + f"api/v1/courses/{slug}/roster",
        params=params,
        data=data,
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def hub_group(hub, group: str) -> list[str]:
    r = hub.admin().get(f"{hub.api_url}/groups/{group}")
    return sorted(r.json()["users"]) if r.status_code == 200 else []


def hub_has(hub, name: str) -> bool:
    return hub.admin().get(f"{hub.api_url}/users/{name}").status_code == 200


def upload_page(hub, session, slug: str, data: bytes, **fields) -> requests.Response:
    """Upload a roster through the course's roster page; return the preview page."""
    form = session.get(hub.service_url + f"courses/{slug}/roster/")
    return session.post(
        hub.service_url + f"courses/{slug}/roster/",
        data={"csrf_token": csrf_token(form.text), "username_from": "email-local", **fields},
        files={"file": ("roster.csv", data, "text/csv")},
    )
