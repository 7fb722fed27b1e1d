"""Load: instructors browsing a large course while a distribution and the activity poller run.

    sudo .venv/bin/python bench/load.py [--instructors 20] [--students 2000]
        [--distributed 500] [--weeks 4] [--min-seconds 60] [--max-seconds 420]
        [--poll-seconds 10] [--quick]

Everything is real and on loopback: a JupyterHub (demo/jupyterhub_config.py) with Hubclass as
its managed service, as deployed (gunicorn, 2 workers x 4 threads; each worker's background
thread delivers into homes as root and polls the Hub every --poll-seconds, 60 in production);
a course of --students made through Hubclass's API (the course, then its roster applied: Hub
accounts and the course's group), --distributed of them real system users owning real homes
(bench/distribute.py's students), in section lab-a; bench/distribute.py's course repository
(--weeks of it) served by ``git daemon``.

Locust (headless, through its library API) runs --instructors Hub users, the course's teaching
staff, each signed in the real way: the Hub's login form, then Hubclass's sign-in (the Hub's
OAuth, ending in Hubclass's session cookie); every request goes through the Hub's proxy as a
browser sends it. Once all are signed in, the course's instructor distributes the assignment
to section lab-a (the API, with a Hub token), and each instructor, having read the dashboard
their sign-in ended on for 2-6 s, browses in a loop, thinking 2-6 s after each page: the course
dashboard; the distribution's progress page, then its JSON
once a second, as the page's script polls it while deliveries run (at most 15 times a visit);
the roster page. The load ends once the distribution has finished and --min-seconds have
passed (at most --max-seconds).

Prints p50/p95 per page and when its slowest requests ended, counted from the distribution's
start (and the service's own time for it, from gunicorn's access log: the
rest is the Hub's proxy and the wait for a free worker thread), the failed requests (an error
status, no answer, or a page without what it must show) and the polls the service made
meanwhile. Goals: p95 < 500 ms on every
page, no failed request, every delivery done (the distribution's JSON, read from the database,
and the folder in each student's home, owned by them). --quick: a toy size (the smoke test).
Needs root (it creates users).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

# Locust patches the standard library for gevent when imported: before requests is imported.
import gevent
from locust import HttpUser, constant, task
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench.distribute import Student, make_course, make_students, remove_students
from bench.sync import start_daemon
from demo.launch import RunningHub, start_hub
from tests.hubusers import api, ensure_users, post_roster, roster_csv

COURSE, ASSIGNMENT, SECTION = "load", "week", "lab-a"
STAFF_GROUP = "load-staff"  # the course's teaching staff: the instructors who browse it
GOAL_P95_MS = 500
PAGES = ("dashboard", "progress page", "progress JSON", "roster page")
SIGN_IN = ("Hub login form", "Hub login", "sign-in to Hubclass (OAuth)")
THINK_SECONDS = (2.0, 6.0)
POLLS_PER_VISIT = 15
ROSTER_CHUNK = 500  # students per roster apply: each request well within gunicorn's 60 s


# -- what the instructors do ----------------------------------------------------------------------


@dataclass
class Scenario:
    """What the simulated instructors share: who they are, the course, the distribution."""

    password: str
    names: list[str]
    prefix: str  # the service's path on the proxy: /services/hubclass/
    students: int
    distributed: int
    distribution: int | None = None  # set once all are signed in and it has been started
    signed_in: int = 0
    turn: itertools.count = field(default_factory=itertools.count)

    def url(self, page: str) -> str:
        course = f"{self.prefix}courses/{COURSE}"
        return {
            "dashboard": course,
            "progress page": f"{course}/assignments/{ASSIGNMENT}/distributions/{self.distribution}",
            "progress JSON": f"{self.prefix}api/v1/distributions/{self.distribution}",
            "roster page": f"{course}/roster/",
        }[page]

    def must_show(self, page: str) -> bytes:
        """What the page shows when it is the right one, whole."""
        return {
            "dashboard": f"<strong>{self.students}</strong> enrolled",
            "progress page": f'data-count="total">{self.distributed}<',
            "roster page": f"{self.students} students</span>",
        }[page].encode()


class Instructor(HttpUser):
    """One instructor in a browser: signs in through the Hub, then browses the course."""

    wait_time = constant(0)  # the task thinks after each page itself, as a person does
    scenario: ClassVar[Scenario]

    def on_start(self) -> None:
        s = self.scenario
        name = s.names[next(s.turn)]
        self.client.get("/hub/login", name=SIGN_IN[0])
        self.client.post(
            "/hub/login?next=/hub/home",
            data={"username": name, "password": s.password, "_xsrf": self.client.cookies["_xsrf"]},
            name=SIGN_IN[1],
        )
        # Hubclass's sign-in: the Hub's authorize step, the callback, then the page asked for.
        dashboard = s.url("dashboard")
        with self.client.get(
            f"{s.prefix}login?next={dashboard}", name=SIGN_IN[2], catch_response=True
        ) as r:
            if r.status_code == 200 and not r.url.endswith(dashboard):
                r.failure(f"{name} signed in at {r.url}")
        s.signed_in += 1
        while s.distribution is None:
            gevent.sleep(0.2)
        # The sign-in ended on the dashboard: each reads it before the next page, as people do,
        # rather than all 20 asking for it again in the same instant the distribution starts.
        self.think()

    def think(self) -> None:
        gevent.sleep(random.uniform(*THINK_SECONDS))

    def open(self, page: str) -> None:
        with self.client.get(self.scenario.url(page), name=page, catch_response=True) as r:
            if r.status_code == 200 and self.scenario.must_show(page) not in r.content:
                r.failure(f"{page} without {self.scenario.must_show(page)!r}")

    def follow_progress(self) -> None:
        """As progress.js does: the JSON a second after each answer, while deliveries run."""
        for _ in range(POLLS_PER_VISIT):
            with self.client.get(
                self.scenario.url("progress JSON"), name="progress JSON", catch_response=True
            ) as r:
                if r.status_code != 200:
                    return
                progress = r.json()
                if progress.get("total") != self.scenario.distributed:
                    r.failure(f"progress of {progress.get('total')} deliveries")
                    return
            if not progress["queued"] + progress["running"]:
                return
            gevent.sleep(1)

    @task
    def browse(self) -> None:
        self.open("dashboard")
        self.think()
        self.open("progress page")
        self.follow_progress()
        self.think()
        self.open("roster page")
        self.think()


@dataclass
class Seen:
    """Every request's time (ms) by page, and every failure, from Locust's request event."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    # When each request ended (time.monotonic()), beside its time: when the slowest came.
    ended: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    began: float = 0.0  # when the distribution was started

    def record(self, name: str, response_time: float, exception: Any, **_: Any) -> None:
        self.times[name].append(response_time)
        self.ended[name].append(time.monotonic())
        if exception is not None:
            self.failures.append(f"{name}: {str(exception)[:200]}")


