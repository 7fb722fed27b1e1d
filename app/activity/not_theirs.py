"""Hub activity that was not the student's: requests Hubclass itself sent through the Hub's
proxy (a delivery into a student's running server).

The Hub folds the proxy's per-route activity into the user's `last_activity`, whoever sent the
request; measured on JupyterHub 6, a delivery through a student's server moves the student's
`last_activity` to the moment of the delivery (the server's own activity does not move:
nbgitpuller's handler does not count). Another feature knows when it sent such requests:
delivery registers, in its init_app, a finder that is given the users whose `last_activity`
changed (username -> the Hub's new value) and names those whose new value falls within a time
it sent something to them. The poller then keeps their previous value. A student who really
worked during those few seconds shows it again with their next request.

Delivery reads activity, so activity must not import it: hence the registration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from flask import Flask, current_app

EXTENSION = "hubclass.not_theirs"
# What the dashboard says of it when a finder is registered.
NOTE = (
    "Deliveries through students' servers pass the Hub's proxy, which counts them as the "
    "student's activity; Hubclass leaves them out."
)

Finder = Callable[[Mapping[str, datetime]], set[str]]


def register(app: Flask, finder: Finder) -> None:
    app.extensions.setdefault(EXTENSION, []).append(finder)


def sent_by_hubclass(changed: Mapping[str, datetime]) -> set[str]:
    """Of the users whose Hub activity changed, those whose new value is Hubclass's doing."""
    if not changed:
        return set()
    found: set[str] = set()
    for finder in current_app.extensions.get(EXTENSION, []):
        found |= finder(changed)
    return found


def accounted() -> bool:
    """Whether some feature's own requests are left out of the students' activity."""
    return bool(current_app.extensions.get(EXTENSION))
