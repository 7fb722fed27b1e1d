"""The activity poller: copies the Hub's users into HubUserState and samples who is active.

Pages read what this writes and never call the Hub themselves, so they stay fast for thousands
of students.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import delete, func, select

from app import jobs
from app.courses.models import Course
from app.extensions import db
from app.hub import HubClient, hub_client
from app.roster.models import Enrollment
from app.timeutil import utcnow

from .models import ActivitySample, HubUserState, Resolution, ServerState
from .not_theirs import sent_by_hubclass

log = logging.getLogger(__name__)

ACTIVE_WINDOW = timedelta(minutes=5)  # "active now": Hub activity in the last 5 minutes
MINUTE_SAMPLES_KEPT = timedelta(days=1)  # older per-minute samples are merged into hourly ones
POLL_TASK = "activity-poll"  # also the name of its lease


@dataclass
class PollResult:
    users: int
    new_logins: int


def poll_once(client: HubClient, now: datetime | None = None) -> PollResult:
    """Read every Hub user (paginated), update their state, and sample each course."""
    now = now or utcnow()
    users = {u.name: u for u in client.list_users()}
    states = {s.username: s for s in db.session.scalars(select(HubUserState))}
    changed = {
        name: user.last_activity
        for name, user in users.items()
        if user.last_activity
        and (name not in states or states[name].last_activity != user.last_activity)
    }
    # Hubclass's own requests through the proxy are not the student working.
    not_theirs = sent_by_hubclass(changed)
    new_logins = 0
    for name, user in users.items():
        state = states.get(name)
        if state is None:
            state = HubUserState(username=name)
            db.session.add(state)
            states[name] = state
        last = state.last_activity if name in not_theirs else user.last_activity
        if last and state.first_login is None:
            state.first_login = last
            new_logins += 1
        state.on_hub = True
        state.admin = user.admin
        state.groups = list(user.groups)
        state.created = user.created_at
        state.last_activity = last
        state.server = user.server_state
        state.server_ready = user.server_ready
        state.server_started = user.server_started
        state.updated_at = now
    for name, state in states.items():
        if name not in users and state.on_hub:
            state.on_hub = False
            state.server, state.server_ready = ServerState.STOPPED, False
            state.updated_at = now
    _sample_courses(states, now)
    thin_samples(now)
    db.session.commit()
    log.info("Polled %d Hub users (%d first logins)", len(users), new_logins)
    return PollResult(users=len(users), new_logins=new_logins)


def _sample_courses(states: dict[str, HubUserState], now: datetime) -> None:
    rows = db.session.execute(
        select(Enrollment.course_id, Enrollment.username).where(Enrollment.active.is_(True))
    ).all()
    by_course: dict[int, list[str]] = {}
    for course_id, username in rows:
        by_course.setdefault(course_id, []).append(username)
    for course_id in db.session.scalars(select(Course.id)):
        members = [states[u] for u in by_course.get(course_id, []) if u in states]
        db.session.add(
            ActivitySample(
                course_id=course_id,
                at=now,
                resolution=Resolution.MINUTE,
                active=sum(
                    1 for s in members if s.last_activity and now - s.last_activity <= ACTIVE_WINDOW
                ),
                running=sum(1 for s in members if s.server == ServerState.RUNNING),
                logged_in=sum(1 for s in members if s.first_login),
            )
        )


def thin_samples(now: datetime) -> None:
    """Merge per-minute samples older than a day into one per course and hour (the peak)."""
    cutoff = (now - MINUTE_SAMPLES_KEPT).replace(minute=0, second=0, microsecond=0)
    old = (
        db.session.execute(
            select(ActivitySample).where(
                ActivitySample.resolution == Resolution.MINUTE, ActivitySample.at < cutoff
            )
        )
        .scalars()
        .all()
    )
    if not old:
        return
    hours: dict[tuple[int, datetime], list[ActivitySample]] = {}
    for sample in old:
        hour = sample.at.replace(minute=0, second=0, microsecond=0)
        hours.setdefault((sample.course_id, hour), []).append(sample)
    for (course_id, hour), group in hours.items():
        db.session.add(
            ActivitySample(
                course_id=course_id,
                at=hour,
                resolution=Resolution.HOUR,
                active=max(s.active for s in group),
                running=max(s.running for s in group),
                logged_in=max(s.logged_in for s in group),
            )
        )
    db.session.execute(
        delete(ActivitySample).where(
            ActivitySample.resolution == Resolution.MINUTE, ActivitySample.at < cutoff
        )
    )


def latest_poll() -> datetime | None:
    """When the poller last wrote, or None if it never ran."""
    return db.session.scalar(select(func.max(HubUserState.updated_at)))


def poll_hub() -> None:
    """Poll the app's Hub once: the periodic task of the background workers."""
    poll_once(hub_client())


def init_app(app: Flask) -> None:
    jobs.registry(app).register_periodic(
        POLL_TASK, float(app.config["HUBCLASS_POLL_SECONDS"]), poll_hub
    )
