"""Who may write into homes (issue 10 item 5): the web process as an unprivileged service
account, and `flask --app wsgi worker` as the only root process, sharing one data dir.

Real processes only: gunicorn started as a real account made with useradd, and a root worker
subprocess, on SQLite and on PostgreSQL. The root service (the other shape) is the rest of
tests/delivery: every test there runs as root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from app.delivery import distribute
from app.delivery.models import Delivery
from app.delivery.ways import NEEDS_ROOT
from app.extensions import db
from app.jobs.models import Lease
from demo.launch import free_port, python_for_everyone
from tests.conftest import REPO, _migrated, real_hub_env
from tests.delivery.kit import assignment_for, eventually, make_homes, owners, states
from tests.gitsync.conftest import Student, Upstream, _make_user, _remove_user, repo_git
from tests.hubusers import api

pytestmark = [pytest.mark.hub, pytest.mark.root]


@pytest.fixture
def service_account() -> Iterator[Student]:
    """The account the web process runs as (`hubclass` in docs/deploy.md)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create real users")
    account = _make_user("hcsvc")
    try:
        yield account
    finally:
        _remove_user(account)


def _as(account: Student, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    """Start this venv's Python as `account`, with its groups cleared, in the repository."""
    python, extra = python_for_everyone()
    kwargs.setdefault("stderr", subprocess.STDOUT if "stdout" in kwargs else None)
    return subprocess.Popen(
        [*python, *args], cwd=REPO, env={**env, **extra}, **account.as_me(), **kwargs
    )


def _flask_as(account: Student, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    proc = _as(account, ["-m", "flask", "--app", "wsgi", *args], env, stdout=-1, stderr=-1)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _lease_seen(name: str, seen: set) -> set:
    """Add the lease `name`'s expiry time as committed now to `seen` (each pass renews it)."""
    db.session.remove()
    seen.update(db.session.scalars(select(Lease.expires_at).where(Lease.name == name)))
    return seen


def test_an_unprivileged_web_leaves_deliveries_queued_for_the_root_worker_sharing_its_data_dir(
    hub,
    base_dir: Path,
    homes: Path,
    tmp_path: Path,
    make_students,
    service_account,
    shared_database,
):
    svc = service_account
    # The service account's own folders: its data dir (0700) and, as it would fetch from
    # GitHub, a course repository it can read (git refuses a repository owned by another).
    data = base_dir / f"data-{tmp_path.name}"
    data.mkdir(mode=0o700)
    os.chown(data, svc.uid, svc.gid)
    upstream = Upstream(base_dir / f"course-{tmp_path.name}")
    upstream.commit({"README.md": "# Homework 1\n", "week1/notes.ipynb": "1\n"}, "first")
    subprocess.run(["chown", "-R", f"{svc.uid}:{svc.gid}", upstream.bare.parent], check=True)
    students = make_students(2)
    make_homes(homes, students)
    env = {
        "PATH": os.environ["PATH"],
        **real_hub_env(hub, data),
        "HUBCLASS_SERVICE_USER": svc.name,
        # As docs/deploy.md says for this shape: the web must not deliver through servers.
        "HUBCLASS_DELIVERY": "home",
        "HUBCLASS_HOME_TEMPLATE": f"{homes}/{{username}}",
        "HUBCLASS_ALLOWED_REPO_URLS": "file://",
        "HUBCLASS_POLL_SECONDS": "0.2",
        **shared_database,
    }

    # Root (this test, as an admin's `flask db upgrade`) makes the database and the session
    # key first: both must be the service account's, or the web could not start.
    with contextmanager(_migrated)(env), (tmp_path / "web.log").open("wb") as web_log:
        hw1 = assignment_for("shapes", upstream, students)
        first = distribute(hw1, who=None).id
        db.session.commit()
        port = free_port()
        gunicorn = ["-m", "gunicorn", "-c", "python:app.gunicorn_conf", "--workers", "1"]
        bind = ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"]
        web = _as(svc, [*gunicorn, *bind], {**env, "HUBCLASS_WORKERS": "1"}, stdout=web_log)
        worker = None
        try:
            eventually(lambda: _up(port), "the web process answers")
            # Its worker thread has ended a pass of its loop (the next one renewed the activity
            # poll's lease), and claimed nothing: it cannot become the students.
            seen: set = set()
            eventually(lambda: len(_lease_seen("activity-poll", seen)) >= 2, "the web's loop ran")
            assert states(first) == {"queued": 2}
            assert set(db.session.scalars(select(Delivery.attempts))) == {0}
            said = _flask_as(svc, env, "status", "shapes")
            assert said.returncode == 0 and NEEDS_ROOT in said.stderr, said.stderr
            status = api(hub).get(f"http://127.0.0.1:{port}/services/hubclass/api/v1/status")
            assert status.json()["elsewhere"] == {"deliveries": NEEDS_ROOT}  # the status page's

            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            eventually(lambda: states(first) == {"done": 2}, "the root worker delivered")
            for student in students:
                assert owners(homes / student.name / "hw1") == {student.uid}

            # The web's side reads the mirror the root worker fetched (for those behind) and
            # writes the database root holds open.
            latest = _flask_as(svc, env, "distribute", "shapes", "hw1", "--only-behind")
            assert latest.returncode == 1 and "has the latest commit" in latest.stderr
            released = _release_as(svc, upstream, {"week1/notes.ipynb": "1\n2\n"})
            behind = _flask_as(svc, env, "distribute", "shapes", "hw1", "--only-behind", "--json")
            assert behind.returncode == 0 and NEEDS_ROOT in behind.stderr, behind.stderr
            again = json.loads(behind.stdout)["distribution"]
            eventually(lambda: states(again) == {"done": 2}, "the root worker sent the update")
            for student in students:
                head = repo_git(homes / student.name / "hw1", "rev-parse", "HEAD").strip()
                assert head == released

            # A reset asked for by the web's side: the root worker finds the commit in the
            # mirror as the service account, and puts the course's file back as the student.
            notes = homes / students[0].name / "hw1" / "week1" / "notes.ipynb"
            students[0].run("sh", "-c", f"echo mine > {notes}")
            asked = _flask_as(
                svc, env, "reset", "shapes", "hw1", students[0].name, "--path", "week1", "--json"
            )
            assert asked.returncode == 0, asked.stderr
            reset = json.loads(asked.stdout)["distribution"]
            eventually(lambda: states(reset) == {"done": 1}, "the root worker reset it")
            assert notes.read_text() == "1\n2\n"
            assert _up(port)
        finally:
            if worker is not None:
                _stop(worker)
            _stop(web)

    # Nothing in the data dir is root's: the database and SQLite's -wal and -shm, the key,
    # every mirror file the root worker's fetches made.
    found = {os.lstat(Path(top) / name).st_uid for top, dirs, files in os.walk(data)
             for name in dirs + files}  # fmt: skip
    assert found == {svc.uid}
    assert os.lstat(data).st_uid == svc.uid
    assert (data / "mirrors").is_dir()
    logged = (tmp_path / "web.log").read_text(errors="replace")
    for trouble in ("readonly database", "Permission denied", "unable to open", "is locked"):
        assert trouble not in logged


def _release_as(account: Student, upstream: Upstream, files: dict[str, str]) -> str:
    """The instructor's next release, pushed by the account that owns the repository."""
    upstream.write(files)
    account.run("git", "-C", upstream.work, "commit", "-qam", "next release")
    account.run("git", "-C", upstream.work, "push", "-q", "origin", "HEAD:main")
    return repo_git(upstream.bare, "rev-parse", "HEAD").strip()


def _up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/services/hubclass/health", timeout=2).ok
    except requests.ConnectionError:
        return False
