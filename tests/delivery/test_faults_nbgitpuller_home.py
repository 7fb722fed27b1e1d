"""A real nbgitpuller pulling in the student's running server while a home delivery of the same
assignment folder runs (SECURITY.md fault 4).

A Hub whose servers run as the students' own accounts (`accounts_hub`), Hubclass's worker
delivering into the home as the student (HUBCLASS_DELIVERY=home), the course on a real `git
daemon`. The student clicks the course's nbgitpuller link (targetpath=hw1: the folder the
assignment delivers into) with their own token, and nbgitpuller is held mid-pull while the
distribution runs, then let go:
- in its `git fetch` (the daemon's pack-objects hook holds the pack): the delivery, which sees
  no lock, arrives; git then refuses nbgitpuller's fetch its ref update (origin/main moved
  since it began) and nbgitpuller stops before touching a file;
- in its commit of the student's edits, holding .git/index.lock (their own pre-commit hook):
  the delivery waits, then fails alone, "git was running in the folder", leaving nbgitpuller
  be; nbgitpuller merges the course's version itself, and a retry records it, changing nothing.
Either way nothing of the student's is lost and distributing again delivers nothing twice. On
SQLite only: the outcome is the folder's and git's, and the queue's rows these read back are
proven on PostgreSQL too by test_faults_homes.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.delivery import distribute
from app.delivery.service import said
from app.extensions import db
from app.gitsync.lock import git_processes_in
from demo.launch import RunningHub
from tests.conftest import _migrated, real_hub_env
from tests.gitsync.conftest import Student, Upstream, repo_git, tree_bytes
from tests.hubusers import ensure_users, user_token

from .conftest import delivery_env
from .kit import (
    assignment_for,
    eventually,
    leftovers,
    owners,
    settled,
    with_delivery_only,
    workers,
)
from .test_faults_git import GitDaemon, serving
from .test_faults_homes import V2, deliveries_done, rows_of, with_v2

pytestmark = [pytest.mark.hub, pytest.mark.root]

# git's pack-objects hook (from the daemon's global config): while `stall` exists, a shallow
# clone's fetch (the student's folder; the mirror is a full clone) waits before its pack is
# sent, `sent` saying it is there. Other fetches go through.
HOLD_SHALLOW = """#!/bin/sh
case " $* " in *" --shallow "*) shallow=yes;; esac
if [ -e {stall} ] && [ -n "$shallow" ]; then
    touch {sent}
    while [ -e {stall} ]; do sleep 0.1; done
fi
exec "$@"
"""


@pytest.fixture
def daemon(tmp_path: Path, upstream: Upstream) -> Iterator[GitDaemon]:
    yield from serving(tmp_path, upstream, HOLD_SHALLOW)


@pytest.fixture
def home_app(accounts_hub, tmp_path: Path, daemon: GitDaemon):
    """An app on a database of its own that delivers into the accounts Hub's homes only."""
    hub, homes = accounts_hub
    env = {
        **delivery_env(homes, tmp_path / "data", real_hub_env(hub, tmp_path / "data")),
        "HUBCLASS_DELIVERY": "home",
        "HUBCLASS_ALLOWED_REPO_URLS": f"git://127.0.0.1:{daemon.port}/",
    }
    for application in _migrated(env):
        with_delivery_only(application)
        yield application


def server_of(hub: RunningHub, name: str) -> dict:
    return hub.admin().get(f"{hub.api_url}/users/{name}").json()["servers"].get("") or {}


@pytest.fixture
def running_student(accounts_hub, make_students) -> Iterator[Student]:
    """A student with a system account, a Hub user and their server running as them (their
    home made by the spawner); the server stopped after (before the account goes)."""
    hub = accounts_hub[0]
    (student,) = make_students(1)
    ensure_users(hub, [student.name])
    started = hub.admin().post(f"{hub.api_url}/users/{student.name}/server")
    assert started.status_code in (201, 202), started.text
    try:
        eventually(lambda: server_of(hub, student.name).get("ready"), "the server runs", 120)
        yield student
    finally:
        hub.admin().delete(f"{hub.api_url}/users/{student.name}/server")
        eventually(lambda: not server_of(hub, student.name), "the server stopped", 60)


def run_to_the_end(app, distribution_id: int) -> None:
    with workers(app, 1):
        eventually(lambda: settled(distribution_id), "the deliveries ran", 120)


