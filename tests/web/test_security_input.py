"""Odd input never makes a 500: every route of the app, walked with hostile input (issue 8, item 5).

Each rule of app.url_map gets its URL parameters filled with NUL bytes, 20-digit, 5000-digit and
negative numbers, and each declared method (and GET) is sent with query strings, form fields,
files and JSON bodies holding NUL bytes, huge ints and wrong JSON types, signed in as an
instructor (an API token on /api/, a session with its real CSRF token for pages). The Hub is the
suite's real Hub; the database is SQLite, then a real PostgreSQL. A 4xx is fine, a 5xx is a bug.
"""

from __future__ import annotations

import html
import importlib
import inspect
import io
import itertools
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.routing import Rule
from wtforms.fields.core import UnboundField

from app import create_app
from app.assignments.models import Assignment
from app.audit.models import AuditEvent
from app.config import from_env
from app.courses.models import Course
from app.extensions import db
from app.roster.models import Enrollment, RosterImport
from tests.conftest import REPO, hub_env
from tests.hubusers import csrf_token, ensure_users, hub_has, user_token

pytestmark = pytest.mark.hub

PREFIX = "/services/hubclass"
APP_DIR = REPO / "app"

NUL = "nul\x00byte"
BIG = "9" * 20  # beyond SQLite's and PostgreSQL's 64-bit integers
HUGE = "1" * 5000  # beyond the digits Python turns into an int by default
LONG = "x" * 3000
# Long and valid where a path under the service is expected (`next`): the session keeps it.
LONG_PATH = PREFIX + "/courses/x?q=" + "x" * 3000
SURROGATE = "lone\ud800surrogate"  # no database can encode it; only JSON can carry it

