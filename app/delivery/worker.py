"""The delivery queue's handler: claim a few deliveries, sync (or reset) each home as its student,
record it.

Each worker loop (app/jobs) calls `handle_batch(holder)`. It runs
`HUBCLASS_DELIVERY_CONCURRENCY` deliveries at once in as many threads, each claimed with a lease
(another is claimed as soon as one ends), and renews their leases while they run; a worker
that dies stops renewing, so its deliveries go back to the queue when the lease expires and
another worker runs them again (a sync is idempotent). Every result is written only while the
claim still holds the row, so a worker that lost its lease never overwrites another's. One
named lease per workspace (home + target folder) keeps two deliveries from running in one
folder at once, and one per student's server keeps two deliveries through it from meeting
nbgitpuller's lock (one git operation per server): the second goes back to the queue.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import Table, exists, func, select, update

from app.activity.models import HubUserState
from app.assignments.models import Assignment
from app.audit.actions import RESTORE
from app.audit.models import AuditEvent
from app.extensions import db
from app.gitsync import GitSyncError, SyncReport, mirror_commit, reset, sync
from app.jobs import halting, leases
from app.jobs.claim import Claim, Queue
from app.roster.models import Enrollment
from app.timeutil import utcnow

from . import homes, not_arrived, servers, service
from .job import HOME, SERVER, Context, Job, Perform, Result
from .models import RESET, SYNC, Delivery
from .states import ENDED, State

log = logging.getLogger(__name__)

DELIVERIES = cast(Table, Delivery.__table__)
QUEUE = Queue(DELIVERIES)
# A claim's lease: renewed every HEARTBEAT_SECONDS while its syncs run, so it only runs out
# when the worker is gone (killed, crashed, its machine down).
LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 15.0
# A delivery whose worker died this many times (a sync that kills its worker?) is given up.
MAX_ATTEMPTS = 5
# How long `work_until_finished` waits when the queue had nothing for it.
IDLE_SECONDS = 1.0
# How long one call of the handler goes on claiming more deliveries as slots free.
BATCH_SECONDS = 30.0
# Why a delivery went back to the queue (its `waiting_for`, as the instructor reads it).
FOLDER_BUSY = "waiting for another delivery to the same folder"
SERVER_BUSY = "waiting for another delivery through the student's server"
BUSY = (
    "Another git operation held the folder (the student's own, or nbgitpuller) all the while "
    "the {what} waited: nothing was changed. {again} once it is free."
)
SYNC_BUSY = BUSY.format(what="delivery", again="Distribute again")
RESET_BUSY = BUSY.format(what="reset", again="Reset again")
HUB_ADMIN = (
    "Hub admins get no deliveries into their home: their account can act for everyone (on TLJH "
    "it is root through sudo), so what a course delivers could run with that power. Take them "
    "off the roster, or make them no admin on the Hub."
)
NOT_ENROLLED = (
    "No longer a student of the course (taken off its roster after this was queued): nothing "
    "was delivered."
)
NOTHING_TO_RESET = "The student has no home on this machine: there is nothing to reset."
RESET_AFTER_RESTORE = (
    "Hubclass's database was restored from a backup since this reset was asked for: the reset "
    "may have run after that backup, and the student may have worked since. Nothing was reset "
    "(running it again would move their newer work aside): ask for the reset again if it is "
    "still wanted."
)
NEWER_SINCE = (
    "The student was given a newer version of the assignment ({now}) after this reset was "
    "asked for ({pinned}): nothing was reset. Ask for the reset again to put back the newer one."
)


# -- one delivery --------------------------------------------------------------------------------


class MirrorCache:
    """Each distribution fetches its repository once per process: the first of its deliveries
    here refreshes the mirror, the others use it (a failed fetch is remembered too, so three
    hundred students do not each wait for a broken server)."""

    LIMIT = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_repo: dict[tuple[str, str | None], threading.Lock] = {}
        self._done: OrderedDict[tuple, service.Mirror | GitSyncError] = OrderedDict()

    def get(self, job: Job) -> service.Mirror | GitSyncError:
        # The data dir too: one process may serve several apps (tests), each its own ids.
        key = (str(service.mirrors_dir()), job.distribution_id, job.url, job.branch)
        with self._lock:
            repo_lock = self._per_repo.setdefault((job.url, job.branch), threading.Lock())
        with repo_lock:
            with self._lock:
                found = self._done.get(key)
            if found is None:
                try:
                    found = service.refresh_mirror(job.url, job.branch, job.assignment_id)
                except GitSyncError as exc:
                    found = exc
                with self._lock:
                    self._done[key] = found
                    while len(self._done) > self.LIMIT:
                        self._done.popitem(last=False)
            return found


MIRRORS = MirrorCache()


def from_report(
    report: SyncReport, commit: str | None, branch: str | None = None, kind: str = SYNC
) -> Result:
    """The delivery's result from the engine's report; `commit` is the one it brought, from
    `branch`; a reset's messages speak of a reset."""
    data = report.to_json()
    if report.outcome == "needs_attention":
        return Result(State.ATTENTION, report.outcome, None, data, report.error_message)
    if report.failed:
        if report.error_code == "workspace_busy":
            # Not queued again: the lock file is the student's own, so a student (or a stuck
            # git of theirs) could hold it forever and have this delivery claimed in every
            # batch, each time after the engine's wait, ahead of everyone else's.
            busy = RESET_BUSY if kind == RESET else SYNC_BUSY
            return Result(State.ATTENTION, report.outcome, None, data, busy)
        return Result(State.FAILED, report.outcome, None, data, report.error_message)
    return Result(State.DONE, report.outcome, commit, data, branch=branch)


