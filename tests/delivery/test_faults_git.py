"""The course's git server dying in the middle of the mirror's fetch (SECURITY.md fault 6): a
real `git daemon`, killed (SIGKILL, with its upload-pack) while it sends the pack. Every
delivery of that distribution fails saying the repository could not be fetched; the mirror
keeps its commit and passes `git fsck`; the students' files stay byte for byte; once the
server is back, a retry of the failed ones and a distribution again converge, each student
getting the new version once, no temporary folder left. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.delivery import distribute
from app.delivery.service import mirrors_dir, said
from app.extensions import db
from tests.gitsync.conftest import Upstream, repo_git, tree_bytes

from .kit import eventually, leftovers, make_home, settled, states, workers
from .test_faults_homes import V2, deliveries_done, given_and_edited, retry_then_again, rows_of

pytestmark = pytest.mark.root

# git's pack-objects hook (from the daemon's global config): while `stall` exists, send the
# first bytes of the pack, say so in `sent`, then hang (the server dies there).
HOOK = """#!/bin/sh
if [ -e {stall} ]; then
    "$@" | {{ head -c 4096; touch {sent}; sleep 600; }}
else
    exec "$@"
fi
"""


class GitDaemon:
    """`git daemon` serving the upstream's folder on a free loopback port; `hook_text` (git's
    pack-objects hook, formatted with the `stall` and `sent` files) decides how it sends."""

    def __init__(self, root: Path, upstream: Upstream, hook_text: str = HOOK) -> None:
        self.root, self.upstream = root, upstream
        self.stall, self.sent = root / "stall", root / "sent"
        hook = root / "pack-hook"
        hook.write_text(hook_text.format(stall=self.stall, sent=self.sent))
        hook.chmod(0o755)
        (root / ".gitconfig").write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}/{self.upstream.bare.name}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.upstream.bare.parent}",
                str(self.upstream.bare.parent),
            ],
            env={"PATH": os.environ["PATH"], "HOME": str(self.root)},
            start_new_session=True,  # its upload-packs and the hook share its process group
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self._listening, "git daemon listens", 30)

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        """SIGKILL the daemon and everything it started, at once."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
            self.process = None


def serving(tmp_path: Path, upstream: Upstream, hook_text: str = HOOK) -> Iterator[GitDaemon]:
    """A fixture's body: a running GitDaemon with the hook, let go and killed after."""
    root = tmp_path / "daemon"
    root.mkdir()
    server = GitDaemon(root, upstream, hook_text)
    server.start()
    try:
        yield server
    finally:
        server.stall.unlink(missing_ok=True)  # a git still held by the hook goes on, then ends
        server.kill()


@pytest.fixture
def daemon(tmp_path: Path, upstream: Upstream) -> Iterator[GitDaemon]:
    yield from serving(tmp_path, upstream)


@contextmanager
def run_in_background(app, distribution_id: int) -> Iterator[None]:
    """Workers run the distribution while the body does its harm, then to its end."""
    with workers(app, 2):
        yield
        eventually(lambda: settled(distribution_id), "the deliveries ran", 120)


def version_2_stalled(upstream: Upstream, daemon: GitDaemon, assignment) -> tuple[bytes, str, int]:
    """The course's version 2 (with a big file), the server set to stall its pack, and a
    distribution of it: (the big file, the commit, the distribution's id)."""
    big = os.urandom(300_000)  # a pack of many chunks: the server dies part-way through it
    v2 = upstream.commit({**V2, "data/big.bin": big}, "version 2")
    daemon.stall.touch()
    distribution_id = distribute(assignment, who=None).id
    db.session.commit()
    return big, v2, distribution_id


def mirrors() -> list[Path]:
    return [path for path in mirrors_dir().rglob("*") if (path / "HEAD").is_file()]


def test_the_git_server_killed_mid_fetch_fails_the_distribution_cleanly_and_a_retry_converges(
    any_db_delivery_app, homes, make_students, upstream, daemon
):
    app = any_db_delivery_app
    app.config["HUBCLASS_ALLOWED_REPO_URLS"] = [f"git://127.0.0.1:{daemon.port}/"]
    students = make_students(2)
    for student in students:
        make_home(homes, student)
    hw1, files, heads = given_and_edited(app, students, homes, upstream, repo_url=daemon.url)
    (mirror,) = mirrors()
    mirrored = repo_git(mirror, "rev-parse", "refs/heads/main")
    big, v2, second = version_2_stalled(upstream, daemon, hw1)
    with run_in_background(app, second):
        eventually(daemon.sent.exists, "the server is sending the pack", 60)
        time.sleep(0.2)  # the first bytes reach the mirror's fetch
        daemon.kill()
    rows = rows_of(second)
    assert states(second) == {"failed": 2}, {u: r.error for u, r in rows.items()}
    for student in students:
        assert said(rows[student.name]) == "failed: Fetching the repository failed"
        assert "early EOF" in rows[student.name].error  # git's words: the pack was cut short
        folder = homes / student.name / "hw1"
        assert tree_bytes(folder) == files[student.name]
        assert repo_git(folder, "rev-parse", "HEAD") == heads[student.name]
        assert leftovers(homes / student.name) == []
    # The mirror keeps what it had, sound, with no half-received pack.
    assert repo_git(mirror, "rev-parse", "refs/heads/main") == mirrored
    repo_git(mirror, "fsck", "--no-progress")
    assert not [p.name for p in (mirror / "objects" / "pack").iterdir() if "tmp" in p.name]

    # The server is back (not stalling): the instructor retries the failed ones.
    daemon.stall.unlink()
    daemon.start()
    retry_then_again(app, hw1, {s.name for s in students}, len(students))
    assert repo_git(mirror, "rev-parse", "refs/heads/main").strip() == v2
    for student in students:
        folder = homes / student.name / "hw1"
        assert tree_bytes(folder) == {
            **files[student.name],
            **{name: text.encode() for name, text in V2.items()},
            "data/big.bin": big,
        }
        assert deliveries_done(student.name, v2) == 1
        assert leftovers(homes / student.name) == []