# URL parameter values, already quoted: the segment as a client would send it.
PATH_VALUES = [
    *(quote(v, safe="") for v in (NUL, "\x00", BIG, "-1", "0", HUGE, LONG, "\u0661\u0662", "..")),
    "2147483648",  # one past PostgreSQL's INTEGER, the id columns' type
    "%FF",  # not UTF-8
    "%C0%80",  # an overlong NUL
]
TEXT_VALUES = [NUL, BIG, "-1", LONG_PATH]
# Values app/web/inputs.py refuses wherever they are, before any view reads a field: one case
# holding them in every field at once proves that refusal for each route (and, were it gone,
# still reaches the view); a case per field would repeat the same 400 thousands of times.
REFUSED_EVERYWHERE = {NUL}
JSON_VALUES = [
    None, 0, -1, 10**20, 1.5, True, "", NUL, SURROGATE, LONG,
    [], [7], [None], [NUL], ["ok", 7], {}, {"k": "v"},
]  # fmt: skip
# The JSON values inputs.py refuses anywhere in a body (a NUL or a lone surrogate, nested too).
JSON_REFUSED_EVERYWHERE = [NUL, SURROGATE, [NUL]]
# Whole JSON bodies: not an object, nested deeper than Python's recursion limit, broken, an int
# of too many digits.
JSON_BODIES = [
    "null", "7", '"text"', "[]", '[{"slug": "x"}]', "[" * 100_000 + "]" * 100_000, "{",
    '{"slug": ' + HUGE + "}", '{"slug": "\\u0000"}', '{"title": "\\ud800"}',
]  # fmt: skip
# Bodies that do not match their Content-Type, or encode what a form field cannot hold.
ODD_BODIES = [
    ("multipart/form-data", b"--x\r\nno boundary declared\r\n"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n"),
    ("application/x-www-form-urlencoded", b"slug=%ZZ&=&title=%00&%00=1&csrf_token=%FF"),
    ("application/json; charset=utf-16", '{"slug": "x"}'.encode("utf-16")),
    ("text/csv; charset=latin-1", b"email\n\xe9@example.edu\n"),
]
# The Authorization header of API calls: too long, not ASCII, empty, another scheme.
AUTH_HEADERS = [
    "token " + "x" * 5000,
    "token \u00e9t\u00e9",
    "token  ",
    "Bearer",
    "Basic Zm9vOmJhcg==",
]


def _roster(*rows: str) -> bytes:
    return ("email,name,section\n" + "".join(r + "\n" for r in rows)).encode()


# Roster files whose cells hold what a database cannot store, sent to be applied at once. The
# first puts its NUL past the 64 KiB the parser sniffs for binary data.
RAW_ROSTERS = [
    b"notes,name,email\n" + b"x" * 70_000 + b",Nul,walknul@exam\x00ple.edu\n",
    _roster("walkname@example.edu,Na\x00me,Se\x00ction"),
    b"\x00" * 16,  # binary
    b"\xff\xfe\x00\xd8junk",
    _roster("walkbig@example.edu," + BIG + "," + HUGE),
]


CSV = _roster("walker@example.edu,Walker,A")
# The walk's course has one assignment. Its repository is a local path that does not exist, so
# a distribution that reads the remote (only_behind) fails at once instead of waiting on a
# network this machine may not have.
ASSIGNMENT = "walked"
REPO_URL = "file:///nonexistent/walk/week1.git"


def _source_names(pattern: str) -> set[str]:
    """Names the app reads, found in its source (so a new one is walked without a test edit)."""
    found = set()
    for path in itertools.chain(APP_DIR.rglob("*.py"), APP_DIR.rglob("*.html")):
        found.update(re.findall(pattern, path.read_text()))
    return found


# Query parameters the views read, and those Authlib reads on the OAuth callback.
QUERY_NAMES = sorted(_source_names(r"args\.get\(\s*['\"](\w+)['\"]") | {"state", "code", "error"})


def _form_fields() -> dict[str, bool]:
    """Every field of every form of the app: name -> whether it is a file field."""
    fields: dict[str, bool] = {}
    # Every feature's forms.py, so a new feature's forms are walked without a test edit.
    modules = [
        importlib.import_module(".".join(("app", *path.relative_to(APP_DIR).with_suffix("").parts)))
        for path in APP_DIR.rglob("forms.py")
    ]
    classes = {c for m in modules for _, c in inspect.getmembers(m, inspect.isclass)}
    for form in sorted(classes, key=lambda c: c.__name__):
        if issubclass(form, FlaskForm) and form is not FlaskForm:
            for name, unbound in inspect.getmembers(form, lambda m: isinstance(m, UnboundField)):
                fields[name] = "File" in unbound.field_class.__name__
    return fields


FORM_FIELDS = _form_fields()
# JSON bodies use the same names as the forms (slug, title, instructor_groups...).
JSON_KEYS = sorted(name for name, is_file in FORM_FIELDS.items() if not is_file)


@dataclass
class Walk:
    """The app under test, signed in twice as an instructor, with a course and an import."""

    app: Flask
    api: FlaskClient
    page: FlaskClient
    csrf: str
    slug: str
    import_id: int
    distribution_id: int
    session: dict = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)
    student: str = ""  # the course's one student (a student's delivery page names them)

    def sign_in(self) -> None:
        """Restore the signed-in session (the walk also signs out, and fails OAuth callbacks)."""
        with self.page.session_transaction(PREFIX + "/") as session:
            session.update(self.session)

    def fresh(self) -> str:
        """A new course slug, so creating a course gets as far as the database."""
        return f"{self.slug}-{next(self.counter)}"

    def valid_path(self, rule: Rule) -> dict[str, str]:
        values = {
            "slug": self.slug,
            "import_id": str(self.import_id),
            "assignment": ASSIGNMENT,
            "distribution_id": str(self.distribution_id),
            "username": self.student,
            "filename": "style.css",
        }
        return {name: values.get(name, "x") for name in rule.arguments}

    def form(self, **changes: object) -> dict:
        data: dict[str, object] = {
            "slug": self.fresh(),
            "title": "Walked",
            "instructor_groups": "walk-tas",
            "username_from": "email-local",
            "remove": "none",
            "repo_url": REPO_URL,
            "depth": "1",
            "policy": "needs_attention",
        }
        for name, is_file in FORM_FIELDS.items():
            if is_file:
                data[name] = (CSV, "roster.csv")
            data.setdefault(name, "")
        data["csrf_token"] = self.csrf
        return {**data, **changes}

    def json(self, **changes: object) -> dict:
        base = {
            "slug": self.fresh(),
            "title": "Walked",
            "instructor_groups": ["walk-tas"],
            "repo_url": REPO_URL,
        }
        return {**base, **changes}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def walk(request, hub, tmp_path) -> Iterator[Walk]:
    overrides = {
        "HUBCLASS_DATA_DIR": str(tmp_path / "data"),
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "HUBCLASS_WORKERS": "0",  # no poller: only the walker's requests
        "HUBCLASS_ALLOWED_REPO_URLS": "file:///nonexistent/",
    }
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        overrides["HUBCLASS_DATABASE_URL"] = server.create_database(f"walk_{tmp_path.name[-30:]}")
    app = create_app(from_env(hub_env(api_url=hub.api_url, **overrides)))
    # An instructor names only groups they are in as a course's staff.
    ensure_users(hub, ["instructor"], groups=["walk-tas"])
    with app.app_context():
        try:
            upgrade()
            api = app.test_client()
            api.environ_base["HTTP_AUTHORIZATION"] = f"token {user_token(hub, 'instructor')}"
            page = app.test_client()
            with page.session_transaction(PREFIX + "/") as session:
                session["username"] = "instructor"
            home = page.get(PREFIX + "/")
            assert home.status_code == 200, home.text
            with page.session_transaction(PREFIX + "/") as session:
                signed_in = dict(session)  # the username and the raw CSRF secret of the page
            # Its own slug each time: the Hub keeps the course's group from an earlier walk, and a
            # new course never takes over an existing group.
            slug = f"walk-{request.param[:2]}-{secrets.token_hex(3)}"
            student = f"walk{request.param[:2]}1"
            r = api.post(PREFIX + "/api/v1/courses", json={"slug": slug, "title": "Walk"})
            assert r.status_code == 201, r.text
            r = api.post(
                PREFIX + f"/api/v1/courses/{slug}/roster",
                query_string={"apply": "1"},
                data=_roster(f"{student}@example.edu,One,A"),
                content_type="text/csv",
            )
            assert r.status_code == 200, r.text
            added = api.post(
                PREFIX + f"/api/v1/courses/{slug}/assignments",
                json={"slug": ASSIGNMENT, "repo_url": REPO_URL},
            )
            assert added.status_code == 201, added.text
            # Queued only (no workers here): its student is never written to.
            sent = api.post(
                PREFIX + f"/api/v1/courses/{slug}/assignments/{ASSIGNMENT}/distributions", json={}
            )
            assert sent.status_code == 202, sent.text
            yield Walk(
                app,
                api,
                page,
                csrf_token(home.text),
                slug,
                r.json["import"],
                sent.json["distribution"],
                signed_in,
                student=student,
            )
        finally:
            # Also when setting up failed: a PostgreSQL connection left open warns later.
            db.session.remove()
            db.engine.dispose()


