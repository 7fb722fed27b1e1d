"""Assignments through the pages, the API and the command line, on the suite's real Hub.

Each way in adds, lists and changes a course's assignments with the same rules; each refusal
says what to fix and leaves the assignment table and the audit history as they were. What the
service stored is read from its own database (`service_app`); the session shares it, so each
test names its own courses.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from pathlib import Path

import pytest
import requests
from markupsafe import escape
from sqlalchemy import func, select

from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.courses import CLI_ACTOR
from app.courses.models import Course
from app.extensions import db
from tests.conftest import real_hub_env, run_flask
from tests.hubusers import api, csrf_token, ensure_users, make_course, sign_in, user_token

pytestmark = pytest.mark.hub

# The suite's Hub allows these (tests/conftest.py); github.com is not among them.
ALLOWED = "file://,git://127.0.0.1"
REPO = "git://127.0.0.1/course/week1.git"


def alert(page: str) -> str:
    """The page's error message (a flash shown as an alert), or "" when it has none."""
    found = re.search(r'role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def stored(course: str) -> list[dict]:
    """The course's assignments as the service stored them, in the order they were added."""
    db.session.remove()  # read what the service committed since
    rows = db.session.scalars(
        select(Assignment)
        .join(Assignment.course)
        .where(Course.slug == course)
        .order_by(Assignment.id)
    )
    return [
        {"slug": a.slug, "title": a.title, "repo_url": a.repo_url, "branch": a.branch,
         "subpath": a.subpath, "target": a.target, "depth": a.depth, "policy": a.unsafe_policy,
         "course_copy": a.course_copy, "created_by": a.created_by}
        for a in rows
    ]  # fmt: skip


def assignment_events(course: str) -> list[tuple]:
    """The service's assignment.* audit events of the course: (actor, action, target, detail)."""
    db.session.remove()
    rows = db.session.scalars(
        select(AuditEvent)
        .join(AuditEvent.course)
        .where(Course.slug == course, AuditEvent.action.like("assignment.%"))
        .order_by(AuditEvent.id)
    )
    return [(e.actor, e.action, e.target, e.detail) for e in rows]


def everything() -> tuple[int, int]:
    """Every assignment and every assignment event of the service: a refusal changes neither."""
    db.session.remove()
    return (
        db.session.scalar(select(func.count()).select_from(Assignment)),
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("assignment.%"))
        ),
    )


class Page:
    """The instructor in a browser, signed in through the Hub."""

    name = "page"
    actor = "instructor"

    def __init__(self, hub, who: str = "instructor"):
        self.hub = hub
        self.browser, _ = sign_in(hub, who)
        self.reader = api(hub)

    def url(self, course: str, slug: str = "") -> str:
        return self.hub.service_url + f"courses/{course}/assignments/{slug}"

    def post(self, course: str, slug: str, data: dict) -> requests.Response:
        form = self.browser.get(self.url(course, slug))
        r = self.browser.post(
            self.url(course, slug), data={"csrf_token": csrf_token(form.text), **data}
        )
        assert r.status_code < 500, r.text
        return r

    def add(self, course: str, name: str, **settings) -> str:
        data = {"slug": name, "policy": "needs_attention", **settings}
        self.last = self.post(course, "", form_data(data))
        return alert(self.last.text)

    def change(self, course: str, name: str, **settings) -> str:
        # The form posts every setting: those not changed as the page shows them.
        now = self.reader.get(
            self.hub.service_url + f"api/v1/courses/{course}/assignments/{name}"
        ).json()
        data = {field: now[field] or "" for field in FORM_FIELDS} | settings
        self.last = self.post(course, name, form_data(data))
        return alert(self.last.text)


FORM_FIELDS = ("title", "repo_url", "branch", "subpath", "target", "depth", "policy", "course_copy")


def form_data(settings: dict) -> dict[str, str]:
    """As a browser posts the form: a ticked box sends "y", an unticked one nothing."""
    return {k: "y" if v is True else str(v) for k, v in settings.items() if v is not False}


