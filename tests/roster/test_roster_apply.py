"""Roster import against the real Hub: create, enrol, re-import, remove, survive faults."""

from __future__ import annotations

import json

import pytest

from app.hub import HubClient, HubError
from tests.faultyhub import FaultyHub
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
)

pytestmark = pytest.mark.hub


def test_300_students_are_created_enrolled_and_reimport_changes_nothing(hub, hub_users_made):
    session = api(hub)
    make_course(hub, session, "big300")
    names = [f"big{i:03d}" for i in range(300)]
    hub_users_made.extend(names)
    preview = post_roster(hub, session, "big300", roster_csv(names))
    assert preview["applied"] is False
    assert sorted(preview["add"]) == names
    assert not any(hub_has(hub, n) for n in names[:3])  # a preview changes nothing

    applied = post_roster(hub, session, "big300", roster_csv(names), apply=1)
    assert applied["status"] == "applied"
    assert set(applied["results"].values()) == {"created"}
    assert hub_group(hub, "course-big300") == names

    again = post_roster(hub, session, "big300", roster_csv(names), apply=1)
    assert again["add"] == []
    assert sorted(again["keep"]) == names
    assert again["results"] == {}
    assert hub_group(hub, "course-big300") == names

    students = session.get(hub.service_url + "api/v1/courses/big300/roster").json()["students"]
    assert len(students) == 300
    assert students[0]["email"] == "big000@example.edu"


def test_missing_students_leave_the_group_and_keep_their_hub_user(hub, hub_users_made):
    session = api(hub)
    make_course(hub, session, "drop5")
    names = [f"drop{i:02d}" for i in range(50)]
    hub_users_made.extend(names)
    post_roster(hub, session, "drop5", roster_csv(names), apply=1)
    kept = names[5:]
    plan = post_roster(hub, session, "drop5", roster_csv(kept), remove="group", apply=1)
    assert sorted(plan["remove"]) == names[:5]
    assert {plan["results"][n] for n in names[:5]} == {"removed"}
    assert hub_group(hub, "course-drop5") == kept
    assert all(hub_has(hub, n) for n in names[:5])
    students = session.get(hub.service_url + "api/v1/courses/drop5/roster").json()["students"]
    assert sorted(s["username"] for s in students) == kept
    browser, _ = sign_in(hub, "instructor")
    page = browser.get(hub.service_url + "courses/drop5/roster/").text
    assert 'Roster <span class="muted">45 students' in page
    assert page.count("left 20") == 5  # the five who left stay listed, marked


