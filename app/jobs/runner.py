"""Worker loops: periodic tasks guarded by leases, and queue handlers, run in app contexts.

Workers run as `HUBCLASS_WORKERS` threads of each web process, started by the first request
the process serves (gunicorn forks its workers first, so the threads live in the worker; CLI
commands never start them), or as `flask --app wsgi worker` processes. Wherever they run,
a lease in the database makes one worker of all run a periodic task per interval.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

from . import leases

log = logging.getLogger(__name__)

# How often a worker with queue handlers looks for new rows when it found nothing to do.
IDLE_SECONDS = 1.0
# A periodic task's lease lasts less than its interval, so that the next attempt, here or in
# another worker, can take it even if it comes a little early.
LEASE_SHARE = 0.8


@dataclass
class PeriodicTask:
    name: str
    every_seconds: float
    fn: Callable[[], object]


@dataclass
class QueueHandler:
    """`fn(holder)` claims and handles some rows of its queue and returns how many it handled."""

    name: str
    fn: Callable[[str], int]


@dataclass
class Registry:
    """The work an app's workers do, registered by features in their init_app()."""

    periodic: list[PeriodicTask] = field(default_factory=list)
    queues: list[QueueHandler] = field(default_factory=list)
    # Work this process leaves to others, by name, with why (shown on the status page).
    elsewhere: dict[str, str] = field(default_factory=dict)
    # This process's worker loops, woken when rows are queued here (others poll).
    workers: weakref.WeakSet[Worker] = field(default_factory=weakref.WeakSet)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register_periodic(self, name: str, every_seconds: float, fn: Callable[[], object]) -> None:
        """Run `fn` about every `every_seconds`, in one worker of all."""
        self.periodic.append(PeriodicTask(name, every_seconds, fn))

    def register_queue(self, name: str, fn: Callable[[str], int]) -> None:
        """Call `fn(holder)` in every worker loop; a non-zero result means "call me again now"."""
        self.queues.append(QueueHandler(name, fn))

    def leave_to_others(self, name: str, why: str) -> None:
        """Say that this process's workers do not run `name`, and why (other processes do)."""
        self.elsewhere[name] = why

    def work_queued(self) -> None:
        """Wake this process's idle worker loops: rows were queued (and committed) just now."""
        with self.lock:  # a worker may be joining from another thread
            workers = list(self.workers)
        for worker in workers:
            worker.wake.set()


def registry(app: Flask) -> Registry:
    """Return the app's registry of background work."""
    return app.extensions["hubclass.jobs"]


def halting(app: Flask, name: str) -> bool:
    """Whether this process's worker `name` was told to stop: its queue handlers then claim
    nothing more and finish what they hold (a service stopping mid-distribution leaves no
    fresh claim to wait out its lease)."""
    with registry(app).lock:
        return any(worker.name == name and worker.stop.is_set() for worker in registry(app).workers)


def wake_workers_after_commit(session: Session) -> None:
    """Wake this process's workers once the session's transaction commits: it queued rows.
    (Woken before the commit, they would find nothing and go back to sleep.)"""
    session.info["hubclass.queued"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("hubclass.queued", False) and has_app_context():
        try:
            registry(current_app).work_queued()
        except Exception:  # what was queued is committed: the workers' poll finds it anyway
            log.exception("The worker loops could not be woken")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("hubclass.queued", None)


def worker_name(index: int) -> str:
    """Name a worker across all machines: the lease holder's name."""
    return f"{socket.gethostname()}:{os.getpid()}:w{index}"


class Worker:
    """One worker loop; `run_once()` does what is due, `run()` repeats it until stopped."""

    def __init__(self, app: Flask, name: str):
        self.app = app
        self.name = name
        self.stop = threading.Event()
        # Set by halt() and by work queued in this process: the loop stops resting at once.
        self.wake = threading.Event()
        with registry(app).lock:
            registry(app).workers.add(self)
        # Monotonic times at which this worker next tries each periodic task: all due at first.
        self.next_due = {task.name: 0.0 for task in registry(app).periodic}

    def run_once(self) -> int:
        """Run the periodic tasks that are due and each queue handler once; return how much ran."""
        done = 0
        for task in registry(self.app).periodic:
            now = time.monotonic()
            if now < self.next_due.get(task.name, 0.0):
                continue
            self.next_due[task.name] = now + task.every_seconds
            done += self._run_periodic(task)
        for handler in registry(self.app).queues:
            done += self._guarded(handler.name, partial(handler.fn, self.name)) or 0
        return done

    def run(self) -> None:
        log.info("Worker %s started", self.name)
        while not self.stop.is_set():
            if self.run_once() and registry(self.app).queues:
                continue  # a queue had work: look for more at once
            self.wake.wait(self._idle_seconds())
            self.wake.clear()
        log.info("Worker %s stopped", self.name)

    def halt(self) -> None:
        """Leave the loop once the task at hand is done."""
        self.stop.set()
        self.wake.set()

    def _idle_seconds(self) -> float:
        now = time.monotonic()
        waits = [due - now for due in self.next_due.values()]
        if registry(self.app).queues:
            waits.append(IDLE_SECONDS)
        return max(0.0, min(waits, default=IDLE_SECONDS))

    def _run_periodic(self, task: PeriodicTask) -> int:
        def guarded() -> int:
            if not leases.try_acquire(task.name, self.name, task.every_seconds * LEASE_SHARE):
                return 0  # another worker runs it this interval
            task.fn()
            return 1

        return self._guarded(task.name, guarded) or 0

    def _guarded(self, name: str, fn: Callable[[], int]) -> int | None:
        """Run `fn` in an app context; log its exception, so the loop goes on."""
        with self.app.app_context():
            try:
                return fn()
            except Exception:
                # The Hub may be restarting, the database busy: the next attempt tries again.
                log.exception("Background task %r failed in worker %s", name, self.name)
                db.session.rollback()
                return None
            finally:
                db.session.remove()


class WorkerThreads:
    """The worker threads of a web process, started by its first request."""

    def __init__(self, app: Flask, count: int):
        self.app = app
        self.count = count
        self.workers: list[Worker] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        if self.threads:
            return
        with self._lock:
            if self.threads:
                return
            for index in range(self.count):
                worker = Worker(self.app, worker_name(index))
                thread = threading.Thread(target=worker.run, name=f"hubclass-w{index}", daemon=True)
                thread.start()
                self.workers.append(worker)
                self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Halt every worker, then wait for them all up to `timeout` in total."""
        for worker in self.workers:
            worker.halt()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def init_app(app: Flask) -> None:
    app.extensions["hubclass.jobs"] = Registry()
    count = int(app.config["HUBCLASS_WORKERS"])
    if count <= 0:
        return  # `flask --app wsgi worker` processes do the work, or nobody
    threads = WorkerThreads(app, count)
    app.extensions["hubclass.workers"] = threads
    app.before_request(threads.ensure_started)