class Api:
    """The instructor's script, with a Hub token."""

    name = "api"
    actor = "instructor"

    def __init__(self, hub, who: str = "instructor"):
        self.hub = hub
        self.session = api(hub, who)

    def url(self, course: str, slug: str = "") -> str:
        return (
            self.hub.service_url
            + f"api/v1/courses/{course}/assignments"
            + (f"/{slug}" if slug else "")
        )

    def add(self, course: str, name: str, **settings) -> str:
        self.last = self.session.post(self.url(course), json={"slug": name, **settings})
        assert self.last.status_code < 500, self.last.text
        return "" if self.last.status_code == 201 else self.last.json()["error"]["message"]

    def change(self, course: str, name: str, **settings) -> str:
        self.last = self.session.patch(self.url(course, name), json=settings)
        assert self.last.status_code < 500, self.last.text
        return "" if self.last.status_code == 200 else self.last.json()["error"]["message"]


CLI_OPTIONS = {"repo_url": "--repo", "subpath": "--path"}


def cli(hub, *args: str):
    """`flask --app wsgi ARGS` on the service's database, with the service's allow-list."""
    env = {
        "PATH": os.environ["PATH"],
        **real_hub_env(hub, hub.service_data_dir),
        "HUBCLASS_ALLOWED_REPO_URLS": ALLOWED,
    }
    return run_flask(env, *args)


class Cli:
    """The machine's administrator, on the service's own database."""

    name = "cli"
    actor = CLI_ACTOR

    def __init__(self, hub):
        self.hub = hub

    def _run(self, command: str, course: str, slug: str, settings: dict) -> str:
        args = ["assignment", command, course, slug]
        for name, value in settings.items():
            if isinstance(value, bool):  # a switch: --course-copy / --no-course-copy
                args.append(("--" if value else "--no-") + name.replace("_", "-"))
                continue
            args += [CLI_OPTIONS.get(name, f"--{name}"), str(value)]
        self.last = cli(self.hub, *args)
        assert self.last.returncode in (0, 1), self.last.stderr
        return self.last.stderr.removeprefix("Error: ").strip() if self.last.returncode else ""

    def add(self, course: str, name: str, **settings) -> str:
        return self._run("add", course, name, settings)

    def change(self, course: str, name: str, **settings) -> str:
        return self._run("change", course, name, settings)


ENTRY_POINTS = {kind.name: kind for kind in (Page, Api, Cli)}


@pytest.fixture(params=list(ENTRY_POINTS))
def entry(request, hub, service_app):
    """One way in: the page, the API or the command line."""
    return ENTRY_POINTS[request.param](hub)


@pytest.fixture
def course(request, hub) -> str:
    """A fresh course of the instructor's, named after the test (and its parameters)."""
    words = re.sub(r"^test_", "", request.node.originalname).split("_")
    tag = hashlib.sha256(request.node.name.encode()).hexdigest()[:6]
    slug = "as-" + "".join(w[0] for w in words if w)[:20] + "-" + tag
    make_course(hub, api(hub), slug)
    return slug


# -- adding and listing ---------------------------------------------------------------------


def test_an_assignment_is_added_with_every_setting_and_recorded_with_who_added_it(entry, course):
    settings = {
        "title": "Week 1: basics",
        "repo_url": REPO,
        "branch": "release/fall",
        "subpath": "labs/lab1",
        "target": "week-one",
        "depth": "full",
        "policy": "backup",
        "course_copy": True,
    }

    assert entry.add(course, "week1", **settings) == ""

    assert stored(course) == [
        {"slug": "week1", "title": "Week 1: basics", "repo_url": REPO, "branch": "release/fall",
         "subpath": "labs/lab1", "target": "week-one", "depth": None, "policy": "backup",
         "course_copy": True, "created_by": None if entry.name == "cli" else "instructor"},
    ]  # fmt: skip
    assert assignment_events(course) == [
        (entry.actor, "assignment.add", "week1", {"settings": {**settings, "depth": "full"}}),
    ]


def test_an_assignment_given_only_a_repository_gets_the_defaults(entry, course):
    assert entry.add(course, "notes", repo_url="file:///srv/course-repos/lecture-notes.git/") == ""

    assert stored(course) == [
        {"slug": "notes", "title": "notes", "repo_url": "file:///srv/course-repos/lecture-notes.git/",
         "branch": None, "subpath": None, "target": "lecture-notes", "depth": 1,
         "policy": "needs_attention", "course_copy": False,
         "created_by": None if entry.name == "cli" else "instructor"},
    ]  # fmt: skip


