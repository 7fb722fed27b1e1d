"""Audit events: every action that changes a course or the Hub records one, through the pages,
the API and the command line alike; a refused action records none.

The actions run for real on the service the test Hub runs; their events are read from its own
database (`service_app`). The session shares that database, so each test names its own courses.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import or_, select

from app.audit.models import AuditEvent
from app.courses import CLI_ACTOR
from app.courses.models import Course
from app.extensions import db
from app.roster.models import RosterImport
from tests.conftest import service_cli
from tests.hubusers import (
    api,
    csrf_token,
    ensure_users,
    hub_group,
    make_course,
    roster_csv,
    sign_in,
    upload_page,
)

pytestmark = pytest.mark.hub

# The roster file's name through every entry point: an apply event's target.
ROSTER = "roster.csv"


def events(slug: str) -> list[tuple]:
    """The service's audit events about course `slug`, oldest first, as
    (actor, action, course, target, detail): the course's own, and those naming it as target
    (an event of a course that was never made would have no course)."""
    db.session.remove()  # read what the service committed since
    rows = db.session.scalars(
        select(AuditEvent)
        .outerjoin(AuditEvent.course)
        .where(or_(Course.slug == slug, AuditEvent.target == slug))
        .order_by(AuditEvent.id)
    )
    return [(e.actor, e.action, e.course and e.course.slug, e.target, e.detail) for e in rows]


def of(action: str, slug: str) -> list[tuple]:
    return [event for event in events(slug) if event[1] == action]


def alert(page: str) -> str:
    """The page's error message (a flash shown as an alert), or "" when it has none."""
    found = re.search(r'role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


@dataclass
class Sent:
    """What an upload came to: the import it stored (if it says), and why it was refused."""

    import_id: int | None
    refused: str = ""


class Page:
    """The instructor in a browser, signed in through the Hub."""

    name = "page"
    actor = "instructor"

    def __init__(self, hub, tmp_path):
        self.hub = hub
        self.browser, self.home = sign_in(hub, "instructor")

    def create(self, slug: str, title: str) -> str:
        r = self.browser.post(
            self.hub.service_url + "courses",
            data={"slug": slug, "title": title, "csrf_token": csrf_token(self.home.text)},
        )
        return alert(r.text)

    def roster(
        self, slug: str, data: bytes, *, apply: bool, remove: str = "none", confirm: str = ""
    ) -> Sent:
        preview = upload_page(self.hub, self.browser, slug, data, remove=remove)
        assert preview.status_code == 200, alert(preview.text)
        sent = Sent(int(preview.url.rsplit("/", 1)[1]))
        if apply:
            done = self.browser.post(
                preview.url + "/apply",
                data={"csrf_token": csrf_token(preview.text), "confirm": confirm},
            )
            sent.refused = alert(done.text)
        return sent


class Api:
    """The instructor's script, with a Hub token."""

    name = "api"
    actor = "instructor"

    def __init__(self, hub, tmp_path):
        self.hub = hub
        self.session = api(hub)

    def create(self, slug: str, title: str, groups: list[str] | None = None) -> str:
        body = {"slug": slug, "title": title, "instructor_groups": groups or []}
        r = self.session.post(self.hub.service_url + "api/v1/courses", json=body)
        return "" if r.status_code == 201 else r.json()["error"]["message"]

    def roster(
        self, slug: str, data: bytes, *, apply: bool, remove: str = "none", confirm: str = ""
    ) -> Sent:
        params = {"remove": remove, "confirm": confirm, **({"apply": 1} if apply else {})}
        r = self.session.post(
            self.hub.service_url + f"api/v1/courses/{slug}/roster",
            params=params,
            data=data,
            headers={"Content-Type": "text/csv"},
        )
        if r.status_code != 200:
            return Sent(None, r.json()["error"]["message"])
        return Sent(r.json()["import"])


class Cli:
    """The machine's administrator, on the service's own database."""

    name = "cli"
    actor = CLI_ACTOR

    def __init__(self, hub, tmp_path):
        self.hub = hub
        self.file = tmp_path / ROSTER

    def create(self, slug: str, title: str, groups: list[str] | None = None) -> str:
        args = ["course", "create", slug, "--title", title]
        run = service_cli(self.hub, *args, "--instructor-groups", ",".join(groups or []))
        return run.stderr if run.returncode else ""

    def roster(
        self, slug: str, data: bytes, *, apply: bool, remove: str = "none", confirm: str = ""
    ) -> Sent:
        self.file.write_bytes(data)
        args = ["roster", "import", slug, str(self.file), "--json", "--remove", remove]
        args += (["--apply"] if apply else []) + (["--confirm", confirm] if confirm else [])
        run = service_cli(self.hub, *args)
        if run.returncode == 1:
            return Sent(None, run.stderr)
        assert run.returncode == 0, run.stderr
        return Sent(json.loads(run.stdout)["import"])


ENTRY_POINTS = {kind.name: kind for kind in (Page, Api, Cli)}


@pytest.fixture(params=list(ENTRY_POINTS))
def entry(request, hub, tmp_path, service_app):
    """One way in: the page, the API or the command line (a test may name fewer)."""
    return ENTRY_POINTS[request.param](hub, tmp_path)


# -- course.create --------------------------------------------------------------------------


def test_creating_a_course_records_who_created_it_and_its_title(entry):
    slug = f"aud-make-{entry.name}"

    assert entry.create(slug, "Audited course") == ""

    assert events(slug) == [
        (entry.actor, "course.create", slug, slug,
         {"title": "Audited course", "instructor_groups": []}),
    ]  # fmt: skip
    # Creating it again is refused, and the history still holds the one creation.
    assert "exists already" in entry.create(slug, "Again")
    assert len(events(slug)) == 1


@pytest.mark.parametrize("entry", ["api", "cli"], indirect=True)
def test_the_staff_groups_a_course_is_created_with_are_in_its_creation_event(hub, entry):
    ensure_users(hub, ["instructor"], groups=["audit-tas"])  # instructors name their groups
    slug = f"aud-staffed-{entry.name}"

    assert entry.create(slug, "Staffed", ["audit-tas"]) == ""

    assert events(slug) == [
        (entry.actor, "course.create", slug, slug,
         {"title": "Staffed", "instructor_groups": ["audit-tas"]}),
    ]  # fmt: skip


def test_adopting_an_existing_hub_group_records_its_members_as_the_adopted_students(
    hub, service_app
):
    ensure_users(hub, ["audgpu2", "audgpu1"], groups=["course-aud-adopt"])

    run = service_cli(hub, "course", "create", "aud-adopt", "--adopt-group")

    assert run.returncode == 0, run.stderr
    assert events("aud-adopt") == [
        (CLI_ACTOR, "course.create", "aud-adopt", "aud-adopt",
         {"title": "aud-adopt", "instructor_groups": [],
          "adopted_group_members": ["audgpu1", "audgpu2"]}),
    ]  # fmt: skip


def test_a_course_refused_because_its_hub_group_exists_records_no_event(hub, entry):
    slug = f"aud-taken-{entry.name}"
    ensure_users(hub, [f"audtaken{entry.name}"], groups=[f"course-{slug}"])

    refused = entry.create(slug, "Taken")

    assert f"already has a group 'course-{slug}'" in refused
    assert events(slug) == []


# -- course.staff (the course page only) ----------------------------------------------------


def test_changing_the_teaching_staff_on_the_page_records_each_new_staff(hub, service_app):
    ensure_users(hub, ["audta"])
    ensure_users(hub, ["instructor"], groups=["audit-tas"])
    make_course(hub, api(hub), "aud-staff")
    browser, page = sign_in(hub, "instructor", "courses/aud-staff")

    def save(users: str, groups: str) -> None:
        r = browser.post(
            hub.service_url + "courses/aud-staff/staff",
            data={"staff_users": users, "instructor_groups": groups,
                  "csrf_token": csrf_token(page.text)},
        )  # fmt: skip
        assert "Teaching staff saved" in r.text, alert(r.text)

    save("audta", "audit-tas")
    save("", "audit-tas")

    assert of("course.staff", "aud-staff") == [
        ("instructor", "course.staff", "aud-staff", "aud-staff",
         {"groups": ["audit-tas"], "users": ["audta"]}),
        ("instructor", "course.staff", "aud-staff", "aud-staff",
         {"groups": ["audit-tas"], "users": []}),
    ]  # fmt: skip


def test_a_staff_change_the_course_refuses_records_no_event(hub, service_app):
    # The TA may reach the service (some Hubs let everyone) once named staff.
    ensure_users(hub, ["audta2"], groups=["service-visitors"])
    make_course(hub, api(hub), "aud-nostaff")
    browser, page = sign_in(hub, "instructor", "courses/aud-nostaff")

    def save(who, form_page, users: str, groups: str = "") -> str:
        r = who.post(
            hub.service_url + "courses/aud-nostaff/staff",
            data={"staff_users": users, "instructor_groups": groups,
                  "csrf_token": csrf_token(form_page.text)},
        )  # fmt: skip
        return alert(r.text)

    assert save(browser, page, "audta2") == ""
    assert len(of("course.staff", "aud-nostaff")) == 1

    assert "The Hub has no user 'nobody-aud'" in save(browser, page, "audta2, nobody-aud")
    assert "You are not in the Hub group 'aud-foreign'" in save(
        browser, page, "audta2", groups="aud-foreign"
    )
    ta, ta_page = sign_in(hub, "audta2", "courses/aud-nostaff")
    assert "Only the course's instructors" in save(ta, ta_page, "audta2, instructor")

    assert len(of("course.staff", "aud-nostaff")) == 1


# -- roster.apply (a preview records none) --------------------------------------------------


def test_a_roster_preview_records_no_event_and_stays_in_the_roster_history(hub, entry):
    slug = f"aud-preview-{entry.name}"
    make_course(hub, api(hub), slug)

    sent = entry.roster(slug, roster_csv([f"audpre{entry.name}"]), apply=False)

    assert [event[1] for event in events(slug)] == ["course.create"]
    assert hub_group(hub, f"course-{slug}") == []
    stored = db.session.get(RosterImport, sent.import_id)
    assert (stored.course.slug, stored.created_by, stored.filename, stored.status) == (
        slug, entry.actor, ROSTER, "previewed",
    )  # fmt: skip


def test_applying_a_roster_records_the_file_the_import_and_who_became_what(hub, entry):
    slug = f"aud-apply-{entry.name}"
    new, old = f"audnew{entry.name}", f"audold{entry.name}"
    ensure_users(hub, [old])  # a Hub account that joins the course; the other is created
    make_course(hub, api(hub), slug)

    sent = entry.roster(slug, roster_csv([new, old]), apply=True)

    assert sent.refused == ""
    assert of("roster.apply", slug) == [
        (entry.actor, "roster.apply", slug, ROSTER,
         {"import_id": sent.import_id, "status": "applied",
          "counts": {"created": 1, "added": 1},
          "students": {"created": [new], "added": [old]},
          "groups_created": [f"course-{slug}"]}),
    ]  # fmt: skip
    assert hub_group(hub, f"course-{slug}") == sorted([new, old])


def test_a_large_removal_without_the_typed_course_name_records_no_event(hub, entry):
    slug = f"aud-remove-{entry.name}"
    stay, leave = f"audstay{entry.name}", f"audleave{entry.name}"
    make_course(hub, api(hub), slug)
    assert entry.roster(slug, roster_csv([stay, leave]), apply=True).refused == ""
    assert len(of("roster.apply", slug)) == 1

    refused = entry.roster(slug, roster_csv([stay]), apply=True, remove="group")

    assert f"Type the course name '{slug}' to confirm" in refused.refused
    assert len(of("roster.apply", slug)) == 1
    assert hub_group(hub, f"course-{slug}") == sorted([stay, leave])

    sent = entry.roster(slug, roster_csv([stay]), apply=True, remove="group", confirm=slug)

    assert sent.refused == ""
    assert of("roster.apply", slug)[1:] == [
        (entry.actor, "roster.apply", slug, ROSTER,
         {"import_id": sent.import_id, "status": "applied", "counts": {"removed": 1},
          "students": {"removed": [leave]}, "groups_created": []}),
    ]  # fmt: skip


@pytest.mark.parametrize("entry", ["page"], indirect=True)
def test_applying_a_preview_older_than_the_latest_upload_records_no_event(hub, entry):
    slug = "aud-stale"
    make_course(hub, api(hub), slug)
    older = upload_page(hub, entry.browser, slug, roster_csv(["audstale1"]))
    entry.roster(slug, roster_csv(["audstale2"]), apply=False)

    done = entry.browser.post(older.url + "/apply", data={"csrf_token": csrf_token(older.text)})

    assert "A newer roster was uploaded after this one" in alert(done.text)
    assert of("roster.apply", slug) == []
    assert hub_group(hub, f"course-{slug}") == []
