"""The Hub failing while a distribution runs and while the workers poll it (SECURITY.md fault 1):
down, slow, slower than the client's timeout, answering 500, or 429 with Retry-After.

What a distribution asks the Hub: through a student's server, whose servers run (one listing,
or the student alone), a token for the delivery, its revocation; the workers' periodic tasks
list the ready servers (waiting deliveries) and every user (the activity poll). Into homes, a
delivery asks the Hub nothing. tests/faultyhub.py stands between the app and the session's
real Hub. Each fault ends in a clear state (waiting for the Hub, in words; nothing written),
the polls go on, and once the Hub answers again every delivery arrives exactly once with
nothing of the student's lost and no token of a delivery left on the Hub.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.activity import POLL_TASK as ACTIVITY_POLL
from app.activity import init_app as activity_init_app
from app.activity.models import HubUserState
from app.delivery import distribute, servers
from app.delivery.models import Delivery
from app.delivery.pending import POLL_TASK as DELIVERY_POLL
from app.extensions import db
from app.jobs.models import Lease
from app.timeutil import utcnow
from demo.launch import RunningHub
from tests.conftest import _migrated, real_hub_env
from tests.faultyhub import FaultyHub
from tests.gitsync.conftest import Upstream, tree_bytes
from tests.hubusers import ensure_users

from .conftest import delivery_env
from .kit import (
    assignment_for,
    eventually,
    make_home,
    settled,
    states,
    with_delivery_only,
    workers,
)
from .test_servers import Student, alive, deliveries, server_env, start_all

pytestmark = [pytest.mark.hub]

# The app's Hub client gives up on a call after this (30 s in production), and waits less
# between its retries than in production (their timing is tests/hub/test_hub_client.py's).
HUB_TIMEOUT = 2.0
HUB_BACKOFF = 0.05
COURSE_FILES = {
    "README.md": b"# Homework 1\n",
    "week1/notes.ipynb": b"line 1\nline 2\nline 3\n",
    "week1/data.csv": b"a,b\n1,2\n",
}
DELIVERY_TIMEOUT = 30  # a delivery's token lives this plus servers.TOKEN_MARGIN_SECONDS
LONG_AGO = datetime(2000, 1, 1)


class Fault:
    """What the Hub does now to the calls chosen (`only`: a method and path end, else all)."""

    def __init__(self) -> None:
        self.now: str | None = None
        self.only: tuple[str, str] | None = None
        self.lock = threading.Lock()
        self.sleeping = 0  # calls held back, still to be forwarded

    def rule(self, number: int, method: str, path: str):
        if self.now is None:
            return None
        if self.only and not (method == self.only[0] and path.split("?")[0].endswith(self.only[1])):
            return None
        if self.now == "500":
            return 500, {"Content-Type": "application/json"}, b'{"message": "Internal error"}'
        if self.now == "429":
            return 429, {"Retry-After": "1"}, b'{"message": "Too many requests"}'
        if self.now in ("slow", "timeout"):
            with self.lock:
                self.sleeping += 1
            # Slow within the client's timeout, or slower: then forwarded, the Hub acts on it
            # and nobody reads its answer.
            time.sleep(HUB_TIMEOUT / 4 if self.now == "slow" else HUB_TIMEOUT + 1)
            with self.lock:
                self.sleeping -= 1
        return None


class Front:
    """A FaultyHub in front of the real Hub, which can also be down: stopped, then started
    again on the port the app was given."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fault = Fault()
        self.proxy: FaultyHub | None = FaultyHub(upstream, self.fault.rule).__enter__()
        self.port = self.proxy.port
        self.url = self.proxy.url

    def fail(self, now: str, only: tuple[str, str] | None = None) -> None:
        if now == "down":
            self.close()
        else:
            self.fault.now, self.fault.only = now, only

    def heal(self) -> None:
        if self.proxy is None:
            self.proxy = FaultyHub(self.upstream, self.fault.rule, port=self.port).__enter__()
        self.fault.now = None

    def tokens_asked(self) -> int:
        calls = self.proxy.calls if self.proxy else []
        return sum(m == "POST" and p.endswith("/tokens") for m, p in calls)

    def close(self) -> None:
        # The calls held back reach the Hub first (FaultyHub's threads are daemons: closing
        # would not wait for them, and a token they make would land in the next test).
        eventually(lambda: self.fault.sleeping == 0, "the held calls are forwarded", 30)
        if self.proxy is not None:
            self.proxy.__exit__()
            self.proxy = None


