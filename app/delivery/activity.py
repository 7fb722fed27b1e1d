"""Which students' new Hub activity was a delivery through their server, not them (see
app/activity/not_theirs.py): the poller keeps their previous `last_activity`.

A delivery through a student's server passes the Hub's proxy, and the Hub counts the proxy's
activity as the user's; its time falls between the delivery's start and end. Deliveries still
running count too, whatever their way (known once they end; their start is written then too),
unless HUBCLASS_DELIVERY is home here: the Hub may read the proxy mid-delivery, and a running
one started at most its timeout ago and runs until its claim's lease runs out, at the latest.
One query per poll in chunks of usernames, read by (username, finished_at).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.timeutil import utcnow

from .job import SERVER
from .models import Delivery
from .states import State

# The proxy stamps a request when it passes; the delivery's own clock starts just before its
# call and ends just after the stream: a little slack both sides.
SLACK = timedelta(seconds=5)
CHUNK = 500


def sent_by_deliveries(changed: Mapping[str, datetime]) -> set[str]:
    """Of `changed` (username -> the Hub's new last_activity), those whose new value falls
    within a delivery through their server (or one still running)."""
    found: set[str] = set()
    earliest = min(changed.values()) - SLACK
    now = utcnow()
    # Running deliveries count only where this deployment may deliver through servers.
    maybe_servers = current_app.config.get("HUBCLASS_DELIVERY") != "home"
    longest = timedelta(seconds=float(current_app.config["HUBCLASS_DELIVERY_TIMEOUT_SECONDS"]))
    names = list(changed)
    through_servers = and_(Delivery.way == SERVER, Delivery.finished_at >= earliest)
    if maybe_servers:
        # A running one counts while its claim's lease lives (its worker renews it): a row
        # whose worker died stops hiding the student's activity when its lease ran out.
        running = and_(Delivery.state == State.CLAIMED, Delivery.lease_expires >= earliest)
        through_servers = or_(through_servers, running)
    for start in range(0, len(names), CHUNK):
        rows = db.session.execute(
            select(
                Delivery.username,
                Delivery.started_at,
                Delivery.finished_at,
                Delivery.lease_expires,
            ).where(Delivery.username.in_(names[start : start + CHUNK]), through_servers)
        )
        for username, started_at, finished_at, lease_expires in rows:
            if finished_at and started_at:
                began, ended = started_at, finished_at
            else:
                began, ended = now - longest, min(now, lease_expires or now)
            if began - SLACK <= changed[username] <= ended + SLACK:
                found.add(username)
    return found
