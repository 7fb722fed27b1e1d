"""Distribution through the whole job system, against the engine alone and naive baselines.

    sudo .venv/bin/python bench/distribute.py [--students 500] [--course-students 200]
        [--workers 1] [--concurrency 4] [--rounds 1] [--database sqlite|postgresql]
        [--sqlite-synchronous NORMAL]   # a what-if for the service's SQLite; 0 course students
                                        # skips part 2

Everything is real: N system users (``hcbd<tag>...``, made with useradd and removed at the end,
also on failure or Ctrl-C), each owning a home under a scratch folder
(``HUBCLASS_HOME_TEMPLATE``); a generated course repository (~300 files: notebooks with embedded
figures, images, data, scripts; ~7 MB; 15 commits) served by ``git daemon`` on 127.0.0.1; a real
JupyterHub (the instructor's sign-in is checked with it); the app on SQLite (or PostgreSQL from
tests/pgserver.py) with ``--workers`` job-system worker loops (app/jobs ``Worker``, as
``HUBCLASS_WORKERS`` threads run them in a web process), each running
``HUBCLASS_DELIVERY_CONCURRENCY`` deliveries at once, every sync as the home's owner through the
fork server.

Part 1, N students (goal: issue 10). In the same run, for a first distribution and for a
re-distribution after a one-file change:
  engine: the same syncs (same mirror, same commit, a folder of their own in the same homes)
          run directly through ``app.gitsync.sync(owner=uid)`` by P = workers x concurrency
          threads; E = the sum of the N syncs' own durations;
  jobs:   ``distribute()`` of the assignment to the course, then the workers; W = from just
          before ``distribute()`` until the last delivery's result is recorded (the claim
          polls, the mirror refresh, the home checks, leases and records all inside).
  overhead per delivery = (W x P - E) / N: the worker-slot time the job system spends per
  delivery beyond the engine's own time for it (idle slots while a batch waits for its
  slowest sync count as overhead too). Goal < 20 ms for both.
While the job system runs, another thread requests the assignment page and
GET /api/v1/distributions/<id> with the Flask test client, as an instructor's open page polls
(one request every --poll-interval seconds, alternating): goal median < 200 ms each. The memory
of the service and its workers (this process, its fork server and every process below it; the
Hub and git daemon excluded) is sampled from /proc as the sum of PSS (shared pages counted
once): goal peak < 250 MB.

Part 2, the first M students (a second course), first distribution of the course repository
through the job system (best of --rounds, each a new assignment and folder), against
  (b) a naive sequential ``git clone`` per student from the daemon, as the student: goal >= 10x
      faster;
  (c) ``cp -a`` of a finished checkout into each home (sequential): goal within 1.3x;
and a re-distribution after a one-file change against ``git status`` in each folder, as its
owner (sequential): goal within 3x. Needs root (it creates users).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import pwd
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, url_for
from flask_migrate import upgrade
from sqlalchemy import event, func, select

from app import create_app, delivery
from app.assignments.models import Assignment
from app.config import from_env
from app.courses.models import Course
from app.delivery import service
from app.delivery.models import Delivery
from app.extensions import db
from app.gitsync import ensure_mirror, start_fork_server, stop_fork_server, sync
from app.jobs import Registry, Worker
from app.roster.models import Enrollment
from app.timeutil import utcnow
from bench.sync import WORDS, as_user, run, start_daemon, timed
from demo.launch import start_hub

INSTRUCTOR = "instructor"  # in the demo Hub's instructors group
GOAL_OVERHEAD_MS, GOAL_LATENCY_MS, GOAL_MEMORY_MB = 20, 200, 250
GOAL_NAIVE, GOAL_FLOOR, GOAL_STATUS = 10, 1.3, 3


# -- the course repository ------------------------------------------------------------------------


def figure(rng: random.Random) -> str:
    """A plot embedded in a notebook's output, as Jupyter saves it (base64 PNG)."""
    return base64.b64encode(rng.randbytes(rng.randint(8_000, 30_000))).decode()