def test_the_assignments_are_listed_in_the_order_they_were_added(hub, entry, course):
    for slug in ("week2", "week1", "week3"):
        assert entry.add(course, slug, repo_url=f"git://127.0.0.1/c/{slug}") == ""

    listed = api(hub).get(hub.service_url + f"api/v1/courses/{course}/assignments").json()
    page = sign_in(hub, "instructor", f"courses/{course}/assignments/")[1].text
    run = cli(hub, "assignment", "list", course, "--json")
    lines = cli(hub, "assignment", "list", course).stdout.splitlines()

    assert [a["slug"] for a in listed["assignments"]] == ["week2", "week1", "week3"]
    assert listed["course"] == course
    assert [a["slug"] for a in json.loads(run.stdout)] == ["week2", "week1", "week3"]
    assert lines[0] == "week2\t~/week2\tgit://127.0.0.1/c/week2\t(default branch)"
    assert re.findall(r'assignments/(week\d)">', page) == ["week2", "week1", "week3"]
    assert 'aria-current="page">Assignments</a>' in page


def test_the_api_answers_an_assignment_as_json_with_its_nbgitpuller_link(hub, service_app):
    make_course(hub, api(hub), "as-json")
    session = api(hub)
    body = {"slug": "lab2", "title": "Lab 2", "repo_url": REPO, "branch": "main",
            "subpath": "labs/lab2", "target": "lab2", "depth": 3, "policy": "backup"}  # fmt: skip

    created = session.post(hub.service_url + "api/v1/courses/as-json/assignments", json=body)
    read = session.get(hub.service_url + "api/v1/courses/as-json/assignments/lab2")

    assert created.status_code == 201, created.text
    assert created.json() == read.json()
    answer = read.json()
    assert {k: answer[k] for k in body} == body
    assert answer["course"] == "as-json"
    assert answer["created_by"] == "instructor"
    assert answer["created_at"].endswith("Z") and answer["updated_at"].endswith("Z")
    assert answer["nbgitpuller_link"] == (
        f"{hub.url}/hub/user-redirect/git-pull"
        "?repo=git%3A%2F%2F127.0.0.1%2Fcourse%2Fweek1.git&branch=main"
        "&urlpath=tree%2Flab2%2Flabs%2Flab2&targetpath=lab2&depth=3"
    )


def test_the_assignment_page_shows_its_settings_its_nbgitpuller_link_and_its_form(hub, service_app):
    make_course(hub, api(hub), "as-page")
    assert Api(hub).add("as-page", "hw1", repo_url=REPO, title="Homework 1") == ""

    page = sign_in(hub, "instructor", "courses/as-page/assignments/hw1")[1]

    assert page.status_code == 200
    assert "<h1>Homework 1" in page.text
    link = (
        f"{hub.url}/hub/user-redirect/git-pull?repo=git%3A%2F%2F127.0.0.1%2Fcourse%2Fweek1.git"
        "&urlpath=tree%2Fweek1%2F&targetpath=week1&depth=1"
    )
    assert f'value="{html.escape(link)}"' in page.text
    assert 'name="repo_url" ' in page.text and f'value="{REPO}"' in page.text
    assert 'aria-current="page">Assignments</a>' in page.text


def test_an_assignment_that_does_not_exist_is_a_404(hub, service_app):
    make_course(hub, api(hub), "as-missing")
    browser, _ = sign_in(hub, "instructor")

    page = browser.get(hub.service_url + "courses/as-missing/assignments/nope")
    answer = api(hub).get(hub.service_url + "api/v1/courses/as-missing/assignments/nope")

    assert page.status_code == answer.status_code == 404
    assert "The course 'as-missing' has no assignment 'nope'." in html.unescape(page.text)
    assert answer.json()["error"] == {
        "code": "not_found",
        "message": "The course 'as-missing' has no assignment 'nope'.",
    }


# -- changing -------------------------------------------------------------------------------


def test_changing_an_assignment_records_what_changed_from_what_to_what(entry, course):
    assert entry.add(course, "week1", repo_url=REPO) == ""

    assert entry.change(course, "week1", branch="main", depth="full", title="Week one") == ""

    assert stored(course)[0] | {"created_by": None} == {
        "slug": "week1", "title": "Week one", "repo_url": REPO, "branch": "main",
        "subpath": None, "target": "week1", "depth": None, "policy": "needs_attention",
        "course_copy": False, "created_by": None,
    }  # fmt: skip
    assert assignment_events(course)[1:] == [
        (entry.actor, "assignment.change", "week1",
         {"changed": {"title": {"from": "week1", "to": "Week one"},
                      "branch": {"from": None, "to": "main"}, "depth": {"from": 1, "to": "full"}}}),
    ]  # fmt: skip
    # The same settings again change nothing, and say so; the history holds no new event.
    assert entry.change(course, "week1", branch="main") == ""
    assert len(assignment_events(course)) == 2


