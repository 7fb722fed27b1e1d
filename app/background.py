"""Background work of a web process: the activity poller (and, later, delivery workers).

Started by the first request a process serves, whatever WSGI server runs it (gunicorn forks
its workers first, so the thread lives in the worker). CLI commands never start it.
Several processes share one database lease, so the Hub is polled once per interval in all.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from flask import Flask

from . import activity, leases
from .extensions import db
from .hubclient import hub_client

log = logging.getLogger(__name__)

POLL_LEASE = "activity-poll"


class Poller:
    def __init__(self, app: Flask):
        self.app = app
        self.interval = float(app.config["HUBCLASS_POLL_SECONDS"])
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        with self._lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="hubclass-poller", daemon=True
                )
                self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(self.interval)

    def tick(self) -> bool:
        """Poll if this process holds the lease; return whether it polled."""
        with self.app.app_context():
            try:
                # Shorter than the interval, so the next tick (here or elsewhere) can take it.
                if not leases.try_acquire(POLL_LEASE, self.holder, self.interval * 0.8):
                    return False
                activity.poll_once(hub_client())
                return True
            except Exception:
                # The Hub may be restarting; the next tick tries again.
                log.exception("Activity poll failed")
                db.session.rollback()
                return False
            finally:
                db.session.remove()


def init_app(app: Flask) -> None:
    if int(app.config["HUBCLASS_WORKERS"]) <= 0:
        return
    poller = Poller(app)
    app.extensions["hubclass.poller"] = poller
    app.before_request(poller.ensure_started)