def lesson(rng: random.Random, week: int, index: int, figures: int) -> str:
    cells = []
    for cell in range(40):
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        if cell % 3:
            cells.append({"cell_type": "markdown", "metadata": {}, "source": [words]})
            continue
        outputs = []
        if figures and cell % 9 == 0:
            figures -= 1
            outputs.append(
                {
                    "output_type": "display_data",
                    "data": {"image/png": figure(rng), "text/plain": ["<Figure>"]},
                    "metadata": {},
                }
            )
        cells.append(
            {
                "cell_type": "code",
                "execution_count": cell,
                "metadata": {},
                "outputs": outputs,
                "source": [f"# week {week}, lesson {index}, cell {cell}\n", f"x = {words!r}\n"],
            }
        )
    return json.dumps(
        {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1
    )


def week_files(rng: random.Random, week: int) -> dict[str, str | bytes]:
    """One week of a course: lectures (some with figures), exercises, data, images, a helper."""
    folder = f"week{week:02d}"
    files: dict[str, str | bytes] = {
        f"{folder}/README.md": f"# Week {week}\n\nRead the lectures.\n"
    }
    for index in range(3):
        files[f"{folder}/lecture{index + 1}.ipynb"] = lesson(rng, week, index, figures=2)
    for index in range(2):
        files[f"{folder}/exercise{index + 1}.ipynb"] = lesson(rng, week, 10 + index, figures=0)
    for index in range(5):
        rows = "\n".join(f"{i},{rng.random():.6f},{rng.choice(WORDS)}" for i in range(200))
        files[f"{folder}/data/sample{index}.csv"] = f"id,value,label\n{rows}\n"
    for index in range(4):
        files[f"{folder}/images/figure{index}.png"] = rng.randbytes(rng.randint(40_000, 110_000))
    for index in range(8):
        body = "\n".join(f"    return {rng.choice(WORDS)!r}  # {i}" for i in range(20))
        files[f"{folder}/src/helper{index}.py"] = f"def helper{index}():\n{body}\n"
    return files


def make_course(root: Path, weeks: int) -> tuple[Path, int, int]:
    """A course repository with history: a skeleton, then one commit per week and two fixes.

    Returns (the instructor's working copy, files, bytes)."""
    rng = random.Random(10)
    work = root / "instructor"
    bare = root / "served" / "course.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", bare)
    run("git", "init", "--quiet", "--initial-branch=main", work)
    run("git", "-C", work, "remote", "add", "origin", bare)
    skeleton = {
        "README.md": "# Data science 101\n\nOne folder a week.\n",
        "requirements.txt": "numpy\npandas\nmatplotlib\n",
        "LICENSE": "CC-BY-4.0\n" * 20,
        ".gitignore": ".ipynb_checkpoints/\n__pycache__/\n",
    }
    commits = [skeleton] + [week_files(rng, week) for week in range(1, weeks + 1)]
    commits.append({"week01/lecture2.ipynb": lesson(rng, 1, 1, figures=2)})  # fixes
    commits.append({"week01/exercise1.ipynb": lesson(rng, 1, 10, figures=0)})
    for number, files in enumerate(commits):
        for rel, data in files.items():
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode() if isinstance(data, str) else data)
        run("git", "-C", work, "add", "--all")
        run("git", "-C", work, "commit", "--quiet", "-m", f"course, step {number}")
    run("git", "-C", work, "push", "--quiet", "origin", "HEAD:main")
    tracked = run("git", "-C", work, "ls-files").split()
    size = sum((work / rel).stat().st_size for rel in tracked)
    return work, len(tracked), size


def change_one_file(work: Path, take: int) -> None:
    """The instructor fixes one notebook and pushes: what a re-distribution brings."""
    lecture = work / "week01" / "lecture1.ipynb"
    lecture.write_text(lecture.read_text() + " " * (take + 1))
    run("git", "-C", work, "commit", "--quiet", "-am", f"fix week 1, take {take}")
    run("git", "-C", work, "push", "--quiet", "origin", "HEAD:main")
    time.sleep(1)  # as between real distributions: no file is as new as the index


# -- students -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    name: str
    uid: int
    gid: int
    home: Path


def make_students(count: int, homes: Path, made: list[Student]) -> None:
    """Real users owning real homes; each is appended to `made` at once, so all get removed."""
    prefix = f"hcbd{os.urandom(2).hex()}"
    for index in range(count):
        name = f"{prefix}{index:04d}"
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
            check=True,
        )
        entry = pwd.getpwnam(name)
        home = homes / name
        made.append(Student(name, entry.pw_uid, entry.pw_gid, home))
        home.mkdir(mode=0o750)
        os.chown(home, entry.pw_uid, entry.pw_gid)