# -- the course -----------------------------------------------------------------------------------


def set_up_course(
    hub: RunningHub, repo: str, staff: list[str], students: list[Student], others: list[str]
) -> requests.Session:
    """The course (its staff the instructors' Hub group), its assignment and its roster, made
    by its instructor through the API as a script would; return that instructor's session."""
    # The course's instructor is in its staff group too: one names only groups one is in.
    ensure_users(hub, [*staff, "instructor"], groups=["instructors", STAFF_GROUP])
    # The students' accounts first, with the Hub's bulk API (bench/roster.py measures the
    # roster's own account making): a busy machine makes no apply outlast gunicorn's timeout.
    ensure_users(hub, [s.name for s in students] + others)
    session = api(hub, "instructor")
    r = session.post(
        hub.service_url + "api/v1/courses",
        json={"slug": COURSE, "title": "Load", "instructor_groups": [STAFF_GROUP]},
    )
    assert r.status_code == 201, r.text
    r = session.post(
        hub.service_url + f"api/v1/courses/{COURSE}/assignments",
        json={"slug": ASSIGNMENT, "repo_url": repo, "target": ASSIGNMENT, "depth": 1},
    )
    assert r.status_code == 201, r.text
    for names, section in (([s.name for s in students], SECTION), (others, "lecture")):
        for start in range(0, len(names), ROSTER_CHUNK):
            chunk = roster_csv(names[start : start + ROSTER_CHUNK], section)
            done = post_roster(hub, session, COURSE, chunk, apply="1")
            assert done["status"] == "applied", str(done)[:500]
    return session