def test_a_cleared_branch_is_the_default_again_and_a_cleared_target_the_repositorys_name(
    hub, service_app
):
    make_course(hub, api(hub), "as-clear")
    client = Api(hub)
    assert client.add("as-clear", "w", repo_url=REPO, branch="dev", target="mine") == ""

    assert client.change("as-clear", "w", branch="", target="") == ""

    assert client.last.json()["changed"] == {
        "branch": {"from": "dev", "to": None},
        "target": {"from": "mine", "to": "week1"},
    }
    assert (stored("as-clear")[0]["branch"], stored("as-clear")[0]["target"]) == (None, "week1")


def test_a_refused_change_changes_nothing_and_records_nothing(entry, course):
    assert entry.add(course, "week1", repo_url=REPO, branch="main") == ""
    before = stored(course), everything()

    refused = entry.change(course, "week1", branch="fall", target=".ssh")

    assert "'.ssh' cannot be the target folder: it starts with '.'" in refused
    assert (stored(course), everything()) == before


def test_the_api_refuses_to_change_an_assignments_short_name(hub, service_app):
    make_course(hub, api(hub), "as-rename")
    client = Api(hub)
    assert client.add("as-rename", "week1", repo_url=REPO) == ""

    refused = client.change("as-rename", "week1", slug="week2")

    assert client.last.status_code == 400
    assert "short name cannot change" in refused
    assert [a["slug"] for a in stored("as-rename")] == ["week1"]


# -- refusals -------------------------------------------------------------------------------


def _data_dir_urls(data: Path, tmp_path: Path) -> dict[str, str]:
    """The service's data dir, spelled every way a file URL can reach it."""
    link = tmp_path / "innocent-looking"
    link.symlink_to(data)
    last = data.name
    return {
        "as is": f"file://{data}",
        "trailing slash": f"file://{data}/",
        "a mirror in it": f"file://{data}/mirrors/github.com-org-week1.git",
        "doubled slashes": f"file://{str(data).replace('/', '//')}//mirrors/",
        "four slashes": f"file:///{data}/mirrors",
        "upper case": f"file://{str(data).upper()}/mirrors",
        "percent-encoded": f"file://{data.parent}/%{ord(last[0]):02X}{last[1:]}/mirrors",
        "a symlink to it": f"file://{link}/mirrors",
    }


DATA_DIR_SPELLINGS = [
    "as is", "trailing slash", "a mirror in it", "doubled slashes", "four slashes", "upper case",
    "percent-encoded", "a symlink to it",
]  # fmt: skip


@pytest.mark.parametrize("spelling", DATA_DIR_SPELLINGS)
def test_a_repository_in_hubclasss_own_data_dir_is_refused_whatever_the_allow_list(
    hub, entry, course, tmp_path, spelling
):
    url = _data_dir_urls(hub.service_data_dir, tmp_path)[spelling]
    before = everything()

    refused = entry.add(course, "mirror", repo_url=url, target="mirror")

    assert "points into Hubclass's own data folder (HUBCLASS_DATA_DIR)" in refused
    assert everything() == before
    assert stored(course) == []