def remove_students(students: list[Student]) -> None:
    left = []
    for student in students:
        done = subprocess.run(["userdel", student.name], check=False, capture_output=True)
        if done.returncode != 0:
            left.append(student.name)
    if left:
        print(f"WARNING: could not remove {len(left)} users: {' '.join(left)}", file=sys.stderr)


# -- measuring ------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler:
    """The service's memory: PSS of this process and all below it, minus `excluded` subtrees."""

    def __init__(self, excluded: set[int], every: float = 0.2) -> None:
        self.excluded = excluded
        self.every = every
        self.peak_kb = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        tree = _children()
        pids, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo.extend(child for child in tree.get(pid, []) if child not in self.excluded)
        total = sum(_pss_kb(pid) for pid in pids)
        if total > self.peak_kb:
            self.peak_kb, self.peak_processes = total, len(pids)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    @contextmanager
    def running(self) -> Iterator[None]:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()


@dataclass
class Latencies:
    page: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)


class PagePoller:
    """An instructor's open assignment page: the page and the progress API, in turn."""

    def __init__(self, app: Flask, page_url: str, every: float) -> None:
        self.client = app.test_client()
        with self.client.session_transaction() as session:
            session["username"] = INSTRUCTOR
        self.page_url = page_url
        self.every = every
        self.seen = Latencies()
        self._stop = threading.Event()

    def timed_get(self, url: str, into: list[float]) -> dict | None:
        started = time.perf_counter()
        response = self.client.get(url)
        into.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        return response.get_json(silent=True)

    @contextmanager
    def polling(self, distribution_id: int, total: int) -> Iterator[Latencies]:
        api_url = service_url(
            self.client.application,
            "delivery_api.distribution_detail",
            distribution_id=distribution_id,
        )
        seen = Latencies()
        failure: list[BaseException] = []

        def loop() -> None:
            try:
                while not self._stop.wait(self.every):
                    self.timed_get(self.page_url, seen.page)
                    if self._stop.wait(self.every):
                        break
                    progress = self.timed_get(api_url, seen.api)
                    assert progress and progress["total"] == total, progress
            except BaseException as exc:  # reported in the main thread
                failure.append(exc)

        self._stop.clear()
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            self._stop.set()
            thread.join()
        if failure:
            raise failure[0]
        self.seen.page += seen.page
        self.seen.api += seen.api


# -- the service ----------------------------------------------------------------------------------


@dataclass
class Service:
    app: Flask
    url: str
    students: list[Student]
    parallel: int
    loops: list[Worker] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start_workers(self, count: int) -> None:
        """The job system's worker loops, as HUBCLASS_WORKERS threads of a web process."""
        for index in range(count):
            loop = Worker(self.app, f"bench-w{index}")
            thread = threading.Thread(target=loop.run, name=f"bench-w{index}", daemon=True)
            thread.start()
            self.loops.append(loop)
            self.threads.append(thread)

    def stop_workers(self) -> None:
        for loop in self.loops:
            loop.halt()
        for thread in self.threads:
            thread.join(120)

    def course(self, slug: str, students: list[Student]) -> Course:
        course = Course(slug=slug, title=slug, hub_group=f"course-{slug}", created_by=INSTRUCTOR)
        db.session.add(course)
        db.session.add_all(Enrollment(course=course, username=s.name) for s in students)
        db.session.commit()
        return course

    def assignment(self, course: Course, slug: str) -> Assignment:
        found = Assignment(
            course=course, slug=slug, title=slug, repo_url=self.url, target=slug, depth=1
        )
        db.session.add(found)
        db.session.commit()
        return found

    def distribute(self, assignment: Assignment) -> tuple[int, datetime]:
        """Queue the assignment for its whole course; return the distribution and its start."""
        started = utcnow()
        distribution = service.distribute(assignment, who=None)
        db.session.commit()
        return distribution.id, started

    def wait(self, distribution_id: int, started: datetime, outcome: str) -> JobRun:
        """Wait until none of the deliveries is queued or running; check every one ended so."""
        while service.unfinished(distribution_id):
            db.session.commit()
            time.sleep(0.05)
        db.session.commit()
        rows = db.session.execute(
            select(Delivery.state, Delivery.outcome, func.count())
            .where(Delivery.distribution_id == distribution_id)
            .group_by(Delivery.state, Delivery.outcome)
        ).all()
        assert [(state, got) for state, got, _ in rows] == [("done", outcome)], rows
        first, last, inside = db.session.execute(
            select(
                func.min(Delivery.started_at),
                func.max(Delivery.finished_at),
                func.count(),
            ).where(Delivery.distribution_id == distribution_id)
        ).one()
        times = db.session.execute(
            select(Delivery.started_at, Delivery.finished_at).where(
                Delivery.distribution_id == distribution_id
            )
        ).all()
        db.session.commit()
        busy = sum((end - begin).total_seconds() for begin, end in times)
        return JobRun(
            wall=(last - started).total_seconds(),
            pickup=(first - started).total_seconds(),
            busy=busy,
            count=inside,
        )