@contextmanager
def app_on(env: dict[str, str]) -> Iterator[Flask]:
    """The app of `env` whose workers deliver and poll the Hub's users, as in production; its
    Hub client times out and backs off as the tests need."""
    for app in _migrated(env):
        with_delivery_only(app)
        activity_init_app(app)
        client = app.extensions["hubclass.hub"]
        client.timeout, client.backoff = HUB_TIMEOUT, HUB_BACKOFF
        yield app


@pytest.fixture(scope="module")
def pair(hub: RunningHub) -> Iterator[list[Student]]:
    """Two Hub users whose servers run all through this module (each case delivers a new
    folder), each with work of their own in their home."""
    tag = secrets.token_hex(3)
    group = [Student(hub, f"hf{tag}{index}") for index in range(2)]
    ensure_users(hub, [s.name for s in group])
    for student in group:
        (student.home / "work").mkdir(parents=True, exist_ok=True)
        (student.home / "work" / "answer.py").write_bytes(b"print('mine')\n\x00")
        student.record_requests()
    start_all(group)
    yield group
    for student in group:
        student.stop()
    eventually(lambda: not any(s.server() for s in group), "the servers stopped", 60)


def folders(student: Student) -> dict[str, dict[str, bytes | str]]:
    """The student's own folders (what earlier cases delivered included), byte for byte."""
    return {
        entry.name: tree_bytes(entry)
        for entry in student.home.iterdir()
        if entry.is_dir() and not entry.name.startswith(".")
    }


def sent_to(student: Student, target: str) -> list[dict]:
    """The requests to nbgitpuller in the student's server to deliver `target`."""
    return [r for r in student.recorded() if f"targetpath={target}" in r["query"]]


def asked(student: Student, target: str) -> int:
    """How often nbgitpuller in the student's server was asked to deliver `target`."""
    return len(sent_to(student, target))


def tokens_of(hub: RunningHub, distribution: int, since: datetime) -> list[dict]:
    """The tokens of the delivery account the Hub holds for the distribution's deliveries,
    made after `since` (each case's database numbers its deliveries from 1 again)."""
    notes = {
        f"Hubclass: delivery {d.id} to {d.username}" for d in deliveries(distribution).values()
    }
    listed = hub.admin().get(f"{hub.api_url}/users/hubclass-delivery/tokens").json()
    return [
        token
        for token in listed["api_tokens"]
        if token.get("note") in notes and hub_time(token["created"]) >= since
    ]


def hub_time(text: str) -> datetime:
    """A time the Hub wrote (ISO 8601, UTC), as the app's naive UTC."""
    return datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=None)


def runs_twice(task: str) -> None:
    """The periodic task `task` runs twice more from now (its lease is taken again each time;
    the log is no witness here: the migrations' logging config replaces pytest's handlers)."""
    for _ in range(2):
        since = utcnow()
        eventually(lambda: expiry(task) > since, f"{task} runs again", 60)  # noqa: B023


def expiry(task: str) -> datetime:
    found = db.session.scalar(select(Lease.expires_at).where(Lease.name == task))
    db.session.commit()
    return found or LONG_AGO


def polled_since(moment, names: list[str]) -> bool:
    """The activity poll wrote each of `names` after `moment` (it runs again)."""
    rows = db.session.scalars(select(HubUserState).where(HubUserState.username.in_(names))).all()
    db.session.commit()
    return len(rows) == len(names) and all(row.updated_at > moment for row in rows)


ON_HUB = ["student1", "student2"]  # the session Hub's own users: the activity poll sees them


# (fault, the calls it hits): every call, or only the making of delivery tokens.
EVERY_CALL = None
TOKENS = ("POST", "/tokens")
CASES = [
    pytest.param("down", EVERY_CALL, id="down"),
    pytest.param("500", EVERY_CALL, id="500"),
    pytest.param("500", TOKENS, id="500-on-the-token"),
    pytest.param("429", EVERY_CALL, id="429"),
    pytest.param("429", TOKENS, id="429-on-the-token"),
    pytest.param("timeout", EVERY_CALL, id="timeout"),
    pytest.param("timeout", TOKENS, id="timeout-on-the-token"),
]


