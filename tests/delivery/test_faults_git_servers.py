"""The course's git server dying in the middle of the fetch nbgitpuller runs in a student's
server for a delivery through that server (SECURITY.md fault 6). nbgitpuller fetches the
assignment's URL itself (servers._params sends `repo`: the course's own URL, never the
mirror; an update fetches the folder's origin, which its clone set to that URL), so the real
`git daemon` serving it is killed (SIGKILL, with its upload-pack) while it sends nbgitpuller
the pack. The delivery fails in nbgitpuller's words, the student's folder keeps every file and
its commit and passes `git fsck`, and once the server is back a retry and a distribution
again converge, the new version given once.

tests/delivery/test_faults_git.py kills the same server during the mirror's fetch (home
delivery); here the mirror's fetch gets through (the mirror is a full clone; the kill waits
for a shallow clone's fetch, which only the student's folder is). On SQLite only: what
happens is git's and nbgitpuller's; the queue's rows on PostgreSQL are proven by
test_faults_git.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.delivery import distribute
from app.extensions import db
from tests.gitsync.conftest import Upstream, repo_git, tree_bytes

from . import test_servers
from .kit import assignment_for, eventually, leftovers, settled, workers
from .test_faults_git import GitDaemon, mirrors, serving, version_2_stalled
from .test_faults_homes import V2, deliveries_done
from .test_servers import deliveries, run, start_all

pytestmark = [pytest.mark.hub]
# The fixtures of the deliveries through servers, used here too.
server_app = test_servers.server_app
students = test_servers.students

# git's pack-objects hook (from the daemon's global config): while `stall` exists, a shallow
# clone's fetch (the student's folder; the mirror is a full clone) gets the first bytes of its
# pack, `sent` says so, then the server hangs there (to be killed). Other fetches go through.
CUT_SHALLOW = """#!/bin/sh
case " $* " in *" --shallow "*) shallow=yes;; esac
if [ -e {stall} ] && [ -n "$shallow" ]; then
    "$@" | {{ head -c 4096; touch {sent}; sleep 600; }}
else
    exec "$@"
fi
"""


@pytest.fixture
def daemon(tmp_path: Path, upstream: Upstream) -> Iterator[GitDaemon]:
    yield from serving(tmp_path, upstream, CUT_SHALLOW)


def delivery_tokens_of(hub, name: str) -> list[dict]:
    """The delivery account's tokens made for deliveries to `name` (revoked when they end)."""
    tokens = hub.admin().get(f"{hub.api_url}/users/hubclass-delivery/tokens").json()
    return [t for t in tokens["api_tokens"] if name in (t.get("note") or "")]


def test_the_git_server_killed_during_nbgitpullers_fetch_fails_that_delivery_and_a_retry_converges(
    server_app, students, upstream, daemon, hub
):
    server_app.config["HUBCLASS_ALLOWED_REPO_URLS"] = [f"git://127.0.0.1:{daemon.port}/"]
    (student,) = students(1)
    start_all([student])
    hw1 = assignment_for(f"gd{student.name[-7:]}", upstream, [student], repo_url=daemon.url)
    first = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert (first.state, first.outcome) == ("done", "cloned"), first.error
    folder = student.home / "hw1"
    assert repo_git(folder, "remote", "get-url", "origin").strip() == daemon.url
    (folder / "week1" / "data.csv").write_text("a,b\n1,2\nmy answer\n")
    (folder / "mine.txt").write_bytes(b"\x00\x01 not the course's\n")
    files = tree_bytes(folder)
    head = repo_git(folder, "rev-parse", "HEAD")
    fetched = repo_git(folder, "rev-parse", "refs/remotes/origin/main")
    big, v2, second = version_2_stalled(upstream, daemon, hw1)
    with workers(server_app, 1):
        eventually(daemon.sent.exists, "the server is sending nbgitpuller the pack", 60)
        time.sleep(0.2)  # the first bytes reach nbgitpuller's git fetch
        daemon.kill()
        eventually(lambda: settled(second), "the delivery ran", 120)
    (mirror,) = mirrors()
    assert repo_git(mirror, "rev-parse", "refs/heads/main").strip() == v2  # it got through

    row = deliveries(second)[student.name]
    assert (row.state, row.way, row.commit) == ("failed", "server", None), (row.state, row.error)
    assert row.error.startswith("nbgitpuller in the student's server: ")
    assert "'git', 'fetch'" in row.error  # nbgitpuller's words: its git fetch failed
    assert any("early EOF" in line for line in row.report["output"]), row.report["output"]
    # Nothing of the student's lost or half-changed: the same files, commit and course commit,
    # a sound repository, nothing left beside the folder.
    assert tree_bytes(folder) == files
    assert repo_git(folder, "rev-parse", "HEAD") == head
    assert repo_git(folder, "rev-parse", "refs/remotes/origin/main") == fetched
    repo_git(folder, "fsck", "--no-progress")
    assert not [p.name for p in (folder / ".git" / "objects" / "pack").iterdir() if "tmp" in p.name]
    assert leftovers(student.home) == []
    assert not [e.name for e in student.home.iterdir() if e.name.startswith("hw1_backup_")]
    # The Hub: the student's server still runs, and the delivery's token is gone.
    assert student.server().get("ready")
    eventually(lambda: not delivery_tokens_of(hub, student.name), "the token is revoked", 30)

    # The server is back: the instructor retries the failed one, then distributes again.
    daemon.stall.unlink()
    daemon.start()
    retry = distribute(hw1, who=None, retry_failed=True).id
    db.session.commit()
    assert set(deliveries(retry)) == {student.name}
    done = run(server_app, retry)[student.name]
    assert (done.state, done.commit) == ("done", v2), (done.state, done.error)
    again = run(server_app, distribute(hw1, who=None).id)[student.name]
    assert (again.state, again.outcome) == ("done", "unchanged"), (again.state, again.error)
    courses = {name: text.encode() for name, text in V2.items()}
    assert tree_bytes(folder) == {**files, **courses, "data/big.bin": big}
    repo_git(folder, "merge-base", "--is-ancestor", head.strip(), "HEAD")  # their commit kept
    repo_git(folder, "fsck", "--no-progress")
    assert deliveries_done(student.name, v2) == 1
    assert leftovers(student.home) == []