@dataclass(frozen=True)
class JobRun:
    wall: float  # distribute() until the last result was recorded
    pickup: float  # distribute() until the first delivery started
    busy: float  # the sum of each delivery's started -> finished (inside the worker)
    count: int


@dataclass(frozen=True)
class EngineRun:
    wall: float
    total: float  # E: the sum of each sync's own duration


def engine_round(svc: Service, students: list[Student], target: str, outcome: str) -> EngineRun:
    """The same syncs straight through the engine, as the job system would run them."""
    with svc.app.app_context():
        mirror = ensure_mirror(svc.url, "main", service.mirrors_dir(), timeout=300)
        prefixes = list(svc.app.config["HUBCLASS_ALLOWED_REPO_URLS"])

    def one(student: Student) -> float:
        started = time.perf_counter()
        report = sync(
            svc.url,
            student.home / target,
            branch="main",
            mirror=mirror,
            owner=student.uid,
            allowed_prefixes=prefixes,
            timeout=300,
        )
        assert report.outcome == outcome, report.to_json()
        return time.perf_counter() - started

    os.sync()
    started = time.perf_counter()
    with ThreadPoolExecutor(svc.parallel) as pool:
        durations = list(pool.map(one, students))
    return EngineRun(time.perf_counter() - started, sum(durations))


def jobs_round(
    svc: Service,
    assignment: Assignment,
    outcome: str,
    poller: PagePoller | None = None,
    sampler: MemorySampler | None = None,
) -> JobRun:
    os.sync()
    distribution_id, started = svc.distribute(assignment)
    total = len(svc.students) if poller else 0
    with (
        poller.polling(distribution_id, total) if poller else _nothing(),
        sampler.running() if sampler else _nothing(),
    ):
        return svc.wait(distribution_id, started, outcome)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def overhead_ms(jobs: JobRun, engine: EngineRun, parallel: int, count: int) -> float:
    return (jobs.wall * parallel - engine.total) / count * 1000


def say_jobs(label: str, jobs: JobRun, engine: EngineRun, parallel: int, count: int) -> float:
    overhead = overhead_ms(jobs, engine, parallel, count)
    print(
        f"  {label:<44} engine {engine.wall:7.2f} s wall, E {engine.total:7.2f} s | "
        f"jobs {jobs.wall:7.2f} s wall (first picked up after {jobs.pickup:4.2f} s, "
        f"in deliveries {jobs.busy:7.2f} s) -> {overhead:6.1f} ms",
        flush=True,
    )
    return overhead


# -- the run --------------------------------------------------------------------------------------


def part_one(svc: Service, work: Path, poller: PagePoller, sampler: MemorySampler) -> list[float]:
    students, parallel = svc.students, svc.parallel
    with svc.app.app_context():
        assignment = svc.assignment(svc.course("bench-all", students), "course")
        overheads = []
        engine = engine_round(svc, students, "engine", "cloned")
        jobs = jobs_round(svc, assignment, "cloned", poller, sampler)
        overheads.append(say_jobs("first distribution", jobs, engine, parallel, len(students)))
        change_one_file(work, 0)
        engine = engine_round(svc, students, "engine", "updated")
        jobs = jobs_round(svc, assignment, "updated", poller, sampler)
        overheads.append(say_jobs("re-distribution, one file changed", jobs, engine, parallel,
                                  len(students)))  # fmt: skip
    return overheads


@dataclass
class PartTwo:
    first: float
    floor: float
    naive: float
    again: float
    status: float


