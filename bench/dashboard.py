"""Dashboard speed: a course of 2000 students with 30 days of activity samples and 10
assignments, each delivered to every student twice (the column shows the newer).

Usage: .venv/bin/python bench/dashboard.py [--students N] [--assignments A] [--repeat R]

Measured in one run against a real local JupyterHub:
  dashboard:    server time of the course dashboard page (database only; the table's first
                page, the counts and chart of every student) and its SQL query count
  hub listing:  listing the same students from the Hub's REST API (paginated), as a page that
                asked the Hub would have to
Goals: dashboard under 300 ms, a bounded number of queries, faster than the Hub listing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import event

from app import activity, create_app
from app.activity.models import ActivitySample
from app.assignments.models import Assignment
from app.config import from_env
from app.courses.models import Course
from app.delivery.models import Delivery, Distribution
from app.extensions import db
from app.hub import HubClient
from app.roster.models import Enrollment
from app.timeutil import utcnow
from app.web.pages import PAGE_SIZE
from demo.launch import start_hub


def add_deliveries(course: Course, names: list[str], count: int) -> None:
    """`count` assignments, each distributed twice to every student: an old commit, then the
    newest to all but every tenth student (they are behind) and every 25th failed."""
    old, new = "1" * 40, "2" * 40
    for number in range(1, count + 1):
        assignment = Assignment(
            course=course, slug=f"hw{number}", title=f"Homework {number}",
            repo_url="https://git.example.org/hw.git", target=f"hw{number}",
            latest_commit=new, latest_checked_at=utcnow(),
        )  # fmt: skip
        first = Distribution(assignment=assignment, scope="course")
        second = Distribution(assignment=assignment, scope="behind")
        db.session.add_all([assignment, first, second])
        db.session.flush()
        rows = [
            {"distribution_id": first.id, "assignment_id": assignment.id, "username": u,
             "kind": "sync", "state": "done", "commit": old}
            for u in names
        ] + [
            {"distribution_id": second.id, "assignment_id": assignment.id, "username": u,
             "kind": "sync", "state": "failed" if i % 25 == 0 else "done",
             "commit": None if i % 25 == 0 else new}
            for i, u in enumerate(names) if i % 10
        ]  # fmt: skip
        db.session.execute(Delivery.__table__.insert(), rows)
    db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--assignments", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.students
    names = [f"dash{i:05d}" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        hub = start_hub(Path(tmp) / "hub")
        try:
            client = HubClient(hub.api_url, hub.service_token)
            client.create_users(names)
            app = create_app(
                from_env(
                    {
                        "JUPYTERHUB_API_URL": hub.api_url,
                        "JUPYTERHUB_API_TOKEN": hub.service_token,
                        "HUBCLASS_DATA_DIR": str(Path(tmp) / "app"),
                        "HUBCLASS_WORKERS": "0",
                    }
                )
            )
            with app.app_context():
                upgrade()
                course = Course(
                    slug="big", title="Big", hub_group="course-big", created_by="instructor"
                )
                db.session.add(course)
                db.session.flush()
                db.session.add_all(
                    Enrollment(course=course, username=u, name=f"Student {u}", section="S1")
                    for u in names
                )
                db.session.commit()
                activity.poll_once(client)
                now = utcnow()
                samples = [
                    ActivitySample(course_id=course.id, at=now - timedelta(minutes=m),
                                   resolution="minute", active=m % 50, running=m % 40,
                                   logged_in=100)
                    for m in range(1, 24 * 60)
                ] + [
                    ActivitySample(course_id=course.id, at=now - timedelta(hours=h),
                                   resolution="hour", active=h % 60, running=h % 30, logged_in=100)
                    for h in range(24, 30 * 24)
                ]  # fmt: skip
                db.session.add_all(samples)
                db.session.commit()
                add_deliveries(course, names, args.assignments)
                engine = db.engine

            queries = []
            event.listen(engine, "before_cursor_execute", lambda *a: queries.append(1))
            web = app.test_client()
            with web.session_transaction() as session:
                session["username"] = "instructor"
            url = "/services/hubclass/courses/big"
            assert web.get(url).status_code == 200  # warm: templates, the instructor check
            page_times = []
            for _ in range(args.repeat):
                queries.clear()
                start = time.perf_counter()
                response = web.get(url)
                page_times.append(time.perf_counter() - start)
                assert response.status_code == 200
                shown = min(n, PAGE_SIZE)  # the table's first page; the counts are everyone's
                assert f"<strong>{n}</strong> enrolled".encode() in response.data
                assert response.data.count(b"<tr>") >= shown
                assert response.data.count(b'<td data-assignment="') == shown * args.assignments
            query_count = len(queries)

            hub_times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                listed = sum(1 for _ in client.list_users(name_filter="dash"))
                hub_times.append(time.perf_counter() - start)
                assert listed == n
        finally:
            hub.stop()

    page, listing = min(page_times), min(hub_times)
    print(f"students:                     {n}, samples: {len(samples)}, "
          f"assignments: {args.assignments}")  # fmt: skip
    print(f"dashboard page (server time): {page * 1000:8.1f} ms  (goal < 300 ms)")
    print(f"SQL queries per page:         {query_count}  (goal: bounded, not one per student)")
    print(f"Hub API listing of them:      {listing * 1000:8.1f} ms")
    print(f"ratio dashboard / hub list:   {page / listing:8.2f}  (goal < 1)")
    ok = page < 0.3 and query_count < 20 and page < listing
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