@dataclass
class Case:
    method: str
    path: str
    label: str
    kwargs: dict = field(default_factory=dict)


def _url(rule: Rule, values: dict[str, str]) -> str:
    """The rule's URL with each parameter replaced by an already-quoted segment."""

    def segment(match: re.Match) -> str:
        return values[match.group("name")]

    return PREFIX + re.sub(r"<(?:[^:<>]+:)?(?P<name>\w+)>", segment, rule.rule)


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"} | {"GET"})


def cases(w: Walk, rule: Rule) -> Iterator[Case]:
    """Every hostile request for one rule; the valid values fill whatever is not under test."""
    valid = w.valid_path(rule)
    for method in _methods(rule):
        for name in rule.arguments:
            for value in PATH_VALUES:
                yield Case(method, _url(rule, {**valid, name: value}), f"path {name}={value[:20]}")
        path = _url(rule, valid)
        yield Case(method, path, "plain")
        # A POST carries the body its route reads, so the request gets as far as the query is
        # read: a form (pages), a roster file (the roster API reads ?filename only then), JSON
        # (the rest of the API).
        body = _body_read_by(w, method, path)
        for value in REFUSED_EVERYWHERE:
            every = dict.fromkeys(QUERY_NAMES, value)
            yield Case(method, path, f"query *={value[:20]!r}", {"query_string": every, **body})
        per_name = [v for v in TEXT_VALUES if v not in REFUSED_EVERYWHERE]
        for name, value in itertools.product(QUERY_NAMES, per_name):
            label = f"query {name}={value[:20]!r}"
            yield Case(method, path, label, {"query_string": {name: value}, **body})
        if method == "GET":
            continue
        yield from _bodies(w, method, path)


def _body_read_by(w: Walk, method: str, path: str) -> dict:
    if method == "GET":
        return {}
    if not path.startswith(PREFIX + "/api/"):
        return {"data": w.form()}
    if path.endswith("/roster"):
        return {"data": CSV, "content_type": "text/csv"}
    return {"json": w.json()}


