"""The roster cannot grant privilege, reach outside its groups, or remove on bad information.

SECURITY.md items 8 (no `admin`, only `course-*` groups), 9 (removal plans only from complete
listings; a typed confirmation for large removals) and fault 1 (a Hub failing at any call of an
apply: re-running converges, nothing lost, no duplicate). Hub state is read with
the suite's admin token; faults come from tests/faultyhub.py in front of the real Hub.
"""

from __future__ import annotations

import pwd
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.config import from_env
from app.extensions import db
from app.hub import HubError
from app.roster import imports
from app.roster.models import RosterImport
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
    user_token,
)

pytestmark = pytest.mark.hub

PAGINATION = {"Accept": "application/jupyterhub-pagination+json"}


def all_groups(hub) -> dict[str, list[str]]:
    """Every Hub group and its members, from a complete paginated listing."""
    groups, offset = {}, 0
    while True:
        body = (
            hub.admin()
            .get(
                f"{hub.api_url}/groups", params={"offset": offset, "limit": 200}, headers=PAGINATION
            )
            .json()
        )
        groups.update({g["name"]: sorted(g["users"]) for g in body["items"]})
        if not body["_pagination"]["next"]:
            return groups
        offset = body["_pagination"]["next"]["offset"]


def hub_user(hub, name: str) -> dict:
    return hub.admin().get(f"{hub.api_url}/users/{name}").json()


def test_admin_columns_and_group_names_never_reach_the_hub(hub):
    session = api(hub)
    make_course(hub, session, "privesc")
    before = all_groups(hub)
    csv = (
        b"email,name,admin,is admin,group,groups,role,section\n"
        b"privone@example.edu,One,true,yes,admin,instructors,Student,A\n"
        b"privtwo@example.edu,Two,1,true,instructors,admin,Student,A\n"
    )
    r = session.post(
        hub.service_url + "api/v1/courses/privesc/roster",
        params={"apply": 1},
        data=csv,
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["add"]) == ["privone", "privtwo"]
    # The instructor maps the "groups" column as the section by hand: still a course group.
    form = {"email_column": "email", "section_column": "groups"}
    session_page, _ = sign_in(hub, "instructor")
    preview = upload_page(hub, session_page, "privesc", csv, **form)
    assert preview.status_code == 200, preview.text
    done = session_page.post(preview.url + "/apply", data={"csrf_token": csrf_token(preview.text)})
    assert "Roster applied" in done.text

    expected = {"privone": "course-privesc--instructors", "privtwo": "course-privesc--admin"}
    for name, section_group in expected.items():
        user = hub_user(hub, name)
        assert user["admin"] is False
        assert user["roles"] == ["user"]
        assert sorted(user["groups"]) == ["course-privesc", "course-privesc--a", section_group]
    after = all_groups(hub)
    assert after["instructors"] == before["instructors"]
    assert "admin" not in after
    assert {g for g in after if g not in before} <= {
        "course-privesc",
        "course-privesc--a",
        "course-privesc--admin",
        "course-privesc--instructors",
    }
    # Instructor status comes from the Hub: these students cannot use Hubclass.
    r = requests.get(
        hub.service_url + "api/v1/courses",
        headers={"Authorization": f"token {user_token(hub, 'privone')}"},
    )
    assert r.status_code == 403


def test_the_roster_never_touches_groups_outside_its_own(hub):
    session = api(hub)
    make_course(hub, session, "fence")
    make_course(hub, session, "fence-neighbour")
    names = [f"fence{i:02d}" for i in range(12)]
    # Some of the students are in other groups too: another course, a Hub-wide group.
    ensure_users(hub, names[:3], groups=["course-fence-neighbour", "gpu-users"])
    first = session.post(
        hub.service_url + "api/v1/courses/fence/roster",
        params={"apply": 1},
        data=roster_csv(names, section="Lab 1"),
        headers={"Content-Type": "text/csv"},
    )
    assert first.status_code == 200, first.text
    before = all_groups(hub)
    # Half of them leave: removal from the course's groups, confirmed.
    second = session.post(
        hub.service_url + "api/v1/courses/fence/roster",
        params={"apply": 1, "remove": "group", "confirm": "fence"},
        data=roster_csv(names[6:], section="Lab 2"),
        headers={"Content-Type": "text/csv"},
    )
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "applied"
    # All six leave this course's groups; the three also in another course stay in it.
    assert second.json()["protected"] == []
    after = all_groups(hub)
    own = re.compile(r"course-fence(--lab-\d)?$")
    changed = {g for g in before.keys() | after.keys() if before.get(g) != after.get(g)}
    assert changed and all(own.fullmatch(g) for g in changed), changed
    assert after["course-fence"] == names[6:]
    assert after["course-fence-neighbour"] == names[:3]
    assert after["gpu-users"] == names[:3]
    assert all(hub_has(hub, n) for n in names)


