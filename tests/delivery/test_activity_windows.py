"""Which new Hub activity the poller leaves out as a delivery's own (app/delivery/activity.py).

The real Hub case (a delivery through a running server, the student's last_activity unchanged
on the dashboard) is in test_servers.py; these are the edges, on rows written as workers write
them: only server deliveries, only within their time, running ones whatever their way (while
their claim's lease lives).
"""

from __future__ import annotations

from datetime import timedelta

from app.activity.not_theirs import accounted, sent_by_hubclass
from app.delivery.activity import SLACK, sent_by_deliveries
from app.delivery.models import Delivery, Distribution
from app.extensions import db
from app.timeutil import utcnow

from .kit import assignment_of, course_with


def _delivery(assignment, username: str, **fields) -> Delivery:
    distribution = Distribution(assignment=assignment, scope="course")
    row = Delivery(distribution=distribution, assignment=assignment, username=username, **fields)
    db.session.add_all([distribution, row])
    db.session.commit()
    return row


def test_only_activity_within_a_server_delivery_or_a_running_one_is_left_out(app, upstream):
    now = utcnow()
    names = ["srv", "home", "late", "running", "stale", "queued"]
    hw1 = assignment_of(course_with("act", names), upstream)
    started, finished = now - timedelta(minutes=3), now - timedelta(minutes=2)
    for name, way in (("srv", "server"), ("home", "home"), ("late", "server")):
        _delivery(hw1, name, state="done", way=way, started_at=started, finished_at=finished)
    _delivery(hw1, "running", state="claimed", lease_expires=now + timedelta(seconds=50))
    # Claimed by a worker that died an hour ago: nobody renewed its lease since.
    _delivery(hw1, "stale", state="claimed", lease_expires=now - timedelta(hours=1))
    _delivery(hw1, "queued", state="queued")
    during = started + timedelta(seconds=20)
    changed = {
        "srv": during,  # the proxy saw the delivery
        "home": during,  # a home delivery passes no proxy: the student really worked
        "late": finished + SLACK + timedelta(seconds=1),  # the student, after it
        "running": now,  # a delivery runs now: its way is not known yet
        "stale": now,  # the student: what that dead worker claimed runs no more
        "queued": now,  # nothing ran
        "nobody": now,  # no delivery at all
    }
    assert sent_by_deliveries(changed) == {"srv", "running"}


def test_an_app_that_may_deliver_through_servers_has_the_poller_ask(app, upstream):
    # HUBCLASS_DELIVERY unset is auto: through servers too, so the poller asks delivery.
    assert accounted()
    hw1 = assignment_of(course_with("reg", ["srv"]), upstream)
    now = utcnow()
    _delivery(hw1, "srv", state="done", way="server", started_at=now, finished_at=now)
    assert sent_by_hubclass({"srv": now, "other": now}) == {"srv"}
    assert sent_by_hubclass({}) == set()