def deliver(job: Job, context: Context) -> Result:
    """Run the delivery: in the student's home, as the student (a sync, or a reset), or
    through their running server, as the process's ways allow (app/delivery/ways.py)."""
    if not job.enrolled:
        return Result(State.FAILED, error=NOT_ENROLLED)
    if job.admin:
        return Result(State.FAILED, error=HUB_ADMIN)
    refused = service.unsupported(job.target)
    if refused:
        return Result(State.FAILED, error=refused)
    waiting_for = servers.WAITING_FOR_SERVER
    if context.ways.homes:
        home = homes.open_home(job.username, context.home_template)
        if isinstance(home, homes.Home):
            if job.kind == RESET:
                return reset_files(job, context, home)
            return sync_folder(job, context, home)
        if not home.waiting:  # a home refused (a link, another owner) is never gone around
            return Result(State.FAILED, error=home.message)
        if job.kind == RESET and not context.ways.servers:
            return Result(State.FAILED, error=NOTHING_TO_RESET)
        waiting_for = home.message
    if not context.ways.servers:
        return Result(State.WAITING, waiting_for=waiting_for)
    return through_server(job, context, waiting_for)


def through_server(job: Job, context: Context, waiting_for: str) -> Result:
    """Deliver through the student's running server (nbgitpuller), with the course's commit
    of the service's mirror recorded; `waiting_for` is said while the server is stopped."""

    def mirror_of() -> service.Mirror | Result:
        mirror = MIRRORS.get(job)
        if isinstance(mirror, GitSyncError):
            return Result(State.FAILED, "failed", error=mirror.message, way=SERVER)
        # What the course has now (a newer distribution may have moved the mirror since).
        return replace(mirror, commit=mirror_commit(mirror.path, mirror.branch))

    size = int(current_app.config["HUBCLASS_SERVER_CONCURRENCY"])
    # nbgitpuller runs one git operation per server and answers "busy" to a second: two
    # assignments to one student go one after the other, in any worker of any process.
    lease = server_lease(job.username)
    if context.leases is not None and not context.leases.take(lease):
        return Result(State.QUEUED, waiting_for=SERVER_BUSY)
    try:
        result = servers.deliver(job, context, mirror_of, pool_size=size)
    finally:
        if context.leases is not None:
            context.leases.give_back(lease)
    if context.ways.homes and (
        result.state == State.WAITING or result.report_code == "no_hub_account"
    ):
        # Neither the home nor a running server yet: the home's words (it may appear, and
        # the account with it, as the roster is applied).
        return Result(State.WAITING, waiting_for=waiting_for)
    return result


def sync_folder(job: Job, context: Context, home: homes.Home) -> Result:
    """Bring the distributed commit into the student's folder, keeping every edit."""
    mirror = MIRRORS.get(job)
    if isinstance(mirror, GitSyncError):
        return Result(State.FAILED, "failed", error=mirror.message)
    # What the engine will bring: it reads the same ref when it starts. A newer distribution
    # may move it in between; then the student gets newer still, and is not "behind". (Root
    # reads this one ref file even in a service account's mirror: read_ref keeps nothing but
    # an object id from it.)
    commit = mirror_commit(mirror.path, mirror.branch)
    folder = home.path / job.target
    report = sync(
        job.url,
        folder,
        policy=job.policy,
        course_copies=job.course_copy,
        **_engine_options(job, context, home, mirror),
    )
    return replace(from_report(report, commit, mirror.branch), way=HOME)