def test_a_large_removal_needs_the_typed_course_name_on_the_page(hub):
    names = [f"massrm{i:02d}" for i in range(20)]
    make_course(hub, api(hub), "massrm")
    session, _ = sign_in(hub, "instructor")
    first = upload_page(hub, session, "massrm", roster_csv(names))
    session.post(first.url + "/apply", data={"csrf_token": csrf_token(first.text)})
    assert hub_group(hub, "course-massrm") == names

    # A truncated export: 5 of the 20 rows. Deleting 15 accounts needs the course name.
    preview = upload_page(hub, session, "massrm", roster_csv(names[:5]), remove="delete")
    assert preview.status_code == 200
    assert 'name="confirm"' in preview.text
    assert "Type <code>massrm</code> to confirm" in preview.text
    token = csrf_token(preview.text)
    for typed in (None, "", "MASSRM", "massrm-x", "fence"):
        data = {"csrf_token": token} | ({} if typed is None else {"confirm": typed})
        r = session.post(preview.url + "/apply", data=data)
        assert r.status_code == 200
        assert "Type the course name" in r.text
        assert "Roster applied" not in r.text
        assert hub_group(hub, "course-massrm") == names
        assert all(hub_has(hub, n) for n in names[5:])
    r = session.post(preview.url + "/apply", data={"csrf_token": token, "confirm": " massrm "})
    assert "Roster applied" in r.text
    assert hub_group(hub, "course-massrm") == names[:5]
    assert not any(hub_has(hub, n) for n in names[5:])


def every_file(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in root.rglob("*")
    }


def test_a_roster_that_deletes_an_account_leaves_its_home_folder(hub):
    """SECURITY.md 9: homes are never deleted. The student has used their server, so the Hub's
    spawner made their home; the roster deletes the account, and the home keeps every byte."""
    make_course(hub, api(hub), "keephome")
    stays, leaves = "keephome1", "keephome2"
    session = api(hub)
    post_roster(hub, session, "keephome", roster_csv([stays, leaves]), apply=1)
    admin = hub.admin()
    assert admin.post(f"{hub.api_url}/users/{leaves}/server").status_code in (201, 202)
    deadline = time.monotonic() + 60
    while not admin.get(f"{hub.api_url}/users/{leaves}").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
    home = hub.state / "homes" / leaves
    (home / "work").mkdir(exist_ok=True)
    (home / "work" / "answers.ipynb").write_text("a week of work\n")
    before = every_file(home)

    result = post_roster(
        hub, session, "keephome", roster_csv([stays]), remove="delete", confirm="keephome",
        apply=1,
    )  # fmt: skip

    assert result["results"][leaves] == "deleted"
    assert not hub_has(hub, leaves)
    assert every_file(home) == before
    assert before["work/answers.ipynb"] == b"a week of work\n"


@contextmanager
def app_behind(hub, faulty: FaultyHub, data_dir):
    """The app in this process, talking to the Hub through the fault injector."""
    app = create_app(
        from_env(
            {
                "JUPYTERHUB_API_URL": faulty.url,
                "JUPYTERHUB_API_TOKEN": hub.service_token,
                "HUBCLASS_DATA_DIR": str(data_dir),
                "HUBCLASS_WORKERS": "0",  # no poller thread: only the requests of this test
            }
        )
    )
    hub_client = app.extensions["hubclass.hub"]
    hub_client.sleep = lambda seconds: None  # retries without waiting
    with app.app_context():
        upgrade()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"token {user_token(hub, 'instructor')}"
        try:
            yield client
        finally:
            db.session.remove()
            db.engine.dispose()


def _listing(mode: str, method: str, path: str):
    if method != "GET" or not path.startswith("/hub/api/users?"):
        return None
    if mode == "fail":
        return 500, {"Content-Type": "application/json"}, b'{"message": "database is gone"}'
    if mode == "plain":  # what a Hub or a proxy that drops the pagination header sends
        return 200, {"Content-Type": "application/json"}, b'[{"name": "instructor"}]'
    return None