class OwnPull:
    """The student's click on the course's nbgitpuller link, in a thread: what it answered."""

    def __init__(self, hub: RunningHub, student: Student, url: str) -> None:
        self.events: list[dict] = []
        token = user_token(hub, student.name)
        self.thread = threading.Thread(
            target=self._pull, args=(hub, student, url, token), daemon=True
        )
        self.thread.start()

    def _pull(self, hub: RunningHub, student: Student, url: str, token: str) -> None:
        answer = requests.get(
            f"{hub.url}/user/{student.name}/git-pull/api",
            params={"repo": url, "branch": "main", "targetpath": "hw1"},
            headers={"Authorization": f"token {token}"},
            timeout=120,
        )
        for line in answer.text.splitlines():
            if line.startswith("data:"):
                self.events.append(json.loads(line[5:]))

    def phase(self) -> str | None:
        phases = [e["phase"] for e in self.events if e.get("phase") in ("finished", "error")]
        return phases[0] if phases else None

    def output(self) -> str:
        return "".join(e.get("output", "") for e in self.events)


def given_edited_then_v2(
    app, student: Student, home: Path, upstream: Upstream, daemon: GitDaemon, tag: str
) -> tuple:
    """Version 1 delivered into the home, then the student's edits, then the course's version
    2: (the assignment, the student's files, their commit, version 2)."""
    hw1 = assignment_for(f"{tag}{student.name[-6:]}", upstream, [student], repo_url=daemon.url)
    first = distribute(hw1, who=None).id
    db.session.commit()
    run_to_the_end(app, first)
    assert rows_of(first)[student.name].state == "done", rows_of(first)[student.name].error
    folder = home / "hw1"
    student.write(folder / "week1" / "data.csv", f"a,b\n1,2\n{student.name}'s answer\n")
    student.write(folder / "mine.txt", b"\x00\x01 not the course's\n")
    files = tree_bytes(folder)
    head = repo_git(folder, "rev-parse", "HEAD").strip()
    v2 = upstream.commit(V2, "version 2")
    return hw1, files, head, v2


def test_a_home_delivery_while_the_students_nbgitpuller_fetches_arrives_and_nbgitpuller_stops_clean(
    home_app, accounts_hub, running_student, upstream, daemon
):
    hub, homes = accounts_hub
    student, home = running_student, homes / running_student.name
    hw1, files, head, v2 = given_edited_then_v2(home_app, student, home, upstream, daemon, "ov")
    folder = home / "hw1"

    daemon.stall.touch()
    pull = OwnPull(hub, student, daemon.url)
    try:
        eventually(daemon.sent.exists, "the student's nbgitpuller is fetching", 60)
        fetching = git_processes_in(folder)
        assert fetching  # nbgitpuller's git fetch, running in the folder
        second = distribute(hw1, who=None).id
        db.session.commit()
        run_to_the_end(home_app, second)
        # The delivery ran to its end while nbgitpuller's fetch was still in the folder.
        assert pull.thread.is_alive() and set(fetching) <= set(git_processes_in(folder))
    finally:
        daemon.stall.unlink(missing_ok=True)
        pull.thread.join(120)
    # The delivery arrived, as the student's own account, their edits kept.
    row = rows_of(second)[student.name]
    assert (row.state, row.outcome, row.commit) == ("done", "updated", v2), (row.state, row.error)
    assert said(row) == "updated; kept 1 of your edits"
    # nbgitpuller's fetch then found origin/main moved since it began: git refused to update it
    # ("cannot lock ref"), and nbgitpuller stopped there, before its own commit and merge.
    assert pull.phase() == "error", pull.output()
    assert "unable to update local ref" in pull.output()
    # Nothing lost: the student's files byte for byte with the course's new ones, their commit
    # in the history, a sound repository, everything theirs, nothing left beside it.
    assert tree_bytes(folder) == with_v2(files)
    repo_git(folder, "merge-base", "--is-ancestor", head, "HEAD")
    assert repo_git(folder, "rev-parse", "refs/remotes/origin/main").strip() == v2
    repo_git(folder, "fsck", "--no-progress")
    assert owners(folder) == {student.uid}
    assert leftovers(home) == []
    assert not [e.name for e in home.iterdir() if e.name.startswith("hw1_backup_")]
    assert server_of(hub, student.name).get("ready")  # the Hub: their server still runs
    merged = repo_git(folder, "rev-parse", "HEAD")

    # The student clicks the link again: nbgitpuller finds the folder up to date.
    again = OwnPull(hub, student, daemon.url)
    again.thread.join(120)
    assert again.phase() == "finished", again.output()
    assert "Already up to date." in again.output()
    # And distributing again changes nothing: version 2 was delivered once.
    third = distribute(hw1, who=None).id
    db.session.commit()
    run_to_the_end(home_app, third)
    last = rows_of(third)[student.name]
    assert (last.state, last.outcome, last.commit) == ("done", "unchanged", v2), last.error
    assert repo_git(folder, "rev-parse", "HEAD") == merged
    assert tree_bytes(folder) == with_v2(files)
    assert deliveries_done(student.name, v2) == 1
    assert leftovers(home) == []