def _engine_options(
    job: Job, context: Context, home: homes.Home, mirror: service.Mirror
) -> dict[str, Any]:
    """What a sync and a reset of the student's folder both tell the engine: the branch and
    the mirror to read, the sub-folder, the student's uid, the depth, the service's limits."""
    return {
        "branch": mirror.branch,
        "path": job.subpath,
        "mirror": mirror.path,
        "owner": home.uid,
        "depth": job.depth,
        "mirror_account": context.mirror_account,
        **context.engine_options(),
    }


def reset_files(job: Job, context: Context, home: homes.Home) -> Result:
    """Put back the course's version the student was given, from the branch it was delivered
    on (the mirror has it: no fetch from the repository unless the mirror here lacks it), their
    copy moved aside. The commit was pinned when the reset was asked for: if a newer delivery
    reached the student since, nothing is reset (the instructor asked for another version)."""
    pinned = job.reset_to or job.given
    if pinned is None:
        return Result(State.FAILED, error="The student was never given the assignment.")
    if job.given != pinned:
        now = (job.given or "none")[:12]
        return Result(State.FAILED, error=NEWER_SINCE.format(now=now, pinned=pinned[:12]))
    if job.restored_since:
        # The restored rows cannot tell whether this reset already ran: never twice.
        return Result(State.ATTENTION, "needs_attention", error=RESET_AFTER_RESTORE)
    branch = job.given_branch or job.branch
    # Only the assignment's own branch tells its newest commit (it may have changed since).
    own = job.assignment_id if branch == job.branch else None
    try:
        mirror = service.reset_mirror(job.url, branch, pinned, own)
    except GitSyncError as exc:
        return Result(State.FAILED, "failed", error=exc.message)
    report = reset(
        job.url,
        home.path / job.target,
        commit=pinned,
        paths=list(job.paths),
        **_engine_options(job, context, home, mirror),
    )
    return replace(from_report(report, pinned, mirror.branch, RESET), way=HOME)


# -- the rows ------------------------------------------------------------------------------------


def _held(claim: Claim, delivery_id: int) -> Any:
    return (
        (DELIVERIES.c.id == delivery_id)
        & (DELIVERIES.c.lease_holder == claim.token)
        & (DELIVERIES.c.state == State.CLAIMED)
    )


def record(claim: Claim, delivery_id: int, result: Result, started: datetime | None = None) -> bool:
    """Write the result, only while the claim still holds the delivery; False if it lost it."""
    values: dict[str, Any] = {"state": result.state, "lease_holder": None, "lease_expires": None}
    if result.state in (State.QUEUED, State.WAITING):
        # Not a sync that ran: the attempt does not count against MAX_ATTEMPTS.
        values["attempts"] = DELIVERIES.c.attempts - 1
        values["waiting_for"] = result.waiting_for
    else:
        values.update(
            outcome=result.outcome,
            commit=result.commit,
            report=result.report,
            not_arrived=not_arrived.count(result.report),
            error=result.error,
            waiting_for=None,
            started_at=started,
            finished_at=utcnow(),
        )
        if result.branch is not None:  # a reset's pinned branch stays when it failed
            values["branch"] = result.branch
        if result.way is not None:
            values["way"] = result.way
    with db.engine.begin() as connection:
        written = connection.execute(
            update(DELIVERIES).where(_held(claim, delivery_id)).values(**values)
        ).rowcount
    if not written:
        log.warning("Delivery %d left claim %s: its result is dropped", delivery_id, claim.token)
    return bool(written)


# A Job's fields, read in one query with the claim's rows.
JOB_COLUMNS = (
    Delivery.id,
    Delivery.distribution_id,
    Delivery.assignment_id,
    Delivery.username,
    Assignment.repo_url.label("url"),
    Assignment.branch,
    Assignment.subpath,
    Assignment.target,
    Assignment.depth,
    Assignment.unsafe_policy.label("policy"),
    func.coalesce(HubUserState.admin, False).label("admin"),  # never seen on the Hub: False
    Delivery.kind,
    Delivery.paths,
    service.commit_given(Delivery.assignment_id, Delivery.username).label("given"),
    Delivery.reset_to,
    Delivery.branch.label("given_branch"),
    exists()
    .where(
        Enrollment.course_id == Assignment.course_id,
        Enrollment.username == Delivery.username,
        Enrollment.active.is_(True),
    )
    .label("enrolled"),
    Assignment.course_copy,
    exists()
    .where(AuditEvent.action == RESTORE, AuditEvent.at > Delivery.created_at)
    .label("restored_since"),
)