@pytest.mark.parametrize("fault_now, calls", CASES)
def test_the_hub_failing_during_a_distribution_through_servers_waits_then_converges(
    hub, pair, upstream: Upstream, tmp_path: Path, fault_now, calls
):
    names = [s.name for s in pair]
    target = f"hw{secrets.token_hex(3)}"
    front = Front(hub.api_url)
    env = server_env(
        hub,
        tmp_path / "data",
        JUPYTERHUB_API_URL=front.url,
        HUBCLASS_DELIVERY_TIMEOUT_SECONDS=str(DELIVERY_TIMEOUT),
    )
    try:
        with app_on(env) as app:
            hw = assignment_for(f"hf{secrets.token_hex(3)}", upstream, pair, target=target)
            before = {s.name: folders(s) for s in pair}
            with workers(app, 1):
                eventually(lambda: polled_since(LONG_AGO, names), "a first poll")
                front.fail(fault_now, calls)
                started = utcnow() - timedelta(seconds=1)
                distribution = distribute(hw, who=None).id
                db.session.commit()
                if calls is EVERY_CALL:
                    all_wait_for_the_hub(distribution, names)
                else:  # only the token fails: each try waits, the poll releases it, again
                    # More calls than two whole tries with their retries (five calls each):
                    # a try that ended, in words, and was tried again.
                    eventually(
                        lambda: front.tokens_asked() >= 12 or ended(distribution),
                        "the token asked for again and again",
                        120,
                    )
                    assert set(states(distribution)) <= {"waiting", "queued", "claimed"}, {
                        u: (r.state, r.error) for u, r in deliveries(distribution).items()
                    }
                assert all(asked(s, target) == 0 for s in pair)
                assert all(not (s.home / target).exists() for s in pair)

                front.heal()  # the Hub answers again
                healed = utcnow()
                eventually(lambda: ended_all(distribution), "the deliveries ran", 120)
                eventually(lambda: polled_since(healed, names), "the activity poll again", 60)
            arrived_once(hw.id, distribution, pair, target, before)
            # Hub state: every token the servers were sent is revoked (through the Hub's API,
            # which the front stands for), none other is left. But a token asked for while the
            # Hub was slower than the client's timeout was made by the Hub after Hubclass gave
            # up on it: nobody ever read its secret, and it expires with the delivery's time.
            sent = [r["authorization"].split(" ", 1)[1] for s in pair for r in sent_to(s, target)]
            eventually(lambda: not any(alive(hub, t) for t in sent), "the tokens revoked", 30)
            if fault_now != "timeout":
                eventually(lambda: not tokens_of(hub, distribution, started), "none left", 30)
            latest = utcnow() + timedelta(seconds=DELIVERY_TIMEOUT + servers.TOKEN_MARGIN_SECONDS)
            orphans = tokens_of(hub, distribution, started)
            assert all(hub_time(token["expires_at"]) <= latest for token in orphans), orphans
    finally:
        front.close()
    for student in pair:
        assert student.server().get("ready")  # the fault stopped nobody's server


def ended_all(distribution: int) -> bool:
    """None of the distribution's deliveries is queued, running or waiting."""
    return set(states(distribution)) <= {"done", "failed", "attention"}


def ended(distribution: int) -> bool:
    return bool({"done", "failed", "attention"} & set(states(distribution)))


def all_wait_for_the_hub(distribution: int, names: list[str]) -> None:
    """Both deliveries wait for the Hub, saying so; the polls go on failing and keep what they
    knew (nobody dropped off the Hub, no server marked stopped)."""
    eventually(lambda: states(distribution) == {"waiting": 2}, "both wait", 120)
    for row in deliveries(distribution).values():
        assert row.waiting_for.startswith(servers.HUB_SILENT.split("(")[0]), row.waiting_for
    failing = utcnow()
    runs_twice(DELIVERY_POLL)
    runs_twice(ACTIVITY_POLL)
    assert not polled_since(failing, names)  # the activity poll failed: it wrote nothing
    rows = db.session.scalars(select(HubUserState).where(HubUserState.username.in_(names))).all()
    assert all(row.on_hub and row.server_ready for row in rows)
    db.session.commit()