def _bodies(w: Walk, method: str, path: str) -> Iterator[Case]:
    """Hostile bodies: each field of the kind of body the route reads gets each value alone
    (a refusal of one field must not hide another's); the kind it does not read (pages read
    forms, the API reads JSON and roster files) gets each value in every field at once.
    """
    api = path.startswith(PREFIX + "/api/")
    yield Case(method, path, "form", {"data": w.form()})
    for name, is_file in FORM_FIELDS.items():
        if is_file:
            for value in [(CSV, f) for f in (NUL, BIG, LONG)]:
                label = f"form {name}={str(value)[:20]!r}"
                yield Case(method, path, label, {"data": w.form(**{name: value})})
        elif not api:
            for value in TEXT_VALUES:
                if value in REFUSED_EVERYWHERE:
                    continue  # the "form *=" case below holds it
                label = f"form {name}={value[:20]!r}"
                yield Case(method, path, label, {"data": w.form(**{name: value})})
    if api:
        text_fields = [name for name, is_file in FORM_FIELDS.items() if not is_file]
        for value in TEXT_VALUES:
            every = dict.fromkeys(text_fields, value)
            yield Case(method, path, f"form *={value[:20]!r}", {"data": w.form(**every)})
        for value in JSON_REFUSED_EVERYWHERE:
            every = dict.fromkeys(JSON_KEYS, value)
            yield Case(method, path, f"json *={str(value)[:20]!r}", {"json": w.json(**every)})
        per_key = [v for v in JSON_VALUES if v not in JSON_REFUSED_EVERYWHERE]
        for name, value in itertools.product(JSON_KEYS, per_key):
            label = f"json {name}={str(value)[:20]!r}"
            yield Case(method, path, label, {"json": w.json(**{name: value})})
    else:
        for value in TEXT_VALUES:
            if value in REFUSED_EVERYWHERE:
                every = dict.fromkeys(FORM_FIELDS, value)
                yield Case(method, path, f"form *={value[:20]!r}", {"data": w.form(**every)})
        for value in JSON_VALUES:
            every = dict.fromkeys(JSON_KEYS, value)
            yield Case(method, path, f"json *={str(value)[:20]!r}", {"json": w.json(**every)})
    for body in JSON_BODIES:
        yield Case(
            method,
            path,
            f"json body {body[:20]!r}",
            {"data": body, "content_type": "application/json"},
        )
    for body in RAW_ROSTERS:
        yield Case(
            method,
            path,
            f"csv {body[:20]!r}",
            {"data": body, "content_type": "text/csv", "query_string": {"apply": "1"}},
        )
    for content_type, body in ODD_BODIES:
        yield Case(
            method, path, f"body {content_type}", {"data": body, "content_type": content_type}
        )


def send(w: Walk, case: Case):
    api = case.path.startswith(PREFIX + "/api/")
    client = w.api if api else w.page
    kwargs = dict(case.kwargs)
    headers = dict(kwargs.pop("headers", {}))
    if not api:
        w.sign_in()
        if case.method != "GET":
            headers["X-CSRFToken"] = w.csrf  # the session's real token, as a page's script sends
    data = kwargs.get("data")
    if isinstance(data, dict):  # fresh file objects: a request reads and closes them
        kwargs["data"] = {
            k: FileStorage(io.BytesIO(v[0]), filename=v[1]) if isinstance(v, tuple) else v
            for k, v in data.items()
        }
    with client.open(case.path, method=case.method, headers=headers, **kwargs) as response:
        response.get_data()  # read, then closed: a static file's handle is not left open
        return response


def all_cases(w: Walk) -> Iterator[tuple[Rule, Case]]:
    for rule in w.app.url_map.iter_rules():
        for case in cases(w, rule):
            yield rule, case
        if rule.rule.startswith("/api/"):
            path = _url(rule, w.valid_path(rule))
            for header in AUTH_HEADERS:
                label = f"auth {header[:20]!r}"
                yield rule, Case("GET", path, label, {"headers": {"Authorization": header}})


def test_every_route_survives_hostile_input(walk, caplog):
    caplog.set_level(logging.ERROR, logger="app.error_pages")
    # One line per route, kind of input and cause, with the count and one example.
    failures: dict[tuple[str, str, str, str], list[str]] = {}
    sent = 0
    for rule, case in all_cases(walk):
        caplog.clear()
        r = send(walk, case)
        sent += 1
        problem = _problem(rule, case, r)
        if problem:
            cause = _cause(caplog.records) or problem
            kind = " ".join(case.label.split()[:2]).split("=")[0]
            key = (case.method, rule.rule, kind, cause)
            failures.setdefault(key, []).append(problem)
    assert sent > 3000, sent
    report = [
        f"{method} {rule} [{kind}] x{len(examples)}: {cause}\n    e.g. {examples[0]}"
        for (method, rule, kind, cause), examples in failures.items()
    ]
    count = sum(map(len, failures.values()))
    assert not failures, f"{count} of {sent} requests failed:\n" + "\n".join(report)


