"""Delivery through students' running servers (as on Kubernetes): nbgitpuller in each server,
reached through the Hub's proxy with a token that reaches only that server.

The session's real Hub; home delivery off (HUBCLASS_DELIVERY=server, as an external service
that cannot see the homes runs). Its servers are real single-user servers with nbgitpuller,
in homes under the Hub's state dir. A student's own `~/.jupyter` config runs in their server:
the tests use one to record the headers a delivery sends, and one to leave nbgitpuller out.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from app.activity.models import HubUserState
from app.activity.poller import poll_once
from app.delivery import distribute, servers, words, worker
from app.delivery.models import Delivery
from app.extensions import db
from app.hub import hub_client
from app.hub.client import HubClient, MintedToken
from app.jobs import leases
from demo.launch import RunningHub
from tests.conftest import REPO, TEST_ACTIVITY_INTERVAL, _migrated, real_hub_env
from tests.faultyhub import FaultyHub
from tests.gitsync.conftest import Upstream, git
from tests.hubusers import ensure_users
from tests.jobs.together import run_together

from .kit import (
    assignment_for,
    assignment_of,
    course_with,
    eventually,
    settled,
    states,
    with_delivery_only,
    worker_process,
    workers,
)
from .test_pages import PREFIX, signed_in

pytestmark = [pytest.mark.hub]

# A student's server config that records every request to nbgitpuller: what they could do.
RECORDER = """
import json
from jupyter_server.base.handlers import JupyterHandler

_prepare = JupyterHandler.prepare


def prepare(self, *args, **kwargs):
    if "/git-pull/" in self.request.path:
        with open({log!r}, "a") as log:
            log.write(json.dumps({{
                "path": self.request.path,
                "query": self.request.query,
                "authorization": self.request.headers.get("Authorization"),
            }}) + "\\n")
    return _prepare(self, *args, **kwargs)


JupyterHandler.prepare = prepare
"""
WITHOUT_NBGITPULLER = 'c.ServerApp.jpserver_extensions = {"nbgitpuller": False}\n'


class Student:
    """A Hub user of the session Hub with a home the Hub's spawner uses."""

    def __init__(self, hub: RunningHub, name: str):
        self.hub, self.name = hub, name
        self.home = hub.state / "homes" / name

    @property
    def requests_log(self) -> Path:
        return self.home / "requests.jsonl"

    def configure(self, text: str) -> None:
        config = self.home / ".jupyter" / "jupyter_server_config.py"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text)

    def record_requests(self, auth_cache_seconds: int | None = None) -> None:
        """Log what reaches nbgitpuller. The server caches what the Hub says of a token for
        HubOAuth.cache_max_age (300 s): given a shorter one, a revoked or expired token is
        seen refused by the server itself soon after the Hub refuses it."""
        text = RECORDER.format(log=str(self.requests_log))
        if auth_cache_seconds is not None:
            text += f"c.HubOAuth.cache_max_age = {auth_cache_seconds}\n"
        self.configure(text)

    def recorded(self) -> list[dict]:
        if not self.requests_log.exists():
            return []
        return [json.loads(line) for line in self.requests_log.read_text().splitlines()]

    def server(self) -> dict:
        user = self.hub.admin().get(f"{self.hub.api_url}/users/{self.name}").json()
        return user["servers"].get("") or {}

    def start(self) -> None:
        r = self.hub.admin().post(f"{self.hub.api_url}/users/{self.name}/server")
        assert r.status_code in (201, 202), r.text

    def stop(self) -> None:
        r = self.hub.admin().delete(f"{self.hub.api_url}/users/{self.name}/server")
        assert r.status_code in (202, 204, 400), r.text  # 400: it was not running


def start_all(group: list[Student]) -> None:
    for student in group:
        student.start()
    eventually(lambda: all(s.server().get("ready") for s in group), "the servers run", 120)


@pytest.fixture
def students(hub: RunningHub) -> Iterator:
    """Make Hub users (with homes under the Hub's state dir); stop their servers after."""
    made: list[Student] = []

    def make(count: int) -> list[Student]:
        tag = secrets.token_hex(3)
        group = [Student(hub, f"sv{tag}{index}") for index in range(count)]
        ensure_users(hub, [s.name for s in group])
        for student in group:
            student.home.mkdir(parents=True, exist_ok=True)
        made.extend(group)
        return group

    yield make
    for student in made:
        student.stop()
    eventually(lambda: not any(s.server() for s in made), "the servers stopped", 60)