def _load(claim: Claim) -> list[tuple[Job, int]]:
    """The claim's jobs, each with how often it was claimed (this claim included)."""
    rows = db.session.execute(
        select(*JOB_COLUMNS, Delivery.attempts)
        .join(Assignment, Delivery.assignment_id == Assignment.id)
        .outerjoin(HubUserState, HubUserState.username == Delivery.username)
        .where(Delivery.id.in_(claim.ids), Delivery.lease_holder == claim.token)
        .order_by(Delivery.id)
    ).all()
    loaded = []
    for row in rows:
        fields = dict(row._mapping)
        attempts = fields.pop("attempts")
        fields["admin"] = bool(fields["admin"])  # SQLite's coalesce may answer 0 or 1
        fields["enrolled"] = bool(fields["enrolled"])
        fields["course_copy"] = bool(fields["course_copy"])
        fields["restored_since"] = bool(fields["restored_since"])
        fields["paths"] = tuple(fields["paths"] or ())
        loaded.append((Job(**fields), attempts))
    return loaded


def _newer_exists(job: Job) -> bool:
    """A later sync of the same assignment to the same student: this sync is pointless (a
    reset is never superseded: it is one instructor's request for those files)."""
    if job.kind != SYNC:
        return False
    newer = db.session.scalar(
        select(Delivery.id)
        .where(
            Delivery.assignment_id == job.assignment_id,
            Delivery.username == job.username,
            Delivery.id > job.id,
            Delivery.state != State.SUPERSEDED,
            Delivery.kind == SYNC,
        )
        .limit(1)
    )
    return newer is not None


def _triage(claim: Claim) -> list[Job]:
    """The claimed jobs to run; the others end here (given up, or superseded)."""
    ready, ended = [], []
    for job, attempts in _load(claim):
        if attempts > MAX_ATTEMPTS:
            error = (
                f"Given up after {MAX_ATTEMPTS} attempts: each time the worker running it stopped "
                "before it ended (killed, crashed, or its machine went down)."
            )
            ended.append((job, Result(State.FAILED, error=error)))
        elif _newer_exists(job):
            ended.append((job, Result(State.SUPERSEDED)))
        else:
            ready.append(job)
    db.session.commit()  # end the reads before writing on other connections
    now = utcnow()
    for job, result in ended:
        record(claim, job.id, result, now)
    return ready


# -- workspaces ----------------------------------------------------------------------------------


def workspace_lease(job: Job, context: Context) -> str:
    """The lease name of the job's folder: one delivery at a time runs in it."""
    return folder_lease(job.username, job.target, context.home_template)


def folder_lease(username: str, target: str, home_template: str) -> str:
    """The lease name of the student's folder `target` (whoever holds it, nobody else syncs)."""
    folder = homes.home_path(username, home_template) / target
    return "workspace-" + hashlib.sha256(str(folder).encode()).hexdigest()[:40]


def server_lease(username: str) -> str:
    """The lease name of the student's server: one delivery at a time goes through it."""
    return "server-" + hashlib.sha256(username.encode()).hexdigest()[:40]