def arrived_once(assignment_id: int, distribution: int, pair, target: str, before) -> None:
    """Each delivery done through the server, nbgitpuller asked once, the new folder is the
    course's, every other folder of the student's byte for byte; no other delivery queued."""
    done = deliveries(distribution)
    assert {r.state for r in done.values()} == {"done"}, {
        u: (r.state, r.error) for u, r in done.items()
    }
    for student in pair:
        assert done[student.name].way == "server" and done[student.name].commit
        assert asked(student, target) == 1
        assert folders(student) == {**before[student.name], target: COURSE_FILES}
    count = db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.assignment_id == assignment_id)
    )
    db.session.commit()
    assert count == len(pair)


def test_a_slow_hub_slows_a_distribution_through_servers_and_repeats_no_call(
    hub, pair, upstream: Upstream, tmp_path: Path
):
    target = f"hw{secrets.token_hex(3)}"
    front = Front(hub.api_url)
    front.fail("slow")
    try:
        with app_on(server_env(hub, tmp_path / "data", JUPYTERHUB_API_URL=front.url)) as app:
            hw = assignment_for(f"hs{secrets.token_hex(3)}", upstream, pair, target=target)
            before = {s.name: folders(s) for s in pair}
            distribution = distribute(hw, who=None).id
            db.session.commit()
            with workers(app, 1):
                eventually(lambda: settled(distribution), "the deliveries ran", 120)
            arrived_once(hw.id, distribution, pair, target, before)
            sent = [r["authorization"].split(" ", 1)[1] for s in pair for r in sent_to(s, target)]
            eventually(lambda: not any(alive(hub, t) for t in sent), "the tokens revoked", 30)
        forwarded = front.proxy.forwarded if front.proxy else []
    finally:
        front.close()
    made = [c for c in forwarded if c[0] == "POST" and c[1].endswith("/tokens")]
    revoked = [c for c in forwarded if c[0] == "DELETE"]
    assert len(made) == len(revoked) == 2  # one token per delivery, none asked for twice


@pytest.mark.root
@pytest.mark.parametrize("fault_now", ["down", "500", "429"])
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_home_deliveries_arrive_while_the_hub_fails_and_the_polls_go_on(
    request, hub, homes, make_students, upstream, tmp_path, fault_now, database
):
    """Into homes a delivery asks the Hub nothing: they all arrive; the one whose home is not
    there yet (its server is asked for through the Hub: "auto") waits for its first login,
    whatever the Hub does; the activity poll fails and goes on, then writes again."""
    students = make_students(3)
    for student in students[:2]:
        make_home(homes, student)
    front = Front(hub.api_url)
    data = tmp_path / "data"
    env = {
        **delivery_env(homes, data, real_hub_env(hub, data)),
        "JUPYTERHUB_API_URL": front.url,
        "HUBCLASS_PROXY_URL": hub.url,  # the way through servers is on too, for the homeless
    }
    if database == "postgresql":
        server = request.getfixturevalue("postgres")
        env["HUBCLASS_DATABASE_URL"] = server.create_database(f"t_{tmp_path.name[-40:]}")
    try:
        with app_on(env) as app:
            hw1 = assignment_for("hubfault", upstream, students)
            with workers(app, 1):
                eventually(lambda: polled_since(LONG_AGO, ON_HUB), "a first poll")
                front.fail(fault_now)
                distribution = distribute(hw1, who=None).id
                db.session.commit()
                eventually(
                    lambda: states(distribution) == {"done": 2, "waiting": 1}, "two arrive", 120
                )
                waiting = deliveries(distribution)[students[2].name]
                assert waiting.waiting_for == "waiting for first login"
                failing = utcnow()
                runs_twice(ACTIVITY_POLL)
                assert not polled_since(failing, ON_HUB)  # it failed: it wrote nothing
                make_home(homes, students[2])  # their first login, the Hub still failing
                eventually(lambda: states(distribution) == {"done": 3}, "the third arrives", 120)
                front.heal()
                healed = utcnow()
                eventually(lambda: polled_since(healed, ON_HUB), "a poll again", 60)
            done = deliveries(distribution)
            for student in students:
                assert tree_bytes(homes / student.name / "hw1") == COURSE_FILES
                assert done[student.name].way == "home"
    finally:
        front.close()