def server_env(hub: RunningHub, data: Path, **extra: str) -> dict[str, str]:
    return {
        **real_hub_env(hub, data),
        "HUBCLASS_DELIVERY": "server",
        "HUBCLASS_PROXY_URL": hub.url,
        "HUBCLASS_ALLOWED_REPO_URLS": "file://",
        "HUBCLASS_POLL_SECONDS": "0.2",
        "HUBCLASS_WORKERS": "0",
        **extra,
    }


@pytest.fixture
def server_app(hub: RunningHub, tmp_path: Path):
    """An app on the session Hub that delivers only through students' running servers."""
    for application in _migrated(server_env(hub, tmp_path / "data")):
        with_delivery_only(application)
        yield application


def deliveries(distribution_id: int) -> dict[str, Delivery]:
    rows = db.session.scalars(select(Delivery).where(Delivery.distribution_id == distribution_id))
    found = {row.username: row for row in rows}
    db.session.commit()
    return found


def run(app, distribution_id: int, timeout: float = 120) -> dict[str, Delivery]:
    with workers(app, 1):
        eventually(lambda: settled(distribution_id), "the deliveries ran", timeout)
    return deliveries(distribution_id)


def test_ten_running_servers_each_get_the_folder_and_a_student_edit_survives_the_next(
    server_app, students, upstream
):
    group = students(10)
    start_all(group)
    hw1 = assignment_for(f"srv{group[0].name[-7:]}", upstream, group)
    first = distribute(hw1, who=None).id
    db.session.commit()

    done = run(server_app, first)
    assert {d.state for d in done.values()} == {"done"}, {u: d.error for u, d in done.items()}
    head = upstream.commit({}, "nothing new")  # the same tree; what the mirror had before
    for student in group:
        delivery = done[student.name]
        assert delivery.way == "server" and delivery.outcome == "cloned"
        assert delivery.commit is not None and delivery.commit != head
        assert (student.home / "hw1" / "week1" / "data.csv").read_text() == "a,b\n1,2\n"
        assert delivery.report["way"] == "server" and delivery.report["output"]

    edited = group[0].home / "hw1" / "week1" / "notes.ipynb"
    edited.write_text("line 1\nline 2 (mine)\nline 3\n")
    fixed = upstream.commit({"README.md": "# Homework 1, fixed\n"}, "fix the readme")
    again = distribute(hw1, who=None).id
    db.session.commit()
    done = run(server_app, again)
    assert {d.state for d in done.values()} == {"done"}, {u: d.error for u, d in done.items()}
    assert {d.commit for d in done.values()} == {fixed}
    assert edited.read_text() == "line 1\nline 2 (mine)\nline 3\n"  # the student's edit kept
    assert (group[0].home / "hw1" / "README.md").read_text() == "# Homework 1, fixed\n"


def test_a_stopped_server_waits_then_receives_after_it_starts_with_no_click(
    server_app, students, upstream
):
    (student,) = students(1)
    hw1 = assignment_for(f"stp{student.name[-7:]}", upstream, [student])
    distribution = distribute(hw1, who=None).id
    db.session.commit()
    with workers(server_app, 1):
        eventually(lambda: states(distribution) == {"waiting": 1}, "it waits for the server")
        waiting = deliveries(distribution)[student.name]
        assert waiting.waiting_for == servers.WAITING_FOR_SERVER
        assert not (student.home / "hw1").exists()
        student.start()  # the student signs in and starts their server; nobody presses a thing
        eventually(lambda: states(distribution) == {"done": 1}, "it arrives once it runs", 120)
    assert deliveries(distribution)[student.name].way == "server"
    assert (student.home / "hw1" / "README.md").read_text() == "# Homework 1\n"


