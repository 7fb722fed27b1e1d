"""A roster deletes only accounts Hubclass created; staff rights stay within their course.

Issue 8, items 1-3, on the real Hub: an account the Hub had before (a researcher) can at most
leave a course's group; a namesake made again outside Hubclass is not Hubclass's; admins by
role or by a group's role are protected like admins; a course never silently takes over an
existing Hub group; the command line is nobody's name.
"""

from __future__ import annotations

import html
import re

import pytest
import requests

from tests.conftest import service_cli
from tests.hubusers import (
    api,
    csrf_token,
    ensure_users,
    hub_group,
    hub_has,
    make_course,
    post_roster,
    roster_csv,
    sign_in,
    upload_page,
    user_token,
)

pytestmark = pytest.mark.hub


def words(page: str) -> str:
    """The text a person reads on a page: no tags, entities decoded, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_roster_never_deletes_an_account_the_hub_had_before(hub):
    # A researcher's account, made on the Hub by its admin, in a group of their own.
    ensure_users(hub, ["researcher"], groups=["research"])
    ensure_users(hub, ["loner"])  # and one in no group at all
    session = api(hub)
    make_course(hub, session, "openday")
    joined = post_roster(hub, session, "openday", roster_csv(["researcher", "loner", "odnew"]))
    # The preview tells existing accounts apart from new ones.
    assert joined["create"] == ["odnew"]
    assert sorted(joined["enrol_existing"]) == ["loner", "researcher"]
    page_session, _ = sign_in(hub, "instructor")
    preview = upload_page(
        hub, page_session, "openday", roster_csv(["researcher", "loner", "odnew"])
    )
    text = words(preview.text)
    assert "2 existing Hub accounts will join this course" in text
    assert "Existing Hub accounts that will join this course (2)" in text
    done = page_session.post(preview.url + "/apply", data={"csrf_token": csrf_token(preview.text)})
    assert "Roster applied" in done.text

    # Next week's roster has none of them, and the instructor asks to delete accounts.
    removal = upload_page(hub, page_session, "openday", roster_csv(["odother"]), remove="delete")
    text = words(removal.text)
    assert "Leave the course, Hub account kept (2)" in text
    assert "researcher : the account was not created by Hubclass for this course" in text
    assert "deletes 1 Hub account" in text
    applied = page_session.post(
        removal.url + "/apply",
        data={"csrf_token": csrf_token(removal.text), "confirm": "openday"},
    )
    assert applied.status_code == 200

    assert hub_has(hub, "researcher") and hub_has(hub, "loner")
    assert hub_group(hub, "research") == ["researcher"]
    assert "researcher" not in hub_group(hub, "course-openday")
    assert "loner" not in hub_group(hub, "course-openday")
    assert not hub_has(hub, "odnew")  # Hubclass made it for this course: it may go


def test_an_account_made_again_outside_hubclass_is_no_longer_hubclass_s(hub):
    session = api(hub)
    make_course(hub, session, "reborn")
    post_roster(hub, session, "reborn", roster_csv(["phoenix", "rbstay"]), apply=1)
    # The Hub admin deletes the student and later gives the name to someone else.
    admin = hub.admin()
    assert admin.delete(f"{hub.api_url}/users/phoenix").status_code == 204
    assert admin.post(f"{hub.api_url}/users", json={"usernames": ["phoenix"]}).status_code == 201
    assert admin.post(f"{hub.api_url}/groups/course-reborn/users",
                      json={"users": ["phoenix"]}).status_code == 200  # fmt: skip

    result = post_roster(
        hub, session, "reborn", roster_csv(["rbstay"]), remove="delete", apply=1, confirm="reborn"
    )

    assert result["account_kept"] == [
        {"username": "phoenix", "reason": "the account was not created by Hubclass for this course"}
    ]
    assert result["results"]["phoenix"] == "removed"
    assert hub_has(hub, "phoenix")


def test_another_course_cannot_delete_an_account_made_for_this_one(hub):
    session = api(hub)
    make_course(hub, session, "maker")
    make_course(hub, session, "borrower")
    post_roster(hub, session, "maker", roster_csv(["madehere"]), apply=1)
    post_roster(hub, session, "borrower", roster_csv(["madehere", "bwstay"]), apply=1)
    # Even after leaving the first course, the second course's roster only takes it out.
    post_roster(
        hub, session, "maker", roster_csv(["mkstay"]), remove="group", apply=1, confirm="maker"
    )
    result = post_roster(
        hub, session, "borrower", roster_csv(["bwstay"]), remove="delete", apply=1,
        confirm="borrower",
    )  # fmt: skip
    assert result["results"]["madehere"] == "removed"
    assert hub_has(hub, "madehere")


def test_admins_by_a_role_or_a_groups_role_are_protected_like_admins(hub):
    # roleadmin holds a role with admin:users; groupadmin gets it through the group's role.
    ensure_users(hub, ["roleadmin", "groupadmin"])
    ensure_users(hub, ["groupadmin"], groups=["user-admins"])
    session = api(hub)
    make_course(hub, session, "rolecheck")
    post_roster(hub, session, "rolecheck", roster_csv(["roleadmin", "groupadmin", "rcstu"]),
                apply=1)  # fmt: skip
    for mode in ("group", "delete"):
        result = post_roster(
            hub, session, "rolecheck", roster_csv(["rcstu"]), remove=mode, apply=1,
            confirm="rolecheck",
        )  # fmt: skip
        reasons = {p["username"]: p["reason"] for p in result["protected"]}
        assert reasons == {
            "roleadmin": "holds the Hub role 'test-user-admins' (a role may grant admin rights)",
            "groupadmin": "holds the Hub role 'test-user-admins' (a role may grant admin rights)",
        }
        assert hub_group(hub, "course-rolecheck") == ["groupadmin", "rcstu", "roleadmin"]
    assert hub_has(hub, "roleadmin") and hub_has(hub, "groupadmin")


def test_a_course_never_takes_over_an_existing_hub_group_unless_an_admin_adopts_it(hub):
    ensure_users(hub, ["gpu1", "gpu2"], groups=["course-gpulab"])
    session = api(hub)
    r = session.post(hub.service_url + "api/v1/courses", json={"slug": "gpulab"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "group_exists"
    assert "'course-gpulab' (2 members)" in r.json()["error"]["message"]
    assert "--adopt-group" in r.json()["error"]["message"]
    page_session, page = sign_in(hub, "instructor")
    form = page_session.post(
        hub.service_url + "courses",
        data={"slug": "gpulab", "title": "GPU", "csrf_token": csrf_token(page.text)},
    )
    assert form.status_code == 400
    assert "already has a group" in html.unescape(form.text)

    refused = service_cli(hub, "course", "create", "gpulab")
    assert refused.returncode == 1
    assert "already has a group 'course-gpulab'" in refused.stderr
    adopted = service_cli(hub, "course", "create", "gpulab", "--adopt-group")
    assert adopted.returncode == 0, adopted.stderr
    assert "its 2 members are the students" in adopted.stdout
    assert "  gpu1\n  gpu2\n" in adopted.stdout
    assert hub_group(hub, "course-gpulab") == ["gpu1", "gpu2"]


def test_a_hub_user_called_cli_manages_no_command_line_course(hub):
    made = service_cli(hub, "course", "create", "fromshell", "--json")
    assert made.returncode == 0, made.stderr
    ensure_users(hub, ["cli"], groups=["instructors"])
    cli_user = {"Authorization": f"token {user_token(hub, 'cli')}"}
    base = hub.service_url + "api/v1/courses"
    assert requests.get(f"{base}/fromshell", headers=cli_user).status_code == 404
    assert "fromshell" not in [c["slug"] for c in requests.get(base, headers=cli_user).json()
                               ["courses"]]  # fmt: skip
    admin = {"Authorization": f"token {user_token(hub, 'hubadmin')}"}
    course = requests.get(f"{base}/fromshell", headers=admin).json()
    assert course["created_by"] is None


def test_instructors_name_only_groups_they_are_in_when_creating_a_course(hub):
    ensure_users(hub, ["outsider"], groups=["big-group"])
    session = api(hub)
    r = session.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "grabby", "instructor_groups": ["big-group"]},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "not_your_group"
    assert (
        requests.get(
            hub.service_url + "api/v1/courses/grabby",
            headers={"Authorization": f"token {user_token(hub, 'hubadmin')}"},
        ).status_code
        == 404
    )


def test_another_courses_instructor_cannot_shield_a_student_by_naming_them_staff(hub):
    # Course A's student is named a TA of course B, and a group of B's instructor holds
    # another of A's students: A's roster still takes both out of A.
    ensure_users(hub, ["shieldprof"], groups=["instructors", "shield-dept"])
    owner = api(hub)
    make_course(hub, owner, "shield-a")
    post_roster(hub, owner, "shield-a", roster_csv(["shieldstu1", "shieldstu2", "shieldstay"]),
                apply=1)  # fmt: skip
    ensure_users(hub, ["shieldstu2"], groups=["shield-dept"])
    other = api(hub, "shieldprof")
    r = other.post(
        hub.service_url + "api/v1/courses",
        json={"slug": "shield-b", "instructor_groups": ["shield-dept"]},
    )
    assert r.status_code == 201, r.text
    page_session, page = sign_in(hub, "shieldprof", "courses/shield-b")
    saved = page_session.post(
        hub.service_url + "courses/shield-b/staff",
        data={
            "staff_users": "shieldstu1",
            "instructor_groups": "shield-dept",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert "Teaching staff saved" in saved.text

    result = post_roster(
        hub, owner, "shield-a", roster_csv(["shieldstay"]), remove="delete", apply=1,
        confirm="shield-a",
    )  # fmt: skip

    assert result["protected"] == []
    assert hub_group(hub, "course-shield-a") == ["shieldstay"]
    # Their accounts stay: one is a TA of course B, the other is in B's staff group.
    kept = {k["username"]: k["reason"] for k in result["account_kept"]}
    assert kept == {
        "shieldstu1": "teaching staff of a course",
        "shieldstu2": "also in the Hub group 'shield-dept'",
    }
    assert hub_has(hub, "shieldstu1") and hub_has(hub, "shieldstu2")


def test_a_preview_stored_before_a_rule_changed_cannot_create_a_system_account(hub, hub_app):
    from sqlalchemy.orm.attributes import flag_modified

    from app import courses
    from app.extensions import db
    from app.roster import imports

    course = courses.create_course("stale", "Stale", who=None, group_members=lambda g: None)
    db.session.commit()
    record, _ = imports.preview(course, b"email\nstalestu@example.edu\n", "r.csv", actor="t")
    # As an older release stored it: its reserved list lacked 'games' (uid 5 on Debian).
    plan = dict(record.plan)
    plan["enrol"] = [*plan["enrol"], dict(plan["enrol"][0], username="games")]
    record.plan = plan
    flag_modified(record, "plan")
    db.session.commit()

    imports.apply(record, actor="t")
    db.session.commit()

    assert record.results["stalestu"] == "created"
    assert record.results["games"].startswith("failed: not enrolled, 'games' is a system account")
    assert not hub_has(hub, "games")


def test_an_account_created_before_its_group_add_failed_is_still_recorded_as_hubclass_s(
    hub, hub_app
):
    from app import courses
    from app.extensions import db
    from app.hub import HubClient
    from app.roster import imports
    from app.roster.models import HubAccount
    from tests.faultyhub import FaultyHub

    def rule(n, method, path):
        if method == "POST" and path.startswith("/hub/api/groups/course-orphans/users"):
            return 503, {"Content-Type": "application/json"}, b'{"message": "restarting"}'
        return None

    course = courses.create_course("orphans", "O", who=None, group_members=lambda g: None)
    db.session.commit()
    with FaultyHub(hub.api_url, rule) as faulty:
        client = HubClient(faulty.url, hub.service_token, sleep=lambda s: None, retries=0)
        record, _ = imports.preview(course, roster_csv(["orphan1"]), "r.csv", actor="t",
                                    client=client)  # fmt: skip
        imports.apply(record, actor="t", client=client)
        db.session.commit()
    assert record.results["orphan1"].startswith("failed")
    assert hub_has(hub, "orphan1")
    account = db.session.get(HubAccount, "orphan1")
    assert account is not None and account.course_id == course.id
    # The retry on a healthy Hub finishes the job, and the account can later be deleted.
    imports.apply(record, actor="t")
    db.session.commit()
    assert record.results["orphan1"] == "added"
    assert hub_group(hub, "course-orphans") == ["orphan1"]