class Workspaces:
    """The named leases one batch holds (folders, servers); the heartbeat renews them with the
    claim."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}

    def take(self, name: str) -> bool:
        holder = f"delivery/{secrets.token_hex(8)}"
        if not leases.try_acquire(name, holder, LEASE_SECONDS):
            return False
        with self._lock:
            self._held[name] = holder
        return True

    def give_back(self, name: str) -> None:
        with self._lock:
            holder = self._held.pop(name)
        leases.release(name, holder)

    def renew(self) -> None:
        with self._lock:
            held = list(self._held.items())
        for name, holder in held:
            if not leases.try_acquire(name, holder, LEASE_SECONDS):
                log.warning("The workspace lease %s was lost while its delivery ran", name)


def _run(claim: Claim, job: Job, context: Context, held: Workspaces, perform: Perform) -> bool:
    """Run one claimed job in its workspace; True if it ran (False: back to the queue)."""
    workspace = workspace_lease(job, context)
    if not held.take(workspace):
        record(claim, job.id, Result(State.QUEUED, waiting_for=FOLDER_BUSY))
        return False
    try:
        started = utcnow()
        try:
            result = perform(job, replace(context, leases=held))
        except Exception:
            log.exception("Delivery %d to %r failed", job.id, job.username)
            result = Result(
                State.FAILED, error="The delivery failed unexpectedly; the service's log says why."
            )
        record(claim, job.id, result, started)
        return result.state in ENDED or result.state == State.WAITING
    finally:
        held.give_back(workspace)


def _in_context(app: Flask, fn: Callable[..., bool], *args: Any) -> bool:
    with app.app_context():
        try:
            return fn(*args)
        finally:
            db.session.remove()


def _heartbeat(claims: list[Claim], held: Workspaces) -> None:
    """Renew the claims' leases and their folders'; a database blip is retried at the next beat."""
    try:
        for claim in claims:
            QUEUE.heartbeat(claim, LEASE_SECONDS)
        held.renew()
    except Exception:
        log.exception("The leases of %d claims could not be renewed", len(claims))


def handle_batch(holder: str, perform: Perform = deliver) -> int:
    """Run deliveries HUBCLASS_DELIVERY_CONCURRENCY at a time, claiming another whenever one
    ends, until the queue is empty or BATCH_SECONDS have passed; return how many ran."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    context = Context.of(app.config)
    # Deliveries into homes work this machine; through servers they mostly wait on them.
    busy_here = context.ways.homes or not context.ways.servers
    setting = "HUBCLASS_DELIVERY_CONCURRENCY" if busy_here else "HUBCLASS_SERVER_CONCURRENCY"
    size = int(app.config[setting])
    held = Workspaces()
    # Each claim with how many of its jobs still run: the heartbeat renews only those.
    claims: dict[str, tuple[Claim, int]] = {}
    of_claim: dict[Future[bool], str] = {}
    ran = 0
    # A slot that frees is filled at once (not when the slowest of a batch ends), until the
    # deadline: then the loop's periodic tasks (the activity poll...) get their turn.
    refill_until = time.monotonic() + BATCH_SECONDS
    with ThreadPoolExecutor(max_workers=size, thread_name_prefix="hubclass-delivery") as pool:
        running: set[Future[bool]] = set()
        beat = time.monotonic() + HEARTBEAT_SECONDS
        more = True
        while True:
            free = size - len(running)
            # A worker told to stop (SIGTERM, the web process ending) finishes what it holds.
            more = more and not halting(app, holder)
            if more and free and time.monotonic() < refill_until:
                try:
                    claim = QUEUE.claim(holder, limit=free, lease_seconds=LEASE_SECONDS)
                    jobs = _triage(claim) if claim.ids else []
                except Exception:
                    if not running:
                        raise  # nothing in flight: the worker loop logs it and tries again
                    # Deliveries run: keep renewing their leases until they end, or another
                    # worker would take them while they run.
                    log.exception("No more deliveries could be claimed by %s for now", holder)
                    db.session.rollback()
                    more = False
                    continue
                more = len(claim.ids) == free  # fewer than asked: the queue is empty for now
                ran += len(claim.ids) - len(jobs)
                if jobs:
                    claims[claim.token] = (claim, len(jobs))
                for job in jobs:
                    future = pool.submit(_in_context, app, _run, claim, job, context, held, perform)
                    of_claim[future] = claim.token
                    running.add(future)
                if more and len(running) < size:
                    continue  # some ended at once (superseded, given up): fill their slots
            if not running:
                return ran
            finished, running = wait(
                running, timeout=max(beat - time.monotonic(), 0), return_when=FIRST_COMPLETED
            )
            for future in finished:
                _ended(claims, of_claim.pop(future))
                try:
                    done = future.result()
                except Exception:  # the database went away mid-way: the lease will expire
                    log.exception("A delivery of claim %s could not be recorded", holder)
                    done = False
                ran += done
                # Back in the queue (its folder busy): claiming again now would only take it
                # again at once; the loop's next call will.
                more = more and done
            if running and time.monotonic() >= beat:
                _heartbeat([claim for claim, _ in claims.values()], held)
                beat = time.monotonic() + HEARTBEAT_SECONDS


def _ended(claims: dict[str, tuple[Claim, int]], token: str) -> None:
    """One job of the claim `token` ended: forget the claim once none of its jobs runs."""
    claim, left = claims[token]
    if left > 1:
        claims[token] = (claim, left - 1)
    else:
        del claims[token]


def work_until_finished(distribution_id: int, holder: str, *, run_here: bool = True) -> None:
    """Work through the queue in this process until none of the distribution's deliveries is
    queued or running (other workers may run some of them meanwhile). `run_here` False: only
    wait for the other workers (a process that is not root can run none of them)."""
    while True:
        ran = handle_batch(holder) if run_here else 0
        left = service.unfinished(distribution_id)
        db.session.commit()
        if not left:
            return
        if not ran:
            time.sleep(IDLE_SECONDS)