@pytest.mark.parametrize(("mode", "code"), [("fail", "hub_error"), ("plain", "no_pagination")])
def test_a_failing_or_unpaginated_listing_never_yields_a_removal(hub, tmp_path, mode, code):
    fault = {"mode": None}
    slug = f"listing-{mode}"
    names = [f"lst{mode}{i:02d}" for i in range(12)]

    def rule(n, method, path):
        return _listing(fault["mode"], method, path)

    with FaultyHub(hub.api_url, rule) as faulty, app_behind(hub, faulty, tmp_path) as c:
        url = f"/services/hubclass/api/v1/courses/{slug}/roster"
        assert c.post("/services/hubclass/api/v1/courses", json={"slug": slug}).status_code == 201
        r = c.post(url, query_string={"apply": 1}, data=roster_csv(names))
        assert r.json["status"] == "applied"
        # A preview needs the listing: without a whole one there is no plan at all.
        fault["mode"] = mode
        r = c.post(url, query_string={"remove": "delete"}, data=roster_csv(names[:1]))
        assert r.status_code == 502
        assert r.json["error"]["code"] == "hub_" + code
        assert db.session.scalar(select(func.count()).select_from(RosterImport)) == 1
        # A preview made while the Hub was fine, applied while its listing fails.
        fault["mode"] = None
        r = c.post(url, query_string={"remove": "delete"}, data=roster_csv(names[:1]))
        assert r.status_code == 200 and len(r.json["remove"]) == 11
        fault["mode"] = mode
        record = db.session.get(RosterImport, r.json["import"])
        with pytest.raises(HubError) as caught:
            imports.apply(record, actor="instructor", confirm=slug)
        assert caught.value.code == code
        db.session.rollback()
        assert db.session.get(RosterImport, r.json["import"]).status == "previewed"
    assert all(hub_has(hub, n) for n in names)
    assert hub_group(hub, f"course-{slug}") == names


# The apply below makes 7 changing calls: create the new users; ensure the course group and add
# to it; ensure the section group and add to it; remove the leavers from both groups.
@pytest.mark.parametrize("k", range(1, 8))
def test_a_connection_reset_at_any_call_of_an_apply_then_a_rerun_converges(hub, tmp_path, k):
    slug = f"reset{k}"
    old = [f"rs{k}old{i}" for i in range(6)]
    new = [f"rs{k}new{i}" for i in range(3)]
    wanted = old[2:] + new
    changing = {"count": 0, "armed": False}

    def rule(n, method, path):
        if method == "GET" or not changing["armed"]:
            return None
        changing["count"] += 1
        return "reset" if changing["count"] == k else None

    with FaultyHub(hub.api_url, rule) as faulty, app_behind(hub, faulty, tmp_path) as c:
        url = f"/services/hubclass/api/v1/courses/{slug}/roster"
        c.post("/services/hubclass/api/v1/courses", json={"slug": slug})
        r = c.post(url, query_string={"apply": 1}, data=roster_csv(old, section="Lab"))
        assert r.json["status"] == "applied"
        changing["armed"] = True
        params = {"apply": 1, "remove": "group", "confirm": slug}
        first = c.post(url, query_string=params, data=roster_csv(wanted, section="Lab"))
        assert first.status_code == 200, first.json
        assert changing["count"] >= k  # the reset happened during this apply
        changing["armed"] = False
        rerun = c.post(url, query_string=params, data=roster_csv(wanted, section="Lab"))
        assert rerun.json["status"] == "applied", rerun.json
    assert hub_group(hub, f"course-{slug}") == sorted(wanted)
    assert hub_group(hub, f"course-{slug}--lab") == sorted(wanted)
    listed = hub.admin().get(f"{hub.api_url}/users", params={"name_filter": f"rs{k}"}).json()
    assert sorted(u["name"] for u in listed) == sorted(old + new)  # nobody lost, none twice


def test_a_system_account_in_the_roster_never_becomes_a_hub_user(hub):
    """Issue 8 item 4: `games` (uid 5 here) would give a student a server running as games."""
    games_uid = pwd.getpwnam("games").pw_uid
    session = api(hub)
    make_course(hub, session, "sysacct")
    csv = b"email,name\ngames@example.edu,Games\nsysok@example.edu,Ok Student\n"

    r = session.post(
        hub.service_url + "api/v1/courses/sysacct/roster",
        params={"apply": 1},
        data=csv,
        headers={"Content-Type": "text/csv"},
    )

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    assert r.json()["add"] == ["sysok"]
    assert r.json()["invalid"] == [
        {
            "row": 2,
            "value": "games@example.edu",
            "reason": f"'games' is a system account of this machine (uid {games_uid}): a "
            "student's server would run as it",
        }
    ]
    assert hub_has(hub, "sysok")
    assert not hub_has(hub, "games")
    assert hub_group(hub, "course-sysacct") == ["sysok"]
