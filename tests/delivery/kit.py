"""Helpers for the delivery tests: courses, assignments and homes made directly, worker loops
run in threads, and waiting for a condition with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app import delivery
from app.assignments.models import Assignment
from app.courses.models import Course
from app.delivery.models import Delivery
from app.extensions import db
from app.jobs import Registry, Worker
from app.roster.models import Enrollment
from tests.conftest import REPO
from tests.gitsync.conftest import Student, Upstream


def with_delivery_only(app: Flask) -> Registry:
    """Give the app's workers the delivery queue and its poll, and nothing else."""
    app.extensions["hubclass.jobs"] = Registry()
    delivery.init_app(app)
    return app.extensions["hubclass.jobs"]


def course_with(slug: str, names: list[str], sections: dict[str, str] | None = None) -> Course:
    """A course whose active students are `names` (sections by name, "; "-joined if several)."""
    course = Course(slug=slug, title=slug, hub_group=f"course-{slug}")
    db.session.add(course)
    db.session.add_all(
        Enrollment(course=course, username=name, section=(sections or {}).get(name))
        for name in names
    )
    db.session.commit()
    return course


def assignment_of(course: Course, upstream: Upstream, **fields) -> Assignment:
    values = {"slug": "hw1", "title": "Homework 1", "target": "hw1", "depth": 1, **fields}
    values.setdefault("repo_url", upstream.url)
    assignment = Assignment(course=course, **values)
    db.session.add(assignment)
    db.session.commit()
    return assignment


def assignment_for(slug: str, upstream: Upstream, students: list[Student], **fields) -> Assignment:
    """An assignment of a new course whose active students are `students`."""
    return assignment_of(course_with(slug, [s.name for s in students]), upstream, **fields)


def make_homes(homes: Path, students: list[Student]) -> None:
    for student in students:
        make_home(homes, student)


def make_home(homes: Path, student: Student) -> Path:
    """The student's home, as the Hub's spawner makes it at their first login."""
    home = homes / student.name
    home.mkdir(mode=0o750)
    os.chown(home, student.uid, student.gid)
    return home


def states(distribution_id: int) -> Counter[str]:
    """How many of the distribution's deliveries are in each state, as committed now."""
    rows = db.session.scalars(
        select(Delivery.state).where(Delivery.distribution_id == distribution_id)
    ).all()
    db.session.commit()
    return Counter(rows)


def settled(distribution_id: int) -> bool:
    """None of the distribution's deliveries is queued or running."""
    now = states(distribution_id)
    return not (now["queued"] or now["claimed"])


def eventually(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait until `condition()` is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


@contextmanager
def workers(app: Flask, count: int = 2) -> Iterator[list[Worker]]:
    """Run `count` worker loops of the app in threads, as `HUBCLASS_WORKERS` would."""
    loops = [Worker(app, f"test-w{index}") for index in range(count)]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        yield loops
    finally:
        for loop in loops:
            loop.halt()
        for thread in threads:
            thread.join(60)


def owners(folder: Path) -> set[int]:
    """The uids owning `folder` and everything in it (.git included)."""
    found = {os.lstat(folder).st_uid}
    for root, dirs, files in os.walk(folder):
        found |= {os.lstat(Path(root) / name).st_uid for name in dirs + files}
    return found


def leftovers(home: Path) -> list[str]:
    """Temporary folders a killed sync could have left beside the workspace."""
    return [entry.name for entry in home.iterdir() if ".hubclass-tmp-" in entry.name]


def worker_process(env: dict[str, str]) -> subprocess.Popen:
    """`flask --app wsgi worker`, as the admin runs it beside the web process."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, real uid) of every process now."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue  # it ended meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        yield int(entry.name), int(fields["PPid"]), int(fields["Uid"].split()[0])


def as_students(uids: set[int]) -> list[int]:
    """The processes running as one of the students: syncs and their git."""
    return [pid for pid, _, uid in processes() if uid in uids]


def delivered_once(home: Path, uid: int, commit: str, target: str = "hw1") -> None:
    """Assert that one clone of `commit` made the student's folder and nothing changed it
    since: no temporary folder, no copy moved aside, theirs, clean, one entry in HEAD's log."""
    from tests.gitsync.conftest import repo_git

    assert leftovers(home) == []
    folder = home / target
    assert not [e.name for e in home.iterdir() if e.name.startswith(f"{target}_backup_")]
    assert owners(folder) == {uid}
    assert repo_git(folder, "rev-parse", "HEAD").strip() == commit
    # (--no-optional-locks: a plain status would refresh the index, as root.)
    assert repo_git(folder, "--no-optional-locks", "status", "--porcelain") == ""
    assert len(repo_git(folder, "reflog", "--format=%gs").splitlines()) == 1