def test_a_server_stopped_since_the_hub_listed_it_running_makes_the_delivery_wait(
    server_app, students, upstream, monkeypatch
):
    """Deliveries read whose servers run from one listing of the Hub (servers.ReadyServers);
    a server stopped since is found by the proxy's answer, and the delivery waits."""
    monkeypatch.setattr(servers, "READY_SECONDS", 600.0)  # the listing stays as it was
    (student,) = students(1)
    start_all([student])
    hw1 = assignment_for(f"old{student.name[-7:]}", upstream, [student])
    assert run(server_app, distribute(hw1, who=None).id)[student.name].state == "done"
    student.stop()
    eventually(lambda: not student.server(), "the server stopped")

    again = distribute(hw1, who=None).id
    db.session.commit()
    with workers(server_app, 1):
        eventually(lambda: states(again) == {"waiting": 1}, "it waits for the server")
        assert deliveries(again)[student.name].waiting_for == servers.WAITING_FOR_SERVER
        student.start()
        eventually(lambda: states(again) == {"done": 1}, "it arrives once it runs", 120)


def test_the_token_a_server_sees_reaches_only_that_server_and_dies_with_the_delivery(
    server_app, students, upstream, hub
):
    recorder, other = students(2)
    recorder.record_requests(auth_cache_seconds=1)
    start_all([recorder, other])
    hw1 = assignment_for(f"tok{recorder.name[-7:]}", upstream, [recorder])
    done = run(server_app, distribute(hw1, who=None).id)
    assert done[recorder.name].state == "done", done[recorder.name].error

    (seen,) = recorder.recorded()
    assert "backup" not in seen["query"] and "targetpath=hw1" in seen["query"]
    scheme, token = seen["authorization"].split(" ", 1)
    assert scheme == "token" and token != hub.service_token
    as_token = {"Authorization": f"token {token}"}
    # Revoked as the delivery ended (by the process's revoker, within moments): the Hub
    # refuses it, and holds no token of the delivery account any more; the server, once its
    # short cache of the Hub's answer expires.
    eventually(lambda: not alive(hub, token), "the token is revoked", 10)
    left = hub.admin().get(f"{hub.api_url}/users/hubclass-delivery/tokens").json()
    assert not [t for t in left["api_tokens"] if recorder.name in (t.get("note") or "")]
    time.sleep(1.5)
    own = requests.get(
        f"{hub.url}/user/{recorder.name}/api/status", headers=as_token, allow_redirects=False
    )
    assert own.status_code in (302, 403), own.status_code


def alive(hub: RunningHub, token: str) -> bool:
    """Whether the Hub still takes the token."""
    answer = requests.get(f"{hub.api_url}/user", headers={"Authorization": f"token {token}"})
    return answer.status_code == 200


def delivery_token(hub: RunningHub) -> MintedToken:
    client = HubClient(hub.api_url, hub.service_token)
    scopes = ["access:servers!user=hubclass-delivery"]
    return client.create_token("hubclass-delivery", scopes, expires_in=300, note="a test's")


def slow_revoking(seconds: float):
    """A Hub that takes `seconds` to answer each revocation (a fault), and forwards it."""
    return lambda number, method, path: time.sleep(seconds) if method == "DELETE" else None


def test_a_slow_revocation_does_not_hold_the_deliverys_result(server_app, students, upstream, hub):
    (student,) = students(1)
    start_all([student])
    hw1 = assignment_for(f"rvk{student.name[-7:]}", upstream, [student])
    with FaultyHub(hub.api_url, slow_revoking(15)) as faulty:
        server_app.extensions["hubclass.hub"] = HubClient(faulty.url, hub.service_token)
        try:
            done = run(server_app, distribute(hw1, who=None).id)[student.name]
            assert done.state == "done", done.error
            assert (done.finished_at - done.started_at).total_seconds() < 10
            eventually(lambda: "DELETE" in {m for m, _ in faulty.forwarded}, "revoked", 30)
        finally:
            server_app.extensions["hubclass.hub"] = HubClient(hub.api_url, hub.service_token)