def _cause(records: list[logging.LogRecord]) -> str:
    """The exception line of the first logged error ("psycopg.errors.DataError: ...")."""
    for record in records:
        lines = (record.exc_text or record.getMessage()).splitlines()
        found = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Warning)\b", line)]
        return (found or lines or [""])[-1][:200]
    return ""


def _problem(rule: Rule, case: Case, r) -> str | None:
    where = f"{case.method} {case.path[:90]!r} [{case.label}] -> {r.status_code}"
    if r.status_code >= 500:
        return where
    # The valid GET of each page works, so the walker is signed in and its values are right
    # (the OAuth callback refuses a request without state and code, as it should).
    valid_get = case.label == "plain" and case.method == "GET" and "GET" in (rule.methods or ())
    if valid_get and rule.endpoint != "auth.oauth_callback" and r.status_code >= 400:
        return where + ": the valid request failed, so the walk tests nothing here"
    if r.status_code == 302 and "/login?" in r.headers.get("Location", ""):
        return where + ": the walker was not signed in, so it tested nothing"
    if 400 <= r.status_code < 500 and case.path.startswith(PREFIX + "/api/"):
        body = r.get_json(silent=True) or {}
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        if not message:
            return where + f" without a JSON error message: {r.get_data()[:200]!r}"
    return None


# -- the causes the walk found, each with its message and "nothing written" -------------------


def table_counts() -> dict[str, int]:
    """Rows of every table the app writes on a request (the poller is off)."""
    models = (Course, RosterImport, Enrollment, Assignment, AuditEvent)
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def error_of(r) -> dict:
    assert r.is_json, r.text
    return r.json["error"]


@pytest.mark.parametrize("import_id", [BIG, "2147483648", HUGE, "0", "-1"])
def test_an_import_id_no_database_can_hold_is_a_404(walk, import_id):
    before = table_counts()
    base = PREFIX + f"/courses/{walk.slug}/roster/imports/"
    walk.sign_in()

    page = walk.page.get(base + import_id)
    applied = walk.page.post(
        base + import_id + "/apply", data={"csrf_token": walk.csrf, "confirm": walk.slug}
    )

    assert (page.status_code, applied.status_code) == (404, 404)
    assert "Not Found" in page.text
    assert table_counts() == before
    assert db.session.get(RosterImport, walk.import_id).status == "applied"
    # The import that exists is still found.
    assert walk.page.get(base + str(walk.import_id)).status_code == 200


def test_a_nul_in_the_roster_filename_is_a_400_naming_the_parameter(walk, hub):
    before = table_counts()

    r = walk.api.post(
        PREFIX + f"/api/v1/courses/{walk.slug}/roster",
        query_string={"filename": "roster\x00.csv", "apply": "1"},
        data=_roster("walknulfile@example.edu,Nul File,A"),
        content_type="text/csv",
    )

    assert r.status_code == 400
    assert error_of(r) == {
        "code": "invalid_input",
        "message": "The query parameter 'filename' contains a NUL character (\\0) at position "
        "6, which Hubclass cannot store. Remove it and send again.",
    }
    assert table_counts() == before
    assert not hub_has(hub, "walknulfile")


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/api/v1/courses/wa%00lk", "URL part 'slug'"),
        ("/api/v1/courses/walk/roster?section=a%00", "query parameter 'section'"),
        ("/courses/wa%00lk/roster/", "URL part 'slug'"),
    ],
)
def test_a_nul_in_a_slug_is_a_400_on_every_database(walk, path, where):
    client = walk.page if path.startswith("/courses") else walk.api
    walk.sign_in()

    r = client.get(PREFIX + path)

    assert r.status_code == 400
    assert f"The {where} contains a NUL character" in html.unescape(r.text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "T\x00"}, "The JSON field 'title' contains a NUL character (\\0) at position 1"),
        ({"title": "T\ud800"}, "The JSON field 'title' contains an unpaired surrogate (U+D800)"),
        ({"slug": 5}, "'slug' must be a string, not a number."),
        ({"title": ["T"]}, "'title' must be a string, not a list."),
        ({"instructor_groups": 5}, "'instructor_groups' must be a list of strings, e.g. "
         '["data100-tas"], not a number.'),
        ({"instructor_groups": "tas"}, "'instructor_groups' must be a list of strings"),
        ({"instructor_groups": {"tas": 1}}, "not an object"),
        ({"instructor_groups": [1, None]}, "not a list holding non-strings"),
        ({"instructor_groups": ["tas", True]}, "not a list holding non-strings"),
        ({"instructor_groups": ["a,b"]}, "one Hub group name per item"),
    ],
)  # fmt: skip
def test_wrong_json_in_a_new_course_is_a_400_naming_the_field(walk, body, message):
    before = table_counts()

    r = walk.api.post(PREFIX + "/api/v1/courses", json={"slug": "typed", **body})

    assert r.status_code == 400
    assert error_of(r)["code"] == "invalid_input"
    assert message in error_of(r)["message"]
    assert table_counts() == before


