"""Helpers to act on the real test Hub as its admin would, and to sign in as a person would."""

from __future__ import annotations

import re
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
