"""Stored XSS: what an uploaded roster or a course form holds is shown as text, never run.

SECURITY.md item 15. A roster comes from an LMS export that students can partly control (their
display name, a section title an assistant typed), and its filename comes from the uploader's
machine. Each hostile value below travels through the database to a page; the test reads the
HTML the service sends, then opens the same pages in Chromium and looks for any element or
dialog the values could have made.
"""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from playwright.sync_api import expect

from tests import test_browser
from tests.hubusers import csrf_token, sign_in

pytestmark = [pytest.mark.hub, pytest.mark.browser]

browser = test_browser.browser  # the module's Chromium, shared with the browser tests

TITLE = "</title><script>alert('title')</script>"
FILENAME = "<img src=x onerror=alert('file')>.xlsx"  # .xlsx holding text: a note names the file
NAME = "<img src=x onerror=alert('name')>"
SECTION = "<svg onload=alert('section')>"
BAD_LOGIN = "<script>alert('login')</script>@example.edu"
HEADER = "<b onmouseover=alert('header')>Notes</b>"
ROSTER = (
    f"name,email,section,{HEADER}\n"
    f"{NAME},xssone@example.edu,{SECTION},x\n"
    f"Plain Name,xsstwo@example.edu,Lab,x\n"
    f"Someone,{BAD_LOGIN},Lab,x\n"
).encode()
PAYLOADS = [TITLE, FILENAME, NAME, SECTION, BAD_LOGIN, HEADER]
# What a browser would turn into live markup if a payload were pasted unescaped.
INJECTED = "script, img[src='x'], [onerror], [onload], [onmouseover]"


@pytest.fixture(scope="module")
def pages(hub) -> dict[str, str]:
    """Make the course, preview and apply the roster through the pages; return page URLs."""
    session, home = sign_in(hub, "instructor")
    created = session.post(
        hub.service_url + "courses",
        data={"slug": "xss", "title": TITLE, "csrf_token": csrf_token(home.text)},
    )
    assert created.status_code == 200, created.text
    roster = session.get(hub.service_url + "courses/xss/roster/")
    preview = session.post(
        hub.service_url + "courses/xss/roster/",
        data={"csrf_token": csrf_token(roster.text), "username_from": "email-local"},
        files={"file": (FILENAME, ROSTER, "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert "/imports/" in preview.url
    applied = session.post(preview.url + "/apply", data={"csrf_token": csrf_token(preview.text)})
    assert "Roster applied" in applied.text
    # A username rule naming a missing column: the error lists the file's (hostile) headers.
    refused = session.post(
        hub.service_url + "courses/xss/roster/",
        data={
            "csrf_token": csrf_token(roster.text),
            "username_from": "column",
            "username_column": "No Such Column",
        },
        files={"file": ("again.csv", ROSTER, "text/csv")},
    )
    assert refused.status_code == 400
    return {
        "session": session,
        "preview": preview.url,
        "refused": refused.text,
        "course": hub.service_url + "courses/xss",
        "roster": hub.service_url + "courses/xss/roster/",
        "courses": hub.service_url,
        "audit": hub.service_url + "courses/xss/audit",  # the title and the file name again
    }


def _escaped(value: str) -> str:
    return str(escape(value))  # as Jinja writes it


def test_the_pages_send_every_value_escaped(hub, pages):
    session = pages["session"]
    texts = {
        name: session.get(pages[name]).text
        for name in ("preview", "course", "roster", "courses", "audit")
    }
    texts["refused"] = pages["refused"]
    for name, text in texts.items():
        for payload in PAYLOADS:
            assert payload not in text, (name, payload)
        assert "<script" not in text.lower(), name
        assert not re.search(r"<(img|svg|b) [^>]*on\w+=", text), name
    # ...and shown, not dropped: each value is on the page where the instructor needs it.
    assert _escaped(FILENAME) in texts["preview"]  # the heading and the file note
    assert _escaped("<script>alert('login')</script>") in texts["preview"]  # invalid rows
    assert _escaped(NAME) in texts["roster"]
    assert _escaped(SECTION) in texts["roster"]
    assert _escaped(FILENAME) in texts["roster"]  # the history
    assert _escaped(HEADER) in texts["refused"]  # the columns of the file
    assert _escaped(FILENAME) in texts["audit"]  # the applied file
    for name in ("course", "courses", "roster", "preview", "audit"):
        assert _escaped(TITLE) in texts[name], name


def test_nothing_runs_or_appears_in_a_browser(hub, browser, pages):
    context = browser.new_context()
    dialogs: list[str] = []
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    test_browser.hub_sign_in(page, hub, "instructor")
    expect(page.get_by_role("heading", name="Courses")).to_be_visible()
    for name in ("courses", "course", "roster", "preview", "audit"):
        page.goto(pages[name])
        page.wait_for_load_state("load")
        assert page.locator(INJECTED).count() == 0, name
        assert page.locator("text=alert(").count() > 0, name  # the values are there, as text
    page.goto(pages["roster"])
    expect(page.get_by_role("cell", name=NAME)).to_be_visible()
    expect(page.get_by_role("cell", name=SECTION)).to_be_visible()
    assert TITLE in page.title()
    assert dialogs == []
    context.close()
