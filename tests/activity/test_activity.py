"""The activity poller, sample thinning, and when background work starts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import activity
from app.activity import poller
from app.activity.models import ActivitySample, HubUserState
from app.courses.models import Course
from app.extensions import db
from app.hub import HubClient, HubUser
from app.jobs import Registry, Worker, registry
from app.roster.models import Enrollment
from tests.hubusers import ensure_users, hub_login

NOW = datetime(2026, 11, 26, 12, 0, 0)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"server": None, "servers": {}}, "stopped"),
        ({"server": "/user/a/", "servers": {"": {"ready": True, "pending": None}}}, "running"),
        ({"pending": "spawn", "servers": {"": {"ready": False, "pending": "spawn"}}}, "pending"),
        ({"servers": {"": {"ready": False, "pending": "stop"}}}, "pending"),
    ],
)
def test_server_states(user, expected):
    assert HubUser.from_model(user).server_state == expected


def _course(slug="c1") -> Course:
    course = Course(slug=slug, title=slug, hub_group=f"course-{slug}", created_by="t")
    db.session.add(course)
    db.session.flush()
    return course


def test_old_minute_samples_are_merged_into_hourly_peaks(app):
    course = _course()
    old = NOW - timedelta(days=2)
    for minute, active in enumerate([1, 5, 3]):
        db.session.add(ActivitySample(course_id=course.id, at=old + timedelta(minutes=minute),
                                      resolution="minute", active=active, running=active,
                                      logged_in=9))  # fmt: skip
    recent = NOW - timedelta(minutes=10)
    db.session.add(ActivitySample(course_id=course.id, at=recent, resolution="minute", active=2,
                                  running=1, logged_in=9))  # fmt: skip
    activity.thin_samples(NOW)
    db.session.commit()
    samples = db.session.scalars(select(ActivitySample).order_by(ActivitySample.at)).all()
    assert [(s.resolution, s.active) for s in samples] == [("hour", 5), ("minute", 2)]
    assert samples[0].at == old.replace(minute=0)


def test_cli_commands_start_no_background_thread(app, runner):
    result = runner.invoke(args=["course", "list"])
    assert result.exit_code == 0
    assert app.extensions["hubclass.workers"].threads == []


def test_the_poll_is_a_periodic_task_of_the_workers_every_poll_interval(app):
    task, _deliveries = registry(app).periodic
    assert (task.name, task.every_seconds, task.fn) == ("activity-poll", 60, poller.poll_hub)


def test_no_worker_threads_when_workers_are_off_but_the_poll_stays_registered(tmp_path):
    from app import create_app
    from app.config import from_env
    from tests.conftest import hub_env

    off = create_app(from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path), HUBCLASS_WORKERS="0")))
    assert "hubclass.workers" not in off.extensions
    # For `flask --app wsgi worker` processes, which read the same registry.
    assert [t.name for t in registry(off).periodic] == ["activity-poll", "delivery-poll"]


@pytest.mark.hub
def test_poll_records_first_login_servers_and_samples(hub, app):
    ensure_users(hub, ["pollx1", "pollx2"])
    course = _course("pollcourse")
    for name in ("pollx1", "pollx2"):
        db.session.add(Enrollment(course=course, username=name, name=name))
    db.session.commit()
    client = HubClient(hub.api_url, hub.service_token)
    activity.poll_once(client)
    states = {s.username: s for s in db.session.scalars(select(HubUserState))}
    assert states["pollx1"].first_login is None
    hub_login(hub, "pollx1")
    result = activity.poll_once(client)
    assert result.new_logins >= 1
    first = db.session.get(HubUserState, "pollx1").first_login
    assert first is not None
    activity.poll_once(client)  # a later poll never moves the first login
    assert db.session.get(HubUserState, "pollx1").first_login == first
    sample = db.session.scalars(
        select(ActivitySample).where(ActivitySample.course_id == course.id)
        .order_by(ActivitySample.id.desc())
    ).first()  # fmt: skip
    assert (sample.logged_in, sample.active) == (1, 1)
    # A user deleted on the Hub is marked, not forgotten.
    hub.admin().delete(f"{hub.api_url}/users/pollx2")
    activity.poll_once(client)
    assert db.session.get(HubUserState, "pollx2").on_hub is False


@pytest.mark.hub
def test_a_failing_hub_leaves_the_poller_running(hub, app):
    from tests.faultyhub import FaultyHub

    app.extensions["hubclass.jobs"] = Registry()  # the poll alone, not the deliveries' work
    activity.init_app(app)
    with FaultyHub(hub.api_url, lambda n, m, p: (500, {}, b"{}")) as faulty:
        app.extensions["hubclass.hub"] = HubClient(faulty.url, "x", retries=0)
        assert Worker(app, "w-test").run_once() == 0  # logged, not raised
    assert activity.latest_poll() is None
    app.extensions["hubclass.hub"] = HubClient(hub.api_url, hub.service_token)
    # A worker of the same name renews the lease the failed attempt took, and polls.
    assert Worker(app, "w-test").run_once() == 1
    assert activity.latest_poll() is not None


def test_never_logged_in_students_sort_last_in_either_direction():
    from app.activity.students import StudentRow, ago, select_rows

    def row(name, last):
        return StudentRow(name, name, None, None, last, last, "stopped", True, False)

    rows = [row("a", NOW), row("b", None), row("c", NOW - timedelta(hours=1))]
    newest = select_rows(rows, sort="last_activity", descending=True)
    oldest = select_rows(rows, sort="last_activity")
    assert [r.username for r in newest] == ["a", "c", "b"]
    assert [r.username for r in oldest] == ["c", "a", "b"]
    assert ago(NOW - timedelta(seconds=32), NOW) == "32 s ago"
    assert ago(NOW - timedelta(minutes=3), NOW) == "3 min ago"
    assert ago(None, NOW) == "never"