REFUSALS = {
    "url not allowed": (
        {"repo_url": "https://github.com/org/week1"},
        "The repository URL https://github.com/org/week1 is not under an allowed prefix "
        "(file://, git://127.0.0.1).",
    ),
    "url runs a command": ({"repo_url": "ext::sh%20-c%20id"}, "can run commands"),
    "url with '..'": (
        {"repo_url": "file:///srv/repos/../hubclass"},
        "'.' and '..' path segments are not accepted",
    ),
    "target is a path": ({"target": "../../etc"}, "it is a path; give one folder name"),
    "target is '..'": ({"target": ".."}, "'..' is not a folder of its own"),
    "target is hidden": ({"target": ".jupyter"}, "it starts with '.'"),
    "target is '~'": ({"target": "~"}, "'~' means a home folder"),
    "target is long": ({"target": "x" * 101}, "cannot be longer than 100 characters"),
    "bad branch": ({"branch": "a..b"}, "'a..b' is not a branch name Hubclass accepts"),
    "branch option": ({"branch": "--upload-pack=x"}, "is not a branch name Hubclass accepts"),
    "sub-folder up": ({"subpath": "../secrets"}, "'../secrets' is not a sub-folder"),
    "sub-folder .git": ({"subpath": ".git"}, "'.git' is not a sub-folder"),
    "depth zero": ({"depth": "0"}, "or 'full' for the whole history"),
    "depth words": ({"depth": "everything"}, "or 'full' for the whole history"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_bad_setting_is_refused_with_what_to_fix_and_nothing_is_created(entry, course, case):
    settings, message = REFUSALS[case]
    before = everything()

    refused = entry.add(course, "week1", **{"repo_url": REPO, **settings})

    if case == "target is long" and entry.name != "page":
        message = "it is longer than 100 characters"  # the page's form counts first
    assert message in refused
    assert everything() == before
    assert stored(course) == []


def test_a_short_name_like_no_course_slug_is_refused(entry, course):
    before = everything()

    refused = entry.add(course, "Week 1", repo_url=REPO)

    assert "'Week 1' cannot be an assignment's short name" in refused
    assert everything() == before


def test_a_second_assignment_of_the_same_short_name_is_refused(entry, course):
    assert entry.add(course, "week1", repo_url=REPO) == ""
    before = stored(course), everything()

    refused = entry.add(course, "week1", repo_url="git://127.0.0.1/other")

    assert f"The course '{course}' has an assignment 'week1' already" in refused
    assert (stored(course), everything()) == before
    if entry.name == "api":
        assert entry.last.status_code == 409
        assert entry.last.json()["error"]["code"] == "exists"


def test_a_second_assignment_into_the_same_target_folder_is_refused_naming_the_first(entry, course):
    assert entry.add(course, "week1", repo_url=REPO, target="shared") == ""
    before = stored(course), everything()

    refused = entry.add(course, "week2", repo_url="git://127.0.0.1/other", target="shared")

    assert f"the assignment 'week1' of '{course}' delivers into ~/shared already" in refused
    assert (stored(course), everything()) == before
    if entry.name == "api":
        assert entry.last.status_code == 409
        assert entry.last.json()["error"]["code"] == "target_taken"


def test_the_same_short_name_in_another_course_is_another_assignment(hub, service_app):
    client = Api(hub)
    for slug in ("as-twin-a", "as-twin-b"):
        make_course(hub, api(hub), slug)
        assert client.add(slug, "week1", repo_url=REPO) == ""

    assert [a["slug"] for a in stored("as-twin-b")] == ["week1"]


def test_the_page_keeps_what_was_typed_after_a_refusal(hub, service_app):
    make_course(hub, api(hub), "as-keep")
    page = Page(hub)

    refused = page.add("as-keep", "lab3", repo_url="https://github.com/org/lab3",
                       title="Lab three", branch="fall", target="lab-three", depth="5")  # fmt: skip

    assert page.last.status_code == 400
    assert "is not under an allowed prefix" in refused
    for typed in ("lab3", "https://github.com/org/lab3", "Lab three", "fall", "lab-three"):
        assert f'value="{typed}"' in page.last.text
    assert re.search(r'name="depth"[^>]*value="5"', page.last.text)
    assert stored("as-keep") == []


def test_a_form_field_left_out_is_a_form_error_not_an_assignment(hub, service_app):
    make_course(hub, api(hub), "as-form")
    page = Page(hub)
    before = everything()

    refused = page.add("as-form", "lab", repo_url="")
    wrong_policy = page.add("as-form", "lab", repo_url=REPO, policy="delete")

    assert refused == "Repository URL: This field is required."
    assert wrong_policy == ("A student's folder that cannot be merged safely: Not a valid choice.")
    assert everything() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"repo_url": 5}, "'repo_url' must be a string, not a number."),
        ({"target": ["a"]}, "'target' must be a string, not a list."),
        ({"slug": None}, "'' cannot be an assignment's short name"),
        ({"depth": [1]}, "The depth [1] is refused"),
        ({"depth": True}, "The depth True is refused"),
        ({"depth": 10**20}, "from 1 to 1000000"),
        ({"policy": "delete"}, "'delete' is not a policy"),
    ],
)
def test_the_api_refuses_wrong_json_naming_the_field(hub, service_app, course, body, message):
    client = Api(hub)
    before = everything()

    refused = client.add(course, "week1", **{"repo_url": REPO, **body})

    assert client.last.status_code == 400
    assert message in refused
    assert everything() == before