def test_tokens_left_to_revoke_at_exit_are_revoked_before_the_process_ends(hub, tmp_path):
    """A process ends (its work done, or stopped) while its revoker has tokens to revoke."""
    tokens = [delivery_token(hub) for _ in range(3)]
    with FaultyHub(hub.api_url, slow_revoking(1)) as faulty:
        script = (
            "import sys\n"
            "from app.delivery import servers\n"
            "from app.hub.client import HubClient, MintedToken\n"
            "client = HubClient(sys.argv[1], sys.argv[2])\n"
            "for token_id, token in zip(sys.argv[3::2], sys.argv[4::2]):\n"
            "    servers.REVOKER.put(client, MintedToken(token_id, token, 'hubclass-delivery'))\n"
        )
        given = [part for t in tokens for part in (t.id, t.token)]
        subprocess.run(
            [sys.executable, "-c", script, faulty.url, hub.service_token, *given],
            cwd=REPO,
            env={"PATH": os.environ["PATH"]},
            check=True,
            timeout=60,
        )
    assert [alive(hub, t.token) for t in tokens] == [False] * 3


def test_a_failed_revocation_is_logged_and_the_others_still_revoked(hub, caplog):
    kept, revoked = delivery_token(hub), delivery_token(hub)

    def refusing(number: int, method: str, path: str):  # the Hub fails one revocation
        return (500, {}, b"{}") if method == "DELETE" and path.endswith(f"/{kept.id}") else None

    revoker = servers.Revoker()
    with FaultyHub(hub.api_url, refusing) as faulty:
        client = HubClient(faulty.url, hub.service_token, retries=0)
        revoker.put(client, kept)
        revoker.put(client, revoked)
        eventually(lambda: not alive(hub, revoked.token), "the second is revoked", 10)
        revoker.close()
    assert alive(hub, kept.token)
    assert f"The delivery token {kept.id} could not be revoked" in caplog.text
    HubClient(hub.api_url, hub.service_token).revoke_token(kept)


def test_while_it_lives_the_token_opens_that_server_only_then_expires(
    hub, students, upstream, tmp_path, monkeypatch
):
    """The token as the student's server holds it mid-delivery (its revocation made to fail:
    a fault), tried by the student: one server, nothing else, and dead after its lifetime."""
    recorder, other = students(2)
    recorder.record_requests(auth_cache_seconds=1)
    start_all([recorder, other])
    monkeypatch.setattr(servers, "TOKEN_MARGIN_SECONDS", 0)
    monkeypatch.setattr(servers, "_revoke", lambda token: None)
    lifetime = 8
    env = server_env(hub, tmp_path / "data", HUBCLASS_DELIVERY_TIMEOUT_SECONDS=str(lifetime))
    for app in _migrated(env):
        with_delivery_only(app)
        hw1 = assignment_for(f"exp{recorder.name[-7:]}", upstream, [recorder])
        done = run(app, distribute(hw1, who=None).id)[recorder.name]
        minted_at = time.monotonic()
        assert done.state == "done", done.error
    (seen,) = recorder.recorded()
    as_token = {"Authorization": seen["authorization"]}

    mine = requests.get(f"{hub.url}/user/{recorder.name}/api/status", headers=as_token)
    assert mine.status_code == 200  # alive: it opens the one server it was made for
    # Owned by the delivery account: not the service's token, nor the student's own.
    owner = requests.get(f"{hub.api_url}/user", headers=as_token).json()
    assert (owner["kind"], owner["name"]) == ("user", "hubclass-delivery")
    # Beyond reading its own account (the Hub adds that to every token): that one server.
    beyond_itself = [s for s in owner["scopes"] if not s.endswith("!user=hubclass-delivery")]
    assert beyond_itself == [f"access:servers!user={recorder.name}"], owner
    other_server = requests.get(
        f"{hub.url}/user/{other.name}/api/status", headers=as_token, allow_redirects=False
    )
    assert other_server.status_code in (302, 403), other_server.status_code
    listing = requests.get(f"{hub.api_url}/users", headers=as_token)
    assert listing.status_code == 403 or listing.json() == []
    made = requests.post(
        f"{hub.api_url}/users/hubclass-delivery/tokens", headers=as_token, json={"expires_in": 60}
    )
    assert made.status_code == 403
    for_student = requests.post(
        f"{hub.api_url}/users/{recorder.name}/tokens", headers=as_token, json={}
    )
    assert for_student.status_code == 403

    time.sleep(max(0.0, lifetime + 1 - (time.monotonic() - minted_at)))
    assert requests.get(f"{hub.api_url}/user", headers=as_token).status_code == 403
    late = requests.get(
        f"{hub.url}/user/{recorder.name}/api/status", headers=as_token, allow_redirects=False
    )
    assert late.status_code in (302, 403), late.status_code


