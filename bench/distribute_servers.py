"""Distribution through students' running servers, against a loop calling nbgitpuller in each.

    sudo .venv/bin/python bench/distribute_servers.py [--servers 40] [--concurrency 16]
        [--rounds 2] [--weeks 2]

Everything is real: a JupyterHub (demo/jupyterhub_config.py) with N users, each with a running
single-user server with nbgitpuller (SimpleLocalProcessSpawner, homes under the Hub's state
dir), reached through the Hub's proxy; a generated course repository (bench/distribute.py's
course: notebooks with figures, data, scripts; --weeks of it); the app on SQLite delivering
through servers only (HUBCLASS_DELIVERY=server, as on Kubernetes), with one job-system worker
loop running HUBCLASS_SERVER_CONCURRENCY deliveries at once.

Each round, into a new folder per student (a first delivery: nbgitpuller clones, depth 1):
  loop:     what a script around nbgitpuller would do: for each student in turn, GET
            /user/<name>/git-pull/api through the proxy (an admin's token) and read the event
            stream to its end; L = the whole loop;
  hubclass: ``distribute()`` to the course, then the worker loop; W = from just before
            ``distribute()`` until the last delivery's result is recorded (the Hub lookups,
            each delivery's token made, the mirror, the records all inside; its revocation is
            a thread's beside).
  speed-up = L / W: goal >= 4x (2 cores).
  bare:     the servers' own work at Hubclass's concurrency: the same calls, P at a time, with
            one admin token and nothing else; B = its wall time.
  own cost per delivery = (W - B) / N: what Hubclass adds to the servers' own work, per
            delivery: goal < 50 ms. Also printed: a delivery's own time in its worker slot
            (its time from start to recorded result minus its call into the server), which
            the other slots overlap.
Rounds alternate which runs first; the best of each is kept. Needs root (the Hub's servers run
as the Hub's user, as the demo's do).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from flask import Flask
from flask_migrate import upgrade
from requests.adapters import HTTPAdapter
from sqlalchemy import select

from app import create_app, delivery
from app.assignments.models import Assignment
from app.config import from_env
from app.courses.models import Course
from app.delivery import servers, service
from app.delivery.models import Delivery
from app.extensions import db
from app.jobs import Registry, Worker
from app.roster.models import Enrollment
from bench.distribute import make_course
from demo.launch import RunningHub, start_hub

GOAL_SPEEDUP, GOAL_OWN_MS = 4.0, 50.0
START_BATCH = 10  # servers asked to start at once (the Hub spawns them concurrently)


# -- the Hub and its servers ----------------------------------------------------------------------


def start_servers(hub: RunningHub, names: list[str]) -> None:
    """Make the users and start their servers, a batch at a time; wait until all are ready."""
    admin = hub.admin()
    r = admin.post(f"{hub.api_url}/users", json={"usernames": names})
    r.raise_for_status()
    for start in range(0, len(names), START_BATCH):
        batch = names[start : start + START_BATCH]
        for name in batch:
            admin.post(f"{hub.api_url}/users/{name}/server").raise_for_status()
        deadline = time.monotonic() + 180
        while not all(_ready(admin, hub, name) for name in batch):
            if time.monotonic() > deadline:
                raise RuntimeError(f"servers of {batch} did not start; see {hub.log_path}")
            time.sleep(0.5)


def _ready(admin: requests.Session, hub: RunningHub, name: str) -> bool:
    user = admin.get(f"{hub.api_url}/users/{name}").json()
    return bool((user.get("servers") or {}).get("", {}).get("ready"))


# -- the loop a script would be -------------------------------------------------------------------


def pull(session: requests.Session, hub: RunningHub, name: str, url: str, target: str) -> None:
    """nbgitpuller in one student's server, its stream read to its end."""
    params = {"repo": url, "branch": "main", "depth": "1", "targetpath": target}
    with session.get(
        f"{hub.url}/user/{name}/git-pull/api", params=params, stream=True, timeout=300
    ) as response:
        response.raise_for_status()
        said = b"".join(response.iter_content(chunk_size=None))
    if b'"phase": "finished"' not in said:
        raise RuntimeError(f"nbgitpuller in {name}'s server did not finish: {said[-300:]!r}")