def test_the_command_line_needs_a_repository_and_a_course_that_exists(hub, service_app):
    missing_repo = cli(hub, "assignment", "add", "as-nowhere", "week1")
    no_course = cli(hub, "assignment", "add", "as-nowhere", "week1", "--repo", REPO)

    assert missing_repo.returncode == no_course.returncode == 1
    assert "Give the repository's URL: --repo URL." in missing_repo.stderr
    assert "There is no course 'as-nowhere'" in no_course.stderr


# -- who may ---------------------------------------------------------------------------------


def test_a_teaching_assistant_of_another_course_neither_sees_nor_adds_its_assignments(
    hub, service_app
):
    ensure_users(hub, ["asta-other"], groups=["service-visitors"])
    owner = api(hub)
    make_course(hub, owner, "as-theirs")
    make_course(hub, owner, "as-ta-own")
    assert Api(hub).add("as-theirs", "week1", repo_url=REPO) == ""
    # The TA is teaching staff of as-ta-own only.
    course = db.session.scalar(select(Course).where(Course.slug == "as-ta-own"))
    course.staff_users = ["asta-other"]
    db.session.commit()
    before = stored("as-theirs"), everything()
    ta = {"Authorization": f"token {user_token(hub, 'asta-other')}"}
    base = hub.service_url + "api/v1/courses/as-theirs/assignments"

    listed = requests.get(base, headers=ta)
    read = requests.get(base + "/week1", headers=ta)
    added = requests.post(base, json={"slug": "grab", "repo_url": REPO}, headers=ta)
    changed = requests.patch(base + "/week1", json={"repo_url": "file:///tmp/x"}, headers=ta)
    browser, _ = sign_in(hub, "asta-other")
    own_page = browser.get(hub.service_url + "courses/as-ta-own/assignments/")
    page = browser.get(hub.service_url + "courses/as-theirs/assignments/")
    posted = browser.post(
        hub.service_url + "courses/as-theirs/assignments/",
        data={"slug": "grab", "repo_url": REPO, "policy": "needs_attention",
              "csrf_token": csrf_token(own_page.text)},
    )  # fmt: skip

    assert [r.status_code for r in (listed, read, added, changed, page, posted)] == [404] * 6
    assert added.json()["error"]["message"] == "There is no course 'as-theirs' that you teach."
    assert (stored("as-theirs"), everything()) == before
    # On their own course the TA adds assignments like an instructor.
    mine = requests.post(
        hub.service_url + "api/v1/courses/as-ta-own/assignments",
        json={"slug": "ta-made", "repo_url": REPO},
        headers=ta,
    )
    assert mine.status_code == 201, mine.text
    assert assignment_events("as-ta-own") == [
        ("asta-other", "assignment.add", "ta-made",
         {"settings": {"title": "ta-made", "repo_url": REPO, "branch": None, "subpath": None,
                       "target": "week1", "depth": 1, "policy": "needs_attention",
                       "course_copy": False}}),
    ]  # fmt: skip


# -- markup ---------------------------------------------------------------------------------

XSS = "<script>alert('title')</script><img src=x onerror=alert(1)>"


def test_a_title_with_markup_is_shown_as_text_on_every_page(hub, service_app):
    make_course(hub, api(hub), "as-xss")
    assert Api(hub).add("as-xss", "evil", repo_url=REPO, title=XSS) == ""
    browser, _ = sign_in(hub, "instructor")

    pages = [
        browser.get(hub.service_url + "courses/as-xss/assignments/").text,
        browser.get(hub.service_url + "courses/as-xss/assignments/evil").text,
    ]

    for text in pages:
        assert str(escape(XSS)) in text
        assert "<script>alert" not in text
        assert "<img src=x" not in text


def test_the_course_copy_switch_is_changed_by_each_way_in_and_refused_when_not_a_boolean(
    entry, course
):
    assert entry.add(course, "nb", repo_url=REPO) == ""
    assert entry.change(course, "nb", course_copy=True) == ""
    assert stored(course)[0]["course_copy"] is True
    assert entry.change(course, "nb", course_copy=False) == ""
    assert stored(course)[0]["course_copy"] is False
    if entry.name == "api":
        refused = entry.change(course, "nb", course_copy="yes")
        assert refused == "course_copy must be true or false, not 'yes'."
        assert entry.last.status_code == 400