def part_two(
    svc: Service, work: Path, students: list[Student], rounds: int, naive: bool
) -> PartTwo:
    root = work.parent
    url = svc.url
    result = PartTwo(float("inf"), float("inf"), float("nan"), float("inf"), float("inf"))
    with svc.app.app_context():
        course = svc.course("bench-first", students)
        assignments = [svc.assignment(course, f"first{r}") for r in range(rounds)]
        if naive:
            result.naive = timed(
                "(b) naive: git clone per student, as the student (sequential)",
                lambda: [
                    run("git", "clone", "--quiet", "--", url, s.home / "naive",
                        **as_user(s.uid, s.gid))
                    for s in students
                ],
            )  # fmt: skip
        checkout = root / "checkout"
        run("git", "clone", "--quiet", "--depth=1", "--", url, checkout)
        # The machine may be shared: each pair is measured --rounds times, interleaved, and the
        # best time of each kept (the least disturbed).
        for r, assignment in enumerate(assignments):
            result.floor = min(
                result.floor,
                timed(
                    "(c) cp -a of a finished checkout per student (sequential)",
                    lambda r=r: [run("cp", "-a", checkout, s.home / f"copy{r}") for s in students],
                ),
            )
            run_ = jobs_round(svc, assignment, "cloned")
            print(f"  {'(a) job system: first distribution':<58} {run_.wall:8.2f} s", flush=True)
            result.first = min(result.first, run_.wall)
        for r in range(rounds):
            change_one_file(work, 10 + r)
            run_ = jobs_round(svc, assignments[0], "updated")
            print(f"  {'(d) job system: re-distribution, one file changed':<58} {run_.wall:8.2f} s")
            result.again = min(result.again, run_.wall)
            result.status = min(
                result.status,
                timed(
                    "    git status in each folder, as its owner (sequential)",
                    lambda: [
                        run("git", "-C", s.home / "first0", "status", "--porcelain",
                            **as_user(s.uid, s.gid))
                        for s in students
                    ],
                ),
            )  # fmt: skip
    return result