def test_a_server_without_nbgitpuller_gets_the_clear_error(server_app, students, upstream):
    (student,) = students(1)
    student.configure(WITHOUT_NBGITPULLER)
    start_all([student])
    hw1 = assignment_for(f"nog{student.name[-7:]}", upstream, [student])
    done = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert done.state == "failed" and done.error == servers.NO_NBGITPULLER
    assert done.way == "server"


def stalled_clones(student: Student, upstream: Upstream, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the course repository whose clones, in the student's server, stall while the
    returned file exists (git's pack-objects hook, from the student's own ~/.gitconfig)."""
    stall = tmp_path / "stall"
    stall.touch()
    hook = student.home / "stall-hook"
    hook.write_text(
        f'#!/bin/sh\ncase "$PWD" in *slow.git*) while [ -e {stall} ]; do sleep 0.1; done;; esac\n'
        'exec "$@"\n'
    )
    hook.chmod(0o755)
    (student.home / ".gitconfig").write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    slow = tmp_path / "slow.git"
    git("clone", "--quiet", "--bare", upstream.bare, slow)
    return stall, slow


def holding_nbgitpuller(student: Student, slow: Path) -> threading.Thread:
    """Another pull in the student's server (of `slow`, which stalls) holding nbgitpuller's
    lock, once it does: the thread to join when the stall ends."""
    admin = student.hub.admin()
    holder = threading.Thread(
        target=lambda: (
            admin.get(
                f"{student.hub.url}/user/{student.name}/git-pull/api",
                params={"repo": f"file://{slow}", "branch": "main", "targetpath": "other"},
                timeout=120,
            ).content
        ),
        daemon=True,
    )
    holder.start()
    eventually(lambda: len(student.recorded()) == 1, "the other git operation holds the lock")
    return holder


def test_nbgitpuller_busy_is_waited_for_and_retried_not_failed(
    server_app, students, upstream, tmp_path
):
    """Another git operation in the student's server holds nbgitpuller's lock (a clone that
    stalls, made with git's pack-objects hook from the student's own ~/.gitconfig)."""
    (student,) = students(1)
    student.record_requests()
    stall, slow = stalled_clones(student, upstream, tmp_path)
    start_all([student])
    holder = holding_nbgitpuller(student, slow)
    time.sleep(0.5)

    hw1 = assignment_for(f"bsy{student.name[-7:]}", upstream, [student])
    distribution = distribute(hw1, who=None).id
    db.session.commit()
    with workers(server_app, 1):
        eventually(lambda: len(student.recorded()) >= 2, "the delivery asks nbgitpuller", 60)
        time.sleep(3)  # nbgitpuller answers "busy" meanwhile: asked again, not failed
        assert states(distribution) == {"claimed": 1}
        stall.unlink()
        eventually(lambda: settled(distribution), "it ran once the lock was free", 120)
    holder.join(60)
    done = deliveries(distribution)[student.name]
    assert done.state == "done", done.error
    asked = [r for r in student.recorded() if "targetpath=hw1" in r["query"]]
    assert len(asked) >= 2  # busy at least once, then delivered
    assert (student.home / "hw1" / "README.md").exists()


def test_two_assignments_to_one_student_go_through_their_server_one_at_a_time(
    hub, students, upstream, tmp_path
):
    """nbgitpuller runs one git operation per server: the second delivery to a student waits
    in the queue for the first, though another worker process (one delivery at a time each)
    claimed it, and never meets nbgitpuller's lock."""
    (student,) = students(1)
    student.record_requests()
    stall, slow = stalled_clones(student, upstream, tmp_path)
    start_all([student])
    env = server_env(hub, tmp_path / "data", HUBCLASS_SERVER_CONCURRENCY="1")
    for app in _migrated(env):
        with_delivery_only(app)
        course = course_with(f"two{student.name[-7:]}", [student.name])
        slow_one = assignment_of(course, upstream, repo_url=f"file://{slow}")
        other = assignment_of(course, upstream, slug="hw2", title="Homework 2", target="hw2")
        ids = [distribute(slow_one, who=None).id, distribute(other, who=None).id]
        db.session.commit()
        done = _one_after_the_other(app, env, student, stall, ids)
        assert [d.state for d in done] == ["done", "done"], [d.error for d in done]
    asked = [r["query"] for r in student.recorded()]
    assert len(asked) == 2 and "targetpath=hw2" in asked[1], asked  # each once: never busy
    assert (student.home / "hw2" / "README.md").exists()


def _one_after_the_other(
    app, env: dict[str, str], student: Student, stall: Path, ids: list[int]
) -> list[Delivery]:
    """Run the two distributions (the first stalled until `stall` goes) with a worker here and
    one in another process; what became of the student's deliveries."""

    def second_waits() -> bool:
        row = deliveries(ids[1])[student.name]
        return row.state == "queued" and row.waiting_for == worker.SERVER_BUSY

    elsewhere = worker_process(env)
    try:
        with workers(app, 1):
            eventually(lambda: student.recorded(), "the first delivery asks nbgitpuller", 60)
            eventually(second_waits, "the second waits for the student's server", 30)
            time.sleep(3)  # claimed again and again meanwhile, each time put back
            (asked,) = student.recorded()
            assert "targetpath=hw1" in asked["query"]
            stall.unlink()
            eventually(lambda: all(settled(i) for i in ids), "both ran", 120)
    finally:
        stall.unlink(missing_ok=True)
        elsewhere.send_signal(signal.SIGTERM)
        try:
            elsewhere.wait(30)
        except subprocess.TimeoutExpired:
            elsewhere.kill()
            elsewhere.wait()
    return [deliveries(i)[student.name] for i in ids]


def test_a_stream_that_ends_in_error_is_a_failed_delivery_with_nbgitpullers_message(
    server_app, students, upstream
):
    (student,) = students(1)
    mine = student.home / "hw1" / "my-notes.txt"  # a folder of the student's, not a clone
    mine.parent.mkdir(parents=True)
    mine.write_text("mine\n")
    start_all([student])
    hw1 = assignment_for(f"err{student.name[-7:]}", upstream, [student])
    done = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert done.state == "failed" and done.way == "server"
    assert done.error.startswith("nbgitpuller in the student's server: ")
    assert done.report["error"]["code"] == "server_sync_failed"
    assert done.report["error"]["message"] in done.error
    assert mine.read_text() == "mine\n"  # nothing of the student's touched


def test_a_folder_whose_origin_is_not_the_assignments_url_needs_attention_not_a_record(
    server_app, students, upstream, tmp_path
):
    """nbgitpuller updates a folder from its own origin: once the assignment's URL changed,
    that is the old repository, and the course's commit must not be recorded as given."""
    (student,) = students(1)
    start_all([student])
    hw1 = assignment_for(f"url{student.name[-7:]}", upstream, [student])
    assert run(server_app, distribute(hw1, who=None).id)[student.name].outcome == "cloned"
    moved = Upstream(tmp_path / "moved")
    moved.commit({"README.md": "# Homework 1, moved\n"}, "the course's new home")
    hw1.repo_url = moved.url
    db.session.commit()

    # The old repository has nothing new: nbgitpuller fetches nothing and says up to date.
    stale = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert stale.state == "attention" and stale.commit is None, (stale.state, stale.error)
    assert stale.report["error"]["code"] == "server_origin_unknown"
    assert "git remote -v" in stale.error
    # The old repository moves on: nbgitpuller fetches and merges it, and git names it.
    upstream.commit({"README.md": "# Homework 1, old home\n"}, "still pushed to the old one")
    other = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert other.state == "attention" and other.commit is None, (other.state, other.error)
    assert other.report["error"]["code"] == "server_other_origin"
    assert str(upstream.bare.with_suffix("")) in other.error and moved.url in other.error
    assert words.said(other.state, other.report, other.error) == (
        "needs attention: the folder fetches from another repository than the assignment's"
    )
    assert (student.home / "hw1" / "README.md").read_text() == "# Homework 1, old home\n"


def test_a_folder_without_git_inside_a_home_kept_in_git_needs_attention(
    server_app, students, upstream, tmp_path
):
    """nbgitpuller takes a folder without its own .git for the repository around it (a home
    kept in git), and says "Already up to date" of that one: nothing was delivered."""
    (student,) = students(1)
    dotfiles = Upstream(tmp_path / "dotfiles")
    dotfiles.commit({".bashrc": "# mine\n"}, "my dotfiles")
    git("init", "--quiet", "--initial-branch=main", student.home)
    git("-C", student.home, "remote", "add", "origin", dotfiles.bare)
    git("-C", student.home, "fetch", "--quiet", "origin")
    git("-C", student.home, "checkout", "--quiet", "main")
    mine = student.home / "hw1" / "my-notes.txt"
    mine.parent.mkdir()
    mine.write_text("mine\n")
    start_all([student])
    hw1 = assignment_for(f"enc{student.name[-7:]}", upstream, [student])
    done = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert done.state == "attention" and done.commit is None, (done.state, done.error)
    assert done.report["error"]["code"] == "server_not_a_clone"
    assert "Already up to date." in done.report["output"]
    assert words.said(done.state, done.report, done.error).startswith(
        "needs attention: the folder is no clone of the course"
    )
    assert not (student.home / "hw1" / "README.md").exists() and mine.read_text() == "mine\n"


# A student's server whose nbgitpuller URL sends the caller on, to another student's server.
REDIRECTS = """
from nbgitpuller.handlers import SyncHandler


async def get(self):
    self.redirect({target!r})


SyncHandler.get = get
"""


def test_after_a_restore_a_delivery_that_ran_after_the_backup_says_what_hubclass_cannot_know(
    server_app, students, upstream, tmp_path
):
    """A backup taken while the delivery was queued, restored after it ran through the
    student's server: it runs again, nbgitpuller says "Already up to date", and with no record
    of the first run Hubclass says why it cannot tell (not that the folder is no clone)."""
    (student,) = students(1)
    start_all([student])
    hw1 = assignment_for(f"rst{student.name[-7:]}", upstream, [student])
    distribution_id = distribute(hw1, who=None).id
    db.session.commit()
    saved = tmp_path / "saved.tar.gz"
    cli = server_app.test_cli_runner()
    assert cli.invoke(args=["backup", str(saved)]).exit_code == 0
    assert run(server_app, distribution_id)[student.name].outcome == "cloned"
    # The service stopped; a restore waits out its last poll's lease (a fraction of a second).
    eventually(lambda: leases.held_until() is None, "the stopped worker's leases ran out")
    restored = cli.invoke(args=["restore", str(saved), "--replace"])
    assert restored.exit_code == 0, restored.output

    again = run(server_app, distribution_id)[student.name]
    assert again.state == "attention" and again.commit is None, (again.state, again.error)
    assert again.report["error"]["code"] == "server_after_restore"
    assert "Already up to date." in again.report["output"]
    assert words.said(again.state, again.report, again.error) == (
        "needs attention: up to date, maybe by a run the restored backup does not know"
    )
    assert (student.home / "hw1" / "README.md").read_text() == "# Homework 1\n"


def test_a_redirect_to_another_students_server_is_not_followed(server_app, students, upstream):
    mallory, victor = students(2)
    victor.record_requests()
    mallory.configure(REDIRECTS.format(target=f"/user/{victor.name}/git-pull/api?repo=x"))
    start_all([mallory, victor])
    hw1 = assignment_for(f"rdr{mallory.name[-7:]}", upstream, [mallory])
    done = run(server_app, distribute(hw1, who=None).id)[mallory.name]
    assert done.state == "failed", (done.state, done.error)
    assert done.error == servers.BAD_ANSWER.format(what="a redirect elsewhere")
    assert victor.recorded() == []  # the delivery's token never reached another server


def test_the_status_pages_check_makes_one_token_at_a_time_and_says_when_the_hub_is_silent(
    server_app, hub, monkeypatch
):
    monkeypatch.setattr(servers, "_probes", {})
    made = []
    real = HubClient.create_token

    def slowly(self, *args, **kwargs):  # a slow Hub: page loads come in meanwhile
        made.append(args[0])
        time.sleep(0.5)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HubClient, "create_token", slowly)
    found = []
    run_together(
        server_app,
        [f"page{i}" for i in range(5)],
        lambda _: found.append(servers.token_problem("hubclass-delivery")),
    )
    assert found == [None] * 5 and made == ["hubclass-delivery"]

    monkeypatch.setattr(servers, "_probes", {})
    with FaultyHub(hub.api_url, lambda n, method, path: "reset") as faulty:
        server_app.extensions["hubclass.hub"] = HubClient(faulty.url, hub.service_token, retries=0)
        try:
            problem = servers.token_problem("hubclass-delivery")
        finally:
            server_app.extensions["hubclass.hub"] = HubClient(hub.api_url, hub.service_token)
    assert problem is not None and problem.startswith("The Hub did not answer")
    assert "refused" not in problem