def test_right_json_still_makes_a_course_and_null_means_not_given(walk):
    r = walk.api.post(
        PREFIX + "/api/v1/courses",
        json={"slug": "typed-ok", "title": None, "instructor_groups": ["walk-tas"]},
    )

    assert r.status_code == 201, r.text
    assert (r.json["title"], r.json["instructor_groups"]) == ("typed-ok", ["walk-tas"])


def test_a_nul_title_on_the_page_is_a_400_and_no_course(walk):
    before = table_counts()
    walk.sign_in()

    r = walk.page.post(
        PREFIX + "/courses",
        data={"slug": "nultitle", "title": "Ti\x00tle", "csrf_token": walk.csrf},
    )

    assert r.status_code == 400
    assert "The form field 'title' contains a NUL character" in html.unescape(r.text)
    assert table_counts() == before


def test_json_nested_too_deeply_is_a_400(walk):
    r = walk.api.post(
        PREFIX + "/api/v1/courses",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
    )

    assert r.status_code == 400
    assert error_of(r)["message"] == (
        "The JSON body is nested too deeply to read; send a flat JSON object."
    )


def test_a_json_body_to_a_page_form_is_an_invalid_form_not_a_500(walk):
    before = table_counts()
    walk.sign_in()

    r = walk.page.post(
        PREFIX + "/courses", json={"slug": 5, "title": {"a": 1}}, headers={"X-CSRFToken": walk.csrf}
    )

    assert r.status_code == 400
    assert "Short name (slug): This field is required." in r.text
    assert table_counts() == before


def test_a_nul_deep_in_a_roster_file_costs_its_row_and_never_reaches_the_database(walk, hub):
    # The parser sniffs the first 64 KiB for binary data; this NUL is past them, in an email
    # whose user part alone would make a fine username (PostgreSQL cannot store the email).
    data = (
        b"notes,name,email\n" + b"x" * 70_000 + b",Deep,walkdeepnul@exam\x00ple.edu\n"
        b",Fine,walkdeepok@example.edu\n"
    )

    r = walk.api.post(
        PREFIX + f"/api/v1/courses/{walk.slug}/roster",
        query_string={"apply": "1"},
        data=data,
        content_type="text/csv",
    )

    assert r.status_code == 200, r.text
    assert (r.json["status"], r.json["add"]) == ("applied", ["walkdeepok"])
    assert r.json["invalid"] == [
        {
            "row": 2,
            "value": "walkdeepnul@exam\\u0000ple.edu",
            "reason": "contains control or invisible characters",
        }
    ]
    emails = db.session.scalars(select(Enrollment.email)).all()
    assert "walkdeepok@example.edu" in emails
    assert not any("\x00" in (e or "") for e in emails)
    assert hub_has(hub, "walkdeepok")
    assert not hub_has(hub, "walkdeepnul")


def test_an_oversized_json_body_is_still_a_413(walk):
    limit = walk.app.config["MAX_CONTENT_LENGTH"]

    r = walk.api.post(
        PREFIX + "/api/v1/courses",
        data='{"slug": "big", "title": "' + "x" * limit + '"}',
        content_type="application/json",
    )

    assert r.status_code == 413
    assert error_of(r)["code"] == "too_large"


def test_repeated_sign_ins_and_a_long_next_keep_the_session_cookie_small(walk):
    client = walk.app.test_client()
    for _ in range(30):
        r = client.get(PREFIX + "/login", query_string={"next": LONG_PATH})
        assert r.status_code == 302
    cookie = client.get_cookie("hubclass-session", path=PREFIX + "/")

    assert cookie is not None and len(cookie.value) < 2000
    with client.session_transaction(PREFIX + "/") as session:
        assert session["next"] == PREFIX + "/"  # too long to keep: the service's start page
        assert sum(key.startswith("_state_hub_") for key in session) == 3
