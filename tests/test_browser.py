"""The instructor's flow in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

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
