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