def distribute(hub: RunningHub, session: requests.Session) -> int:
    r = session.post(
        hub.service_url + f"api/v1/courses/{COURSE}/assignments/{ASSIGNMENT}/distributions",
        json={"section": SECTION},
    )
    assert r.status_code == 202, r.text
    return r.json()["distribution"]


def progress(hub: RunningHub, session: requests.Session, distribution: int) -> dict:
    r = session.get(hub.service_url + f"api/v1/distributions/{distribution}")
    r.raise_for_status()
    return r.json()


def polls_in_log(hub: RunningHub) -> int:
    """How many activity polls the service has logged so far."""
    return hub.log().count("Polled ")


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    # The service's own time per page (gunicorn's access log: from the request read to the
    # answer written): what is left of the browser's time is the proxy and the queue to it.
    served: dict[str, list[float]]
    distribution_seconds: float | None  # None: still unfinished when the load ended
    polls: int
    final: dict
    homes_ok: int


def run_load(hub: RunningHub, session: requests.Session, scenario: Scenario,
             students: list[Student], args: argparse.Namespace, seen: Seen) -> Outcome:  # fmt: skip
    """Sign the instructors in, distribute, let them browse until it is over."""
    Instructor.scenario = scenario
    env = Environment(user_classes=[Instructor], host=hub.url)
    env.events.request.add_listener(seen.record)
    runner = env.create_local_runner()
    runner.start(len(scenario.names), spawn_rate=max(len(scenario.names) / 5, 1))
    deadline = time.monotonic() + 120
    while scenario.signed_in < len(scenario.names):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {scenario.signed_in} instructors signed in within 120 s")
        gevent.sleep(0.2)
    polls = polls_in_log(hub)
    log_from = len(hub.log())
    began = seen.began = time.monotonic()
    scenario.distribution = distribute(hub, session)
    print(f"  {len(scenario.names)} instructors signed in; distribution {scenario.distribution} "
          f"started, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    finished = None
    while True:
        gevent.sleep(1)
        elapsed = time.monotonic() - began
        if finished is None:
            now = progress(hub, session, scenario.distribution)
            if not now["queued"] + now["running"]:
                finished = elapsed
                print(f"  distribution finished after {finished:.0f} s", flush=True)
        if elapsed >= args.max_seconds or (finished is not None and elapsed >= args.min_seconds):
            break
    runner.quit()
    runner.greenlet.join()
    seconds = time.monotonic() - began
    final = progress(hub, session, scenario.distribution)
    homes_ok = sum(1 for s in students if folder_delivered(s))
    served = served_times(hub.log()[log_from:], scenario)
    return Outcome(seconds, served, finished, polls_in_log(hub) - polls, final, homes_ok)


ACCESS_LINE = re.compile(r'"GET (\S+)" (\d{3}) \S+ (\d+)ms')


def served_times(log: str, scenario: Scenario) -> dict[str, list[float]]:
    """The service's time (ms) for each page, from gunicorn's access log lines."""
    pages = {scenario.url(page).rstrip("/"): page for page in PAGES}
    served: dict[str, list[float]] = defaultdict(list)
    for path, _, ms in ACCESS_LINE.findall(log):
        page = pages.get(path.rstrip("/"))
        if page is not None:
            served[page].append(float(ms))
    return served


def folder_delivered(student: Student) -> bool:
    readme = student.home / ASSIGNMENT / "README.md"
    try:
        return readme.stat().st_uid == student.uid
    except OSError:
        return False


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(seen: Seen, outcome: Outcome, scenario: Scenario) -> bool:
    print()
    print(f"{'page':<30} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
          f" {'served p50':>10} {'p95':>6}")  # fmt: skip
    for name in (*SIGN_IN, *PAGES):
        times = seen.times.get(name, [])
        served = outcome.served.get(name, [])
        print(f"{name:<30} {len(times):8d} {percentile(times, 50):8.0f} "
              f"{percentile(times, 95):8.0f} {max(times, default=float('nan')):8.0f}"
              + (f" {percentile(served, 50):10.0f} {percentile(served, 95):6.0f}"
                 if served else ""))  # fmt: skip
    for name in PAGES:
        pairs = zip(seen.times.get(name, []), seen.ended.get(name, []), strict=True)
        slowest = sorted(pairs, reverse=True)
        print(f"  slowest {name}: " + ", ".join(
            f"{ms:.0f} ms at {at - seen.began:+.0f} s" for ms, at in slowest[:5]))  # fmt: skip
    requests_made = sum(len(t) for t in seen.times.values())
    print(f"load: {outcome.seconds:.0f} s, {requests_made} requests, "
          f"{requests_made / outcome.seconds:.1f} a second; {outcome.polls} activity polls "
          f"by the service meanwhile")  # fmt: skip
    for failure in seen.failures[:10]:
        print(f"  failed: {failure}")
    final = outcome.final
    took = outcome.distribution_seconds
    print(f"distribution: {final['done']} of {final['total']} done "
          f"({final['failed']} failed, {final['attention']} need attention, "
          f"{final['waiting']} waiting), "
          + (f"finished in {took:.0f} s" if took is not None else "NOT FINISHED")
          + f"; {outcome.homes_ok} folders in the students' homes")  # fmt: skip
    worst = max(percentile(seen.times.get(page, []), 95) for page in PAGES)
    missing = [page for page in PAGES if not seen.times.get(page)]
    print(f"worst page p95:    {worst:8.0f} ms  (goal < {GOAL_P95_MS} ms)")
    print(f"failed requests:   {len(seen.failures):8d}     (goal 0)")
    every = final["done"] == final["total"] == scenario.distributed == outcome.homes_ok
    print(f"every delivery done: {'yes' if every else 'NO'}    (goal yes)")
    ok = not missing and worst < GOAL_P95_MS and not seen.failures and every
    print("goals met" if ok else "GOALS NOT MET")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructors", type=int, default=20)
    parser.add_argument("--students", type=int, default=2000, help="the course's roster")
    parser.add_argument("--distributed", type=int, default=500, help="real users with homes")
    parser.add_argument("--weeks", type=int, default=4, help="the course repository's size")
    parser.add_argument("--min-seconds", type=float, default=60)
    parser.add_argument("--max-seconds", type=float, default=420)
    parser.add_argument("--poll-seconds", type=int, default=10, help="the service's poll")
    parser.add_argument("--quick", action="store_true", help="a toy size, for the smoke test")
    args = parser.parse_args()
    if args.quick:
        args.instructors, args.students, args.distributed, args.weeks = 3, 30, 5, 1
        args.min_seconds, args.max_seconds = 15, 60
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark creates users with homes")
    # SIGTERM ends the run like Ctrl-C does: through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="hcbench-load-"))
    root.chmod(0o755)
    homes = root / "homes"
    homes.mkdir(mode=0o755)
    students: list[Student] = []
    daemon = hub = None
    seen = Seen()
    begun = time.perf_counter()
    try:
        make_course(root, args.weeks)
        daemon, url = start_daemon(root / "served")
        hub = start_hub(
            root / "hub",
            extra_env={
                "HUBCLASS_DELIVERY": "home",
                "HUBCLASS_HOME_TEMPLATE": f"{homes}/{{username}}",
                "HUBCLASS_ALLOWED_REPO_URLS": url.rsplit("/", 1)[0] + "/",
                "HUBCLASS_POLL_SECONDS": str(args.poll_seconds),
            },
        )
        print(f"  hub up at {time.perf_counter() - begun:.0f} s", flush=True)
        make_students(args.distributed, homes, students)
        tag = students[0].name[:8] if students else "hcload"
        others = [f"{tag}x{i:04d}" for i in range(args.students - args.distributed)]
        staff = [f"{tag}t{i:02d}" for i in range(args.instructors)]
        session = set_up_course(hub, url, staff, students, others)
        print(f"  {args.students} students enrolled at {time.perf_counter() - begun:.0f} s; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        scenario = Scenario(
            password=hub.password,
            names=staff,
            prefix=hub.service_url.removeprefix(hub.url),
            students=args.students,
            distributed=args.distributed,
        )
        outcome = run_load(hub, session, scenario, students, args, seen)
    except BaseException:
        if hub is not None:  # the service's side of what went wrong
            print("".join(hub.log().splitlines(True)[-40:]), file=sys.stderr)
        raise
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
        if hub is not None:
            hub.stop()
        remove_students(students)
        shutil.rmtree(root, ignore_errors=True)
    print(f"  whole run {time.perf_counter() - begun:.0f} s, load {os.getloadavg()[0]:.1f}")
    return 0 if report(seen, outcome, scenario) else 1


if __name__ == "__main__":
    sys.exit(main())
