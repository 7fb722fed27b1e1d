"""Roster apply against a real local JupyterHub: 1000 new students, created and enrolled.

Usage: .venv/bin/python bench/roster.py [--students N]

Measured in one run, each with fresh usernames:
  floor:    the bare bulk-create and group-add calls for N users (what the Hub itself costs)
  naive:    one create and one group-add request per student
  hubclass: preview (parse + plan + complete listing) and apply, as the Apply button does
Prints wall times, Hub request counts and the ratios against the goals.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade

from app import create_app
from app.config import from_env
from app.courses.models import Course
from app.extensions import db
from app.hub import HubClient
from app.roster import imports
from demo.launch import start_hub


def roster(names: list[str]) -> bytes:
    rows = ["name,email", *(f"Student {n},{n}@example.edu" for n in names)]
    return ("\n".join(rows) + "\n").encode()


def floor(client: HubClient, names: list[str], group: str) -> float:
    start = time.perf_counter()
    client.create_users(names)
    client.ensure_group(group)
    client.add_group_members(group, names)
    return time.perf_counter() - start


def naive(client: HubClient, names: list[str], group: str) -> float:
    start = time.perf_counter()
    client.ensure_group(group)
    for name in names:
        client.create_users([name])
        client.add_group_members(group, [name])
    return time.perf_counter() - start


def hubclass(app, hub, names: list[str], slug: str) -> tuple[float, int, int]:
    with app.app_context():
        course = Course(slug=slug, title=slug, hub_group=f"course-{slug}", created_by="bench")
        db.session.add(course)
        db.session.flush()
        client = HubClient(hub.api_url, hub.service_token)
        start = time.perf_counter()
        record, _ = imports.preview(
            course, roster(names), "bench.csv", actor="bench", client=client
        )
        listing = client.requests_sent
        imports.apply(record, actor="bench", client=client)
        elapsed = time.perf_counter() - start
        db.session.commit()
        # The apply lists users once more (fresh state); listing pages are excluded from the goal.
        pages = 2 * listing
        assert set(record.results.values()) == {"created"}, record.results
        return elapsed, client.requests_sent - pages, pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    args = parser.parse_args()
    n = args.students
    with tempfile.TemporaryDirectory() as tmp:
        hub = start_hub(Path(tmp) / "hub")
        try:
            app = create_app(
                from_env(
                    {
                        "JUPYTERHUB_API_URL": hub.api_url,
                        "JUPYTERHUB_API_TOKEN": hub.service_token,
                        "HUBCLASS_DATA_DIR": str(Path(tmp) / "app"),
                    }
                )
            )
            with app.app_context():
                upgrade()
            client = HubClient(hub.api_url, hub.service_token)
            # Alternate floor and Hubclass so both see the same Hub database size.
            t_floor = floor(client, [f"fa{i:05d}" for i in range(n)], "course-floor-a")
            t_hc, requests, pages = hubclass(app, hub, [f"ha{i:05d}" for i in range(n)], "bench-a")
            t_floor = min(
                t_floor, floor(client, [f"fb{i:05d}" for i in range(n)], "course-floor-b")
            )
            t_hc2, _, _ = hubclass(app, hub, [f"hb{i:05d}" for i in range(n)], "bench-b")
            t_hc = min(t_hc, t_hc2)
            t_naive = naive(client, [f"na{i:05d}" for i in range(n)], "course-naive")
        finally:
            hub.stop()

    print(f"students:                      {n}")
    print(f"floor (bulk calls only):       {t_floor:7.2f} s")
    print(f"naive (2 requests a student):  {t_naive:7.2f} s")
    print(f"hubclass preview + apply:      {t_hc:7.2f} s")
    print(f"hubclass Hub requests:         {requests} (+{pages} listing pages)")
    print(f"ratio hubclass / floor:        {t_hc / t_floor:7.2f}  (goal <= 1.2)")
    print(f"speed-up over naive:           {t_naive / t_hc:7.2f}x (goal >= 2)")
    ok = requests <= 10 and t_hc / t_floor <= 1.2 and t_naive / t_hc >= 2
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