def service_url(app: Flask, endpoint: str, **values: object) -> str:
    """The URL a browser asks for: under the service's prefix on the Hub."""
    with app.test_request_context():
        path = url_for(endpoint, **values)
    return app.config["HUB_SERVICE_PREFIX"].rstrip("/") + path


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def make_app(root: Path, hub, url: str, args: argparse.Namespace, database: str | None) -> Flask:
    env = {
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "HUBCLASS_DATA_DIR": str(root / "data"),
        "HUBCLASS_HOME_TEMPLATE": f"{root / 'homes'}/{{username}}",
        "HUBCLASS_ALLOWED_REPO_URLS": url.rsplit("/", 1)[0] + "/",
        "HUBCLASS_WORKERS": "0",  # the bench starts the worker loops itself, once set up
        "HUBCLASS_DELIVERY_CONCURRENCY": str(args.concurrency),
    }
    if database:
        env["HUBCLASS_DATABASE_URL"] = database
    app = create_app(from_env(env))
    logging.getLogger().setLevel(logging.WARNING)  # not one INFO line per sync
    # The Hub's users are not the students here: the activity poll is left out, deliveries only.
    app.extensions["hubclass.jobs"] = Registry()
    delivery.init_app(app)
    with app.app_context():
        upgrade()
        if args.sqlite_synchronous and db.engine.dialect.name == "sqlite":
            # A what-if, not the app's setting: SQLite's default (FULL) syncs the disk at every
            # commit; NORMAL in WAL mode syncs only at checkpoints.
            pragma = f"PRAGMA synchronous={args.sqlite_synchronous}"
            event.listen(db.engine, "connect", lambda conn, _: conn.execute(pragma))
            db.engine.dispose()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument(
        "--course-students", type=int, default=200, help="part 2's students (0: no part 2)"
    )
    parser.add_argument("--workers", type=int, default=1, help="job-system worker loops")
    parser.add_argument("--concurrency", type=int, default=4, help="deliveries per worker")
    parser.add_argument("--rounds", type=int, default=1, help="part 2: repeat, keep the best")
    parser.add_argument("--weeks", type=int, default=12, help="the course's size: 23 files a week")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("NORMAL", "FULL", "OFF"),
        help="a what-if: SQLite's synchronous pragma for the service (the app leaves SQLite's "
        "default, FULL)",
    )
    parser.add_argument("--skip-naive", action="store_true", help="skip (b), the slow one")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark creates test users")
    # SIGTERM ends the run like Ctrl-C does: through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="hcbench-distribute-"))
    root.chmod(0o755)
    (root / "homes").mkdir(mode=0o755)
    students: list[Student] = []
    daemon = hub = pg = svc = None
    begun = time.perf_counter()
    try:
        work, files, size = make_course(root, args.weeks)
        print(f"  course made in {time.perf_counter() - begun:.1f} s", flush=True)
        daemon, url = start_daemon(root / "served")
        hub = start_hub(root / "hub")
        print(f"  hub up at {time.perf_counter() - begun:.1f} s", flush=True)
        database = None
        if args.database == "postgresql":
            from tests.pgserver import PostgresServer

            pg = PostgresServer().start()
            database = pg.create_database("hubclass")
        app = make_app(root, hub, url, args, database)
        make_students(max(args.students, args.course_students), root / "homes", students)
        print(f"  students made at {time.perf_counter() - begun:.1f} s", flush=True)
        parallel = args.workers * args.concurrency
        svc = Service(app, url, students[: args.students], parallel)
        start_fork_server()
        svc.start_workers(args.workers)
        print(
            f"course: {files} files, {size / 1e6:.1f} MB, {args.weeks + 3} commits; "
            f"{args.students} + {args.course_students} students; {args.workers} worker(s) x "
            f"{args.concurrency} deliveries = {parallel} at once; {args.database}; "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        page_url = service_url(
            app, "assignments.assignment_detail", slug="bench-all", assignment="course"
        )
        poller = PagePoller(app, page_url, args.poll_interval)
        sampler = MemorySampler(
            excluded={daemon.pid, hub.process.pid} | ({pg.process.pid} if pg else set())
        )

        print(
            f"part 1: {args.students} students, overhead per delivery = (W x {parallel} - E) / N",
            flush=True,
        )
        overheads = part_one(svc, work, poller, sampler)
        two = None
        if args.course_students:
            print(f"part 2: {args.course_students} students, first distribution", flush=True)
            two = part_two(
                svc, work, students[: args.course_students], args.rounds, not args.skip_naive
            )
        svc.stop_workers()
        svc = None
    finally:
        if svc is not None:
            svc.stop_workers()
        stop_fork_server()
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
        if hub is not None:
            hub.stop()
        if pg is not None:
            pg.stop()
        remove_students(students)
        shutil.rmtree(root, ignore_errors=True)

    page, api = median_ms(poller.seen.page), median_ms(poller.seen.api)
    memory = sampler.peak_kb / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    worst = max(overheads)
    print(
        f"overhead per delivery:          first {overheads[0]:6.1f} ms, "
        f"again {overheads[1]:6.1f} ms"
        f"  (goal < {GOAL_OVERHEAD_MS} ms)"
    )
    print(
        f"assignment page while running:  median {page:6.1f} ms of {len(poller.seen.page)}"
        f"  (goal < {GOAL_LATENCY_MS} ms)"
    )
    print(
        f"progress API while running:     median {api:6.1f} ms of {len(poller.seen.api)}"
        f"  (goal < {GOAL_LATENCY_MS} ms)"
    )
    print(
        f"peak memory, service + workers: {memory:6.0f} MB PSS over {sampler.peak_processes} "
        f"processes (this process alone: {own:.0f} MB max RSS)  (goal < {GOAL_MEMORY_MB} MB)"
    )
    ok = (
        worst < GOAL_OVERHEAD_MS
        and page < GOAL_LATENCY_MS
        and api < GOAL_LATENCY_MS
        and memory < GOAL_MEMORY_MB
    )
    if two is not None:
        print(
            f"(b)/(a) naive clone vs first distribution: {two.naive / two.first:6.2f}x faster"
            f"  (goal >= {GOAL_NAIVE})"
        )
        print(
            f"(a)/(c) first distribution vs cp -a:        {two.first / two.floor:6.2f}x"
            f"        (goal <= {GOAL_FLOOR})"
        )
        print(
            f"(d) re-distribution vs git status:          {two.again / two.status:6.2f}x"
            f"        (goal <= {GOAL_STATUS})"
        )
        ok = (
            ok
            and (args.skip_naive or two.naive / two.first >= GOAL_NAIVE)
            and two.first / two.floor <= GOAL_FLOOR
            and two.again / two.status <= GOAL_STATUS
        )
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
