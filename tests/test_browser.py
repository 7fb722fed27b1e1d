"""The instructor's flow in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from app.assignments.models import Assignment
from app.courses.models import Course
from app.delivery.worker import folder_lease
from app.extensions import db
from app.jobs import leases
from app.roster.models import Enrollment
from tests.delivery.kit import make_home
from tests.gitsync.conftest import Student, Upstream, _make_user, _remove_user
from tests.hubusers import api, make_course

pytestmark = [pytest.mark.hub, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def hub_sign_in(page, hub, name: str) -> None:
    page.goto(hub.service_url)  # not signed in: Hubclass sends the browser to the Hub
    page.fill("#username_input", name)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")


def test_instructor_signs_in_and_creates_a_course(hub, browser):
    page = browser.new_page()
    hub_sign_in(page, hub, "instructor")
    expect(page.get_by_role("heading", name="Courses")).to_be_visible()
    assert page.url == hub.service_url
    page.get_by_label("Short name (slug)").fill("browser-made")
    page.get_by_label("Title").fill("Made in a browser")
    page.get_by_role("button", name="Create course").click()
    expect(page.get_by_role("status")).to_contain_text("Course browser-made created")
    expect(page.get_by_role("heading", name="Made in a browser")).to_be_visible()
    page.get_by_role("link", name="Courses").click()
    expect(page.get_by_role("link", name="Made in a browser")).to_be_visible()
    page.close()


def test_student_is_stopped_with_a_clear_message(hub, browser):
    page = browser.new_page()
    hub_sign_in(page, hub, "student1")
    expect(
        page.get_by_text("You do not have permission to access JupyterHub service hubclass").first
    ).to_be_visible()
    page.close()


def test_instructor_uploads_a_roster_previews_applies_and_sees_the_dashboard(
    hub, browser, tmp_path
):
    from demo.sample_course import write_sample_roster
    from tests.hubusers import hub_login

    roster = write_sample_roster(tmp_path / "canvas-export.csv")
    page = browser.new_page()
    hub_sign_in(page, hub, "instructor")
    page.get_by_label("Short name (slug)").fill("browser-roster")
    page.get_by_label("Title").fill("Roster in a browser")
    page.get_by_role("button", name="Create course").click()
    page.get_by_role("link", name="Roster", exact=True).click()
    page.get_by_label("Roster file").set_input_files(str(roster))
    page.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_role("heading", name="Preview of canvas-export.csv")).to_be_visible()
    expect(page.get_by_text("Ada Lovelace")).to_be_visible()
    expect(page.locator("ul.counts")).to_contain_text("4 to add")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Roster applied")
    expect(page.get_by_role("cell", name="created").first).to_be_visible()

    hub_login(hub, "ada")  # one student signs in; the poller notices within seconds
    page.get_by_role("link", name="Roster in a browser").click()
    for _ in range(20):
        if page.locator("ul.counts li").nth(1).locator("strong").inner_text() == "1":
            break
        page.wait_for_timeout(500)
        page.reload()
    counts = page.locator("ul.counts")
    expect(counts).to_contain_text("4 enrolled")
    expect(counts).to_contain_text("1 logged in at least once")
    expect(page.get_by_label("Emails, to copy into a message")).to_have_value(
        "alan@example.edu, emmy@example.edu, grace@example.edu"
    )
    page.get_by_label("Show").select_option("never")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.students tbody tr")
    expect(rows).to_have_count(3)
    page.close()


@pytest.fixture
def students_with_homes() -> Iterator[list[Student]]:
    """Two real users with real homes where the suite Hub's service looks for them: its
    HUBCLASS_HOME_TEMPLATE is the default /home/{username}. Removed after the test."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create real users and their homes")
    made, homes = [], []
    try:
        for _ in range(2):
            made.append(_make_user("hcb"))
            homes.append(make_home(Path("/home"), made[-1]))
        yield made
    finally:
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)
        for student in made:
            _remove_user(student)


def test_the_progress_bar_and_a_row_move_without_a_reload_while_a_worker_delivers(
    hub, browser, service_app, students_with_homes, tmp_path
):
    ann, ben = students_with_homes
    upstream = Upstream(tmp_path / "upstream")
    upstream.commit({"README.md": "# Homework 1\n", "week1/notes.ipynb": "{}\n"}, "first release")
    slug = f"live{secrets.token_hex(3)}"
    make_course(hub, api(hub), slug)
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    db.session.add_all(Enrollment(course=course, username=s.name) for s in (ann, ben))
    db.session.add(
        Assignment(course=course, slug="hw1", title="Homework 1", repo_url=upstream.url,
                   target="hw1", depth=1)
    )  # fmt: skip
    db.session.commit()
    # Ben's folder is busy (as while another delivery runs in it): the service's own worker
    # sends his delivery back to the queue until the test lets go.
    busy = folder_lease(ben.name, "hw1", "/home/{username}")
    assert leases.try_acquire(busy, "test-browser", 300)
    try:
        page = browser.new_page()
        hub_sign_in(page, hub, "instructor")
        page.goto(hub.service_url + f"courses/{slug}/assignments/hw1")
        page.get_by_role("button", name="Distribute", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("2 students queued")
        row = page.locator(f'tr[data-username="{ben.name}"]')
        expect(page.locator(f'tr[data-username="{ann.name}"] [data-cell="said"]')).to_have_text(
            "received", timeout=60_000
        )
        expect(page.locator('[data-count="done"]')).to_have_text("1")
        expect(row.locator('[data-cell="said"]')).to_contain_text("queued")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    finally:
        leases.release(busy, "test-browser")
    expect(row.locator('[data-cell="said"]')).to_have_text("received", timeout=60_000)
    expect(page.locator('[data-count="done"]')).to_have_text("2")
    expect(page.locator("progress[data-bar]")).to_have_attribute("value", "2")
    expect(row.locator('[data-cell="commit"] code')).to_have_text(re.compile(r"^[0-9a-f]{7}$"))
    expect(row.locator('[data-cell="way"]')).to_have_text("into their home")  # moved live too
    expect(page.locator("[data-live]")).to_be_hidden()  # nothing left to run: it stopped polling
    assert page.evaluate("window.loadedOnce") is True
    assert (Path("/home") / ben.name / "hw1" / "README.md").stat().st_uid == ben.uid
    page.close()