# The student's own pre-commit hook (their ~/.gitconfig's core.hooksPath, which nbgitpuller's
# git reads and Hubclass's never does): nbgitpuller's `git commit -am` of their edits waits
# in it, holding .git/index.lock, until `hold` goes; `held` says it is there.
PRE_COMMIT = "#!/bin/sh\ntouch {held}\nwhile [ -e {hold} ]; do sleep 0.1; done\n"


def test_nbgitpuller_holding_index_lock_fails_the_home_delivery_alone_and_a_retry_converges(
    home_app, accounts_hub, running_student, upstream, daemon
):
    # The engine waits for a git in the folder up to the delivery's timeout (less a second).
    home_app.config["HUBCLASS_DELIVERY_TIMEOUT_SECONDS"] = 8
    hub, homes = accounts_hub
    student, home = running_student, homes / running_student.name
    hw1, files, head, v2 = given_edited_then_v2(home_app, student, home, upstream, daemon, "lk")
    folder = home / "hw1"
    hold, held = home / ".holding", home / ".held"
    student.write(hold, "")
    student.write(home / "hooks" / "pre-commit", PRE_COMMIT.format(hold=hold, held=held))
    (home / "hooks" / "pre-commit").chmod(0o755)
    student.write(home / ".gitconfig", f"[core]\n\thooksPath = {home / 'hooks'}\n")

    pull = OwnPull(hub, student, daemon.url)
    lock = folder / ".git" / "index.lock"
    try:
        eventually(held.exists, "nbgitpuller commits the student's edits", 60)
        assert lock.exists()
        second = distribute(hw1, who=None).id
        db.session.commit()
        run_to_the_end(home_app, second)
        row = rows_of(second)[student.name]
        assert (row.state, row.commit) == ("failed", None), (row.state, row.error)
        assert said(row) == "failed: git was running in the folder"
        # nbgitpuller left alone, mid-commit; the folder as it was; nothing beside it.
        assert pull.thread.is_alive() and lock.exists()
        assert tree_bytes(folder) == files
        assert leftovers(home) == []
    finally:
        hold.unlink(missing_ok=True)
        pull.thread.join(120)
    # nbgitpuller went on: it committed the edits and merged the course's version 2 itself.
    assert pull.phase() == "finished", pull.output()
    assert tree_bytes(folder) == with_v2(files)
    merged = repo_git(folder, "rev-parse", "HEAD")

    retry = distribute(hw1, who=None, retry_failed=True).id
    db.session.commit()
    assert set(rows_of(retry)) == {student.name}
    run_to_the_end(home_app, retry)
    # The retry finds version 2 there (nbgitpuller's merge): it records it, changing nothing.
    done = rows_of(retry)[student.name]
    assert (done.state, done.outcome, done.commit) == ("done", "unchanged", v2), done.error
    assert said(done) == "already up to date; kept 1 of your edits"
    third = distribute(hw1, who=None).id
    db.session.commit()
    run_to_the_end(home_app, third)
    last = rows_of(third)[student.name]
    assert (last.state, last.outcome, last.commit) == ("done", "unchanged", v2), last.error
    assert repo_git(folder, "rev-parse", "HEAD") == merged
    repo_git(folder, "merge-base", "--is-ancestor", head, "HEAD")
    assert tree_bytes(folder) == with_v2(files)
    repo_git(folder, "fsck", "--no-progress")
    assert owners(folder) == {student.uid}
    assert leftovers(home) == []
    assert deliveries_done(student.name, v2) == 0  # brought by nbgitpuller, by no delivery
    assert server_of(hub, student.name).get("ready")