def test_a_delivery_does_not_count_as_the_students_activity(server_app, students, upstream, hub):
    (student,) = students(1)
    start_all([student])
    client = hub_client()
    time.sleep(3 * TEST_ACTIVITY_INTERVAL)  # what starting the server reports has arrived
    poll_once(client)
    before = db.session.get(HubUserState, student.name).last_activity
    db.session.commit()

    hw1 = assignment_for(f"act{student.name[-7:]}", upstream, [student])
    done = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert done.state == "done", done.error
    time.sleep(3 * TEST_ACTIVITY_INTERVAL)  # the Hub has read the proxy's activity since
    hub_says = hub.admin().get(f"{hub.api_url}/users/{student.name}").json()["last_activity"]
    poll_once(client)
    after = db.session.get(HubUserState, student.name).last_activity
    assert after == before, (before, after, hub_says)


def test_the_status_page_says_which_ways_of_delivery_work_and_why(server_app, hub, tmp_path):
    status = signed_in(server_app).get(PREFIX + "/api/v1/status").get_json()
    ways = {way["name"]: way for way in status["deliveries"]}
    assert ways["home"]["used"] is False and "HUBCLASS_DELIVERY=server" in ways["home"]["why"]
    assert ways["server"]["used"] is True and hub.url in ways["server"]["why"]
    assert status["delivery_problem"] is None and status["ok"] is True

    # A delivery account the Hub does not know: said, with what to change; not ok.
    env = server_env(hub, tmp_path / "other", HUBCLASS_DELIVERY_ACCOUNT="nosuch-delivery")
    for app in _migrated(env):
        client = signed_in(app)
        status = client.get(PREFIX + "/api/v1/status").get_json()
        page = client.get(PREFIX + "/status").get_data(as_text=True)
    server = {way["name"]: way for way in status["deliveries"]}["server"]
    assert server["used"] is False
    assert "refused to make the delivery's token for nosuch-delivery" in server["why"]
    assert status["delivery_problem"] == server["why"] and status["ok"] is False
    assert "No way of delivery works in this process" in page and "nosuch-delivery" in page


# A student's server that answers 503 to nbgitpuller's URL (what "stopped" looks like to the
# proxy's callers), while the Hub says it runs.
ANSWERS_503 = """
from nbgitpuller.handlers import SyncHandler
from tornado import web


async def get(self):
    raise web.HTTPError(503)


SyncHandler.get = get
"""


def test_a_running_server_answering_503_fails_once_and_is_not_asked_again_every_poll(
    server_app, students, upstream
):
    (student,) = students(1)
    student.record_requests()
    student.configure(
        (student.home / ".jupyter" / "jupyter_server_config.py").read_text() + ANSWERS_503
    )
    start_all([student])
    hw1 = assignment_for(f"503{student.name[-7:]}", upstream, [student])
    distribution = distribute(hw1, who=None).id
    db.session.commit()
    with workers(server_app, 1):
        eventually(lambda: student.recorded(), "the server is asked", 60)
        time.sleep(3)  # fifteen polls of HUBCLASS_POLL_SECONDS=0.2
        done = deliveries(distribution)[student.name]
    asked = len(student.recorded())
    assert done.state == "failed" and done.way == "server", (done.state, done.waiting_for, asked)
    assert "HTTP 503" in done.error
    assert asked == 1