def loop_round(hub: RunningHub, names: list[str], url: str, target: str) -> float:
    """nbgitpuller in each server in turn; the loop's seconds."""
    session = hub.admin()
    began = time.perf_counter()
    for name in names:
        pull(session, hub, name, url, target)
    return time.perf_counter() - began


def bare_round(hub: RunningHub, names: list[str], url: str, target: str, at_once: int) -> float:
    """The servers' own work at Hubclass's concurrency: the same calls, `at_once` at a time,
    with one admin token and nothing else (no lookups, tokens, mirror or records)."""
    session = hub.admin()
    session.mount("http://", HTTPAdapter(pool_maxsize=at_once))
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        list(pool.map(lambda name: pull(session, hub, name, url, target), names))
    return time.perf_counter() - began


# -- Hubclass -------------------------------------------------------------------------------------


class CallTimes:
    """The time each delivery's call into the student's server took (servers._call)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[int, float] = {}
        self.original = servers._call

    def __enter__(self) -> CallTimes:
        def timed(url, host, job, *args, **kwargs):
            began = time.perf_counter()
            try:
                return self.original(url, host, job, *args, **kwargs)
            finally:
                with self.lock:
                    self.seconds[job.id] = time.perf_counter() - began

        servers._call = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        servers._call = self.original  # type: ignore[assignment]


def make_app(root: Path, hub: RunningHub, url: str, concurrency: int) -> Flask:
    env = {
        "JUPYTERHUB_API_URL": hub.api_url,
        "JUPYTERHUB_API_TOKEN": hub.service_token,
        "HUBCLASS_DATA_DIR": str(root / "data"),
        "HUBCLASS_ALLOWED_REPO_URLS": url.rsplit("/", 1)[0] + "/",
        "HUBCLASS_DELIVERY": "server",
        "HUBCLASS_PROXY_URL": hub.url,
        "HUBCLASS_SERVER_CONCURRENCY": str(concurrency),
        "HUBCLASS_WORKERS": "0",  # the bench starts the worker loop itself, once set up
    }
    app = create_app(from_env(env))
    logging.getLogger().setLevel(logging.WARNING)  # not one INFO line per delivery
    # The Hub's users are only these students: the activity poll is left out, deliveries only.
    app.extensions["hubclass.jobs"] = Registry()
    delivery.init_app(app)
    with app.app_context():
        upgrade()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def hubclass_round(app: Flask, course_id: int, url: str, target: str) -> dict[str, Any]:
    """Distribute a new assignment to the course; W, and each delivery's own cost."""
    with app.app_context():
        course = db.session.get(Course, course_id)
        assignment = Assignment(
            course=course, slug=target, title=target, repo_url=url, target=target, depth=1
        )
        db.session.add(assignment)
        db.session.commit()
        with CallTimes() as calls:
            began = time.perf_counter()
            distribution = service.distribute(assignment, who=None)
            db.session.commit()
            while service.unfinished(distribution.id):
                db.session.commit()
                time.sleep(0.02)
            wall = time.perf_counter() - began
        rows = db.session.execute(
            select(
                Delivery.id, Delivery.state, Delivery.way, Delivery.started_at, Delivery.finished_at
            ).where(Delivery.distribution_id == distribution.id)
        ).all()
        db.session.commit()
    bad = [(r.id, r.state, r.way) for r in rows if (r.state, r.way) != ("done", "server")]
    if bad:
        raise RuntimeError(f"deliveries that did not end done through the server: {bad}")
    own = [
        (row.finished_at - row.started_at).total_seconds() - calls.seconds[row.id] for row in rows
    ]
    return {"wall": wall, "own": own, "inside": sum(calls.seconds.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16, help="HUBCLASS_SERVER_CONCURRENCY")
    parser.add_argument("--rounds", type=int, default=2, help="keep the best of each")
    parser.add_argument("--weeks", type=int, default=2, help="the course's size: 23 files a week")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the Hub's servers run as the Hub's user, root")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="hcbench-servers-"))
    root.chmod(0o755)
    hub = worker = None
    thread = None
    begun = time.perf_counter()
    try:
        _work, files, size = make_course(root, args.weeks)
        url = f"file://{root / 'served' / 'course.git'}"
        hub = start_hub(root / "hub", extra_env={"HUBCLASS_ALLOWED_REPO_URLS": "file://"})
        names = [f"bsv{index:03d}" for index in range(args.servers)]
        start_servers(hub, names)
        print(
            f"  hub and {len(names)} servers up at {time.perf_counter() - begun:.1f} s", flush=True
        )
        app = make_app(root, hub, url, args.concurrency)
        with app.app_context():
            course = Course(slug="bench-servers", title="bench", hub_group="course-bench-servers")
            db.session.add(course)
            db.session.add_all(Enrollment(course=course, username=name) for name in names)
            db.session.commit()
            course_id = course.id
        worker = Worker(app, "bench-servers")
        thread = threading.Thread(target=worker.run, name="bench-servers", daemon=True)
        thread.start()
        print(
            f"course: {files} files, {size / 1e6:.1f} MB; {len(names)} running servers; "
            f"{args.concurrency} deliveries at once; {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        loops: list[float] = []
        bares: list[float] = []
        runs: list[dict[str, Any]] = []
        for number in range(args.rounds):
            order = ["loop", "bare", "hubclass"]
            if number % 2:
                order.reverse()
            for which in order:
                target = f"{which}{number}"
                if which == "loop":
                    loops.append(loop_round(hub, names, url, target))
                    print(f"  round {number + 1}: loop     {loops[-1]:6.2f} s", flush=True)
                elif which == "bare":
                    bares.append(bare_round(hub, names, url, target, args.concurrency))
                    print(f"  round {number + 1}: bare     {bares[-1]:6.2f} s", flush=True)
                else:
                    runs.append(hubclass_round(app, course_id, url, target))
                    run = runs[-1]
                    print(
                        f"  round {number + 1}: hubclass {run['wall']:6.2f} s "
                        f"(inside the servers {run['inside']:.2f} s in all; a delivery's own "
                        f"time in its slot {statistics.mean(run['own']) * 1000:.0f} ms)",
                        flush=True,
                    )
    finally:
        if worker is not None:
            worker.halt()
        if thread is not None:
            thread.join(120)
        if hub is not None:
            hub.stop()
        shutil.rmtree(root, ignore_errors=True)

    best_loop, best_bare = min(loops), min(bares)
    best = min(runs, key=lambda run: run["wall"])
    speedup = best_loop / best["wall"]
    own_ms = (best["wall"] - best_bare) / len(best["own"]) * 1000
    slot_ms = statistics.mean(best["own"]) * 1000
    print()
    print(
        f"speed-up against the loop:   {speedup:5.1f}x  (loop {best_loop:.2f} s, Hubclass "
        f"{best['wall']:.2f} s, best of {args.rounds})  (goal >= {GOAL_SPEEDUP:g}x)"
    )
    print(
        f"own cost per delivery:       {own_ms:5.1f} ms  (Hubclass {best['wall']:.2f} s minus "
        f"the servers' own work at {args.concurrency} at once {best_bare:.2f} s, over "
        f"{len(best['own'])})  (goal < {GOAL_OWN_MS:g} ms)"
    )
    print(
        f"a delivery's own time in its slot: mean {slot_ms:.0f} ms, median "
        f"{statistics.median(best['own']) * 1000:.0f}, max {max(best['own']) * 1000:.0f} (the "
        "Hub lookup, its token made, the mirror, the record: overlapped by the "
        "other slots)"
    )
    ok = speedup >= GOAL_SPEEDUP and own_ms < GOAL_OWN_MS
    print("goals met" if ok else "goals NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