def test_a_large_removal_needs_the_course_name(hub):
    session = api(hub)
    make_course(hub, session, "halve")
    names = [f"half{i:02d}" for i in range(20)]
    post_roster(hub, session, "halve", roster_csv(names), apply=1)
    r = session.post(
        hub.service_url + "api/v1/courses/halve/roster",
        params={"remove": "group", "apply": 1},
        data=roster_csv(names[:10]),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 409
    assert "halve" in r.json()["error"]["message"]
    assert hub_group(hub, "course-halve") == names  # nothing removed
    ok = post_roster(
        hub, session, "halve", roster_csv(names[:10]), remove="group", apply=1, confirm="halve"
    )
    assert ok["status"] == "applied"
    assert hub_group(hub, "course-halve") == names[:10]


def test_admins_and_instructors_stay_and_other_courses_students_keep_their_account(hub):
    session = api(hub)
    make_course(hub, session, "guarded")
    make_course(hub, session, "other-course")
    ensure_users(hub, ["sharedstu"], groups=["course-other-course"])
    ensure_users(hub, ["hubadmin", "instructor"])
    names = ["sharedstu", "hubadmin", "instructor", "plainstu"]
    post_roster(hub, session, "guarded", roster_csv(names), apply=1)
    result = post_roster(
        hub, session, "guarded", roster_csv(["zzkeep"]), remove="delete", apply=1,
        confirm="guarded",
    )  # fmt: skip
    protected = {p["username"] for p in result["protected"]}
    assert {"hubadmin", "instructor"} <= protected
    assert result["account_kept"] == [
        {
            "username": "sharedstu",
            "reason": "the account was not created by Hubclass for this course",
        }
    ]
    assert result["results"]["plainstu"] == "deleted"
    assert result["results"]["sharedstu"] == "removed"
    assert hub_has(hub, "sharedstu") and hub_has(hub, "hubadmin") and hub_has(hub, "instructor")
    assert "sharedstu" not in hub_group(hub, "course-guarded")
    assert "sharedstu" in hub_group(hub, "course-other-course")
    assert not hub_has(hub, "plainstu")


def test_sections_become_course_subgroups(hub):
    session = api(hub)
    make_course(hub, session, "sect")
    post_roster(hub, session, "sect", roster_csv(["secta1", "secta2"], "Lab 01"), apply=1)
    assert hub_group(hub, "course-sect--lab-01") == ["secta1", "secta2"]


def test_a_section_never_lands_in_another_courses_group(hub):
    session = api(hub)
    make_course(hub, session, "alpha-lab")
    make_course(hub, session, "alpha")
    post_roster(hub, session, "alpha-lab", roster_csv(["labonly"]), apply=1)
    post_roster(hub, session, "alpha", roster_csv(["alphastu"], "Lab"), apply=1)
    assert hub_group(hub, "course-alpha-lab") == ["labonly"]
    assert hub_group(hub, "course-alpha--lab") == ["alphastu"]


def test_bad_rows_never_reach_the_hub_and_good_rows_still_import(hub):
    session = api(hub)
    make_course(hub, session, "mixed")
    data = (
        "username\ngoodone\n<img src=x onerror=alert(1)>\n-rf\n..\nroot\nGoodTwo\n"
        "with space\n" + "x" * 300 + "\n"
    ).encode()
    result = post_roster(hub, session, "mixed", data, username_from="column:username", apply=1)
    assert sorted(result["add"]) == ["goodone", "goodtwo"]
    assert len(result["invalid"]) >= 5
    names = {u.name for u in HubClient(hub.api_url, hub.admin_token).list_users()}
    assert "goodone" in names
    assert not any(n.startswith(("<img", "-rf", "with")) or n in ("..", "x" * 300) for n in names)


def test_a_hub_failing_part_way_then_a_retry_converges(hub):
    """Fail the 2nd create call; applying again finishes with no duplicate and no loss."""
    session = api(hub)
    make_course(hub, session, "faulty")
    names = [f"flt{i:03d}" for i in range(30)]

    calls = {"post_users": 0}

    def rule(n, method, path):
        if method == "POST" and path.split("?")[0] == "/hub/api/users":
            calls["post_users"] += 1
            if calls["post_users"] == 2:
                return 500, {"Content-Type": "application/json"}, b'{"message": "boom"}'
        return None

    from flask_migrate import upgrade

    from app import create_app
    from app.config import from_env
    from app.courses.models import Course
    from app.extensions import db
    from app.roster import imports

    with FaultyHub(hub.api_url, rule) as faulty:
        app = create_app(
            from_env(
                {
                    "JUPYTERHUB_API_URL": faulty.url,
                    "JUPYTERHUB_API_TOKEN": hub.service_token,
                    "HUBCLASS_DATA_DIR": str(hub.state / "faulty-app"),
                }
            )
        )
        with app.app_context():
            upgrade()
            course = Course(slug="faulty", title="F", hub_group="course-faulty", created_by="t")
            db.session.add(course)
            db.session.flush()
            # Small chunks so the failure lands in the middle of the creates.
            client = HubClient(faulty.url, hub.service_token, sleep=lambda s: None, create_chunk=10)
            record, _ = imports.preview(
                course, roster_csv(names), "r.csv", actor="t", client=client
            )
            imports.apply(record, actor="t", client=client)
            assert record.status == "partial"
            failed = sorted(u for u, r in record.results.items() if r.startswith("failed"))
            assert failed == names[10:20]
            assert hub_group(hub, "course-faulty") == names[:10] + names[20:]
            imports.apply(record, actor="t", client=client)  # the retry
            assert record.status == "applied"
            assert set(record.results.values()) == {"created"}
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
    assert hub_group(hub, "course-faulty") == names
    listed = hub.admin().get(f"{hub.api_url}/users", params={"name_filter": "flt"}).json()
    assert sorted(u["name"] for u in listed) == names  # each once: no duplicates


def test_the_upload_page_previews_then_applies(hub):
    session, _ = sign_in(hub, "instructor")
    page = session.get(hub.service_url)
    session.post(
        hub.service_url + "courses",
        data={"slug": "webroster", "title": "Web", "csrf_token": csrf_token(page.text)},
    )
    page = session.get(hub.service_url + "courses/webroster/roster/")
    assert page.status_code == 200
    canvas = (
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section\n"
        "    Points Possible,,,,\n"
        '"Lovelace, Ada",1,S1,webada@example.edu,Section 01\n'
        '"<b>Bold</b>, Bob",2,S2,webbob@example.edu,Section 01\n'
        '"Student, Test",3,,,Section 01\n'
    ).encode()
    preview = session.post(
        hub.service_url + "courses/webroster/roster/",
        data={
            "csrf_token": csrf_token(page.text),
            "username_from": "email-local",
            "remove": "none",
        },
        files={"file": ("gradebook.csv", canvas, "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert "Preview of gradebook.csv" in preview.text
    assert "canvas" in preview.text
    assert not hub_has(hub, "webada")
    apply_url = preview.url + "/apply"
    done = session.post(apply_url, data={"csrf_token": csrf_token(preview.text)})
    assert "Roster applied" in done.text
    assert hub_group(hub, "course-webroster") == ["webada", "webbob"]
    roster = session.get(hub.service_url + "courses/webroster/roster/")
    assert "Ada Lovelace" in roster.text
    assert "webada@example.edu" in roster.text  # Canvas has no email column: the login is one
    assert "<b>Bold</b>" not in roster.text  # escaped
    assert "&lt;b&gt;" in roster.text


def _xlsx_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def test_an_xlsx_upload_gets_a_clear_message(hub):
    session = api(hub)
    make_course(hub, session, "xlsx")
    r = session.post(
        hub.service_url + "api/v1/courses/xlsx/roster",
        data=_xlsx_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 400
    assert "Excel" in r.json()["error"]["message"]


def test_an_upload_over_the_limit_gets_413(hub):
    session = api(hub)
    make_course(hub, session, "huge")
    r = session.post(
        hub.service_url + "api/v1/courses/huge/roster",
        data=b"a@example.edu\n" * (17 * 1024 * 1024 // 14),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


def test_cli_import_prints_the_plan_as_json(hub, tmp_path):
    import subprocess
    import sys

    session = api(hub)
    make_course(hub, session, "clicourse")
    path = tmp_path / "list.txt"
    path.write_text("cli1@example.edu\ncli2@example.edu\n\ncli1@example.edu\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "HUBCLASS_DATA_DIR": str(hub.service_data_dir),
    }
    run = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "roster", "import", "clicourse",
         str(path), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    plan = json.loads(run.stdout)
    assert sorted(plan["add"]) == ["cli1", "cli2"]
    assert plan["applied"] is False
    run = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "roster", "import", "clicourse",
         str(path), "--json", "--apply"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"] == {"cli1": "created", "cli2": "created"}
    assert hub_group(hub, "course-clicourse") == ["cli1", "cli2"]


def test_hub_error_on_apply_is_reported_not_crashed(hub):
    with pytest.raises(HubError):
        HubClient("http://127.0.0.1:9/hub/api", "x", retries=0).version()


def test_preview_apply_and_poll_on_sqlite_and_postgresql(hub, any_db_app):
    from app import activity
    from app.activity import students as dashboard
    from app.courses.models import Course
    from app.extensions import db
    from app.roster import imports

    engine = any_db_app.extensions["sqlalchemy"].engine.url.get_backend_name()
    client = HubClient(hub.api_url, hub.service_token)
    any_db_app.extensions["hubclass.hub"] = client
    slug = f"db-{engine}"
    course = Course(slug=slug, title=slug, hub_group=f"course-{slug}", created_by="t")
    db.session.add(course)
    db.session.flush()
    names = [f"{engine[:2]}db{i}" for i in range(5)]
    record, _ = imports.preview(course, roster_csv(names), "r.csv", actor="t")
    imports.apply(record, actor="t")
    db.session.commit()
    assert record.status == "applied"
    assert hub_group(hub, f"course-{slug}") == names
    activity.poll_once(client)
    rows = dashboard.students(course)
    assert [r.username for r in rows] == names
    assert dashboard.counts(rows).never == 5


def test_an_oversized_upload_on_the_page_gets_the_413_page_every_time(hub):
    session, page = sign_in(hub, "instructor")
    session.post(
        hub.service_url + "courses",
        data={"slug": "bigfile", "title": "Big", "csrf_token": csrf_token(page.text)},
    )
    form = session.get(hub.service_url + "courses/bigfile/roster/")
    big = b"a@example.edu\n" * (17 * 1024 * 1024 // 14)
    for _ in range(5):  # through the Hub's proxy, which must not turn it into a 503
        r = session.post(
            hub.service_url + "courses/bigfile/roster/",
            data={"csrf_token": csrf_token(form.text)},
            files={"file": ("big.csv", big, "text/csv")},
        )
        assert r.status_code == 413
        assert "File too large" in r.text
        assert "16 MiB" in r.text


def test_api_takes_a_multipart_file_too(hub):
    session = api(hub)
    make_course(hub, session, "multipart")
    r = session.post(
        hub.service_url + "api/v1/courses/multipart/roster",
        params={"apply": 1, "username_from": "email"},
        files={"file": ("list.txt", b"mp1@example.edu\nmp2@example.edu\n", "text/plain")},
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["add"]) == ["mp1@example.edu", "mp2@example.edu"]
    assert hub_group(hub, "course-multipart") == ["mp1@example.edu", "mp2@example.edu"]


def test_the_upload_form_says_what_to_fix(hub):
    session, page = sign_in(hub, "instructor")
    session.post(
        hub.service_url + "courses",
        data={"slug": "formhelp", "title": "Help", "csrf_token": csrf_token(page.text)},
    )
    no_column = upload_page(
        hub, session, "formhelp", b"login,name\nabc,A\n", username_from="column"
    )
    assert no_column.status_code == 400
    assert "Column for usernames: type the name of the column" in no_column.text
    first = upload_page(hub, session, "formhelp", b"email\nhelp1@example.edu\n")
    session.post(first.url + "/apply", data={"csrf_token": csrf_token(first.text)})
    again = upload_page(hub, session, "formhelp", b"email\nhelp1@example.edu\n")
    assert "Nothing to change: everyone in the file is enrolled already." in again.text
    assert '<button type="submit">Apply</button>' not in again.text
