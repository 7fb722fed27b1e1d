"""Delivery through a student's running server: nbgitpuller's endpoint in that server, called
through the Hub's proxy with a token that reaches only that server.

The student controls their server (their `~/.jupyter` config runs in it and can log every
header), so the call never carries the service's token, which can create and delete users.
Each call carries a token of the delivery account (HUBCLASS_DELIVERY_ACCOUNT) with only
`access:servers!user=<student>`, made for this one delivery, expiring a minute after the
delivery's timeout, revoked as soon as it ends (by a thread of the process, so the delivery's
result does not wait for the Hub; those left at exit are revoked before it ends). A token of
the student's own would make the delivery look like the student working (the Hub counts a
token's use as its owner's activity).

nbgitpuller's answer is an event stream: `data: {json}` lines whose `phase` is `syncing`,
`finished` or `error` (with HTTP 200 even then, and an error may come twice); success is
judged from the stream. Facts respected (nbgitpuller's handlers.py and pull.py):
- `backup` is never sent: any non-empty value, even `false`, moves the student's folder aside;
- its per-server lock waits one second, then answers "Another git operation is currently
  running": the call is repeated with a growing pause, not failed;
- `targetpath` accepts absolute paths and `..`: only the assignment's validated folder name
  is sent;
- a stopped server: the delivery waits (the Hub answers 424, older Hubs 503; a redirect is
  followed only to this student's server on the proxy's origin);
- a clone is of the URL sent, but an update fetches the folder's own `origin` and merges its
  branch, and a folder without its own .git is taken for the git repository around it (the
  student's home may be one): the course's commit is recorded only when what nbgitpuller said
  shows the folder got it (a clone, a fetch from the assignment's repository, a fast-forward
  to that commit, or "up to date" where the student was given that commit before); otherwise
  the delivery needs attention.
The server is the student's: what it answers is read with caps on lines, bytes and time, and
only nbgitpuller's own fields are kept.
"""

from __future__ import annotations

import atexit
import http.cookiejar
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter

from app.hub import HubError, hub_client
from app.hub.client import HubClient, HubUser, MintedToken
from app.text import printable

from .job import SERVER, Context, Job, Result
from .models import RESET
from .service import Mirror
from .states import State

log = logging.getLogger(__name__)

# Connecting to the proxy; the answer then may be slow (a big clone says nothing for a while).
CONNECT_SECONDS = 10.0
# nbgitpuller's lock is held by another request: pauses between tries, then give up at
# BUSY_SECONDS (or the delivery's timeout, if shorter).
BUSY_PAUSES = (1.0, 2.0, 4.0, 8.0, 15.0)
BUSY_SECONDS = 120.0
BUSY_SIGN = "Another git operation is currently running"
# How old a listing of the Hub's running servers may be when a delivery reads it.
READY_SECONDS = 5.0
READY_EXTENSION = "hubclass.ready_servers"
# Hub errors that say nothing of the request: the delivery waits for the next poll. A Hub
# still answering 429 after the retries is busy: it refused nothing.
HUB_TRANSIENT = frozenset({"unreachable", "timeout", "hub_error", "rate_limited"})
# A token lives this much longer than the delivery may take (revoked sooner, when it ends).
TOKEN_MARGIN_SECONDS = 60
# What is read of a server's answer (it is the student's: it may send anything, or forever).
MAX_LINE_BYTES = 1 << 20
MAX_ANSWER_BYTES = 32 << 20
OTHER_ANSWER_BYTES = 64 << 10  # an answer that is not an event stream (see _read)
OUTPUT_LINES_KEPT = 20
OUTPUT_LINE_CHARS = 300
# What one read takes of the answer: the caps above are checked between reads.
READ_BYTES = 64 << 10
MAX_REDIRECTS = 3
# nbgitpuller's own words for a file of the student's it renamed out of the course's way.
RENAMED = re.compile(r"^Renamed (.+) to (.+) to avoid conflict with upstream$")
# git's words in what nbgitpuller runs (it sets LANG=C): whence `git fetch` fetched, and the
# commit `git merge` fast-forwarded the folder to.
FETCHED_FROM = re.compile(r"^From (\S+)$")
FAST_FORWARD = re.compile(r"^Updating [0-9a-f]{4,40}\.\.([0-9a-f]{4,40})$")

WAITING_FOR_SERVER = "waiting for the student's server to start"
NEEDS_HOME_RESET = (
    "A reset needs home delivery: nbgitpuller in the student's server cannot put files back "
    "to the course's version. Reset it where Hubclass can reach the student's home."
)
NEEDS_HOME_SUBPATH = (
    "This assignment delivers a sub-folder of its repository, which nbgitpuller cannot do: "
    "deliver the whole repository, or use home delivery."
)
HUB_SILENT = "waiting for the Hub to answer about the student's server ({why})"
NO_ACCOUNT = "The student has no account on the Hub: nothing was delivered."
NO_NBGITPULLER = (
    "nbgitpuller is not installed in this server's image: add it to the image, or use home "
    "delivery."
)
MINT_REFUSED = (
    "The Hub refused to make the delivery's token for {account}: {why} The delivery account "
    "needs a role with `access:servers`, and the service `tokens!user={account}` "
    "(docs/deploy.md)."
)
SERVER_REFUSED = (
    "The student's server refused the delivery's token (HTTP {status}): does the delivery "
    "account's role still grant `access:servers`?"
)
UNREACHABLE = (
    "Hubclass could not reach the student's server through the Hub's proxy at {proxy}: "
    "{why}. Is HUBCLASS_PROXY_URL right?"
)
BAD_ANSWER = "The student's server answered with {what}, not nbgitpuller's progress."
ENDED_EARLY = (
    "The student's server stopped answering before nbgitpuller said it had finished (the "
    "server stopped?): the folder may be half-updated by nbgitpuller. Distribute again."
)
TOO_SLOW = "nbgitpuller in the student's server did not finish in {seconds:g} s."
OTHER_ORIGIN = (
    "The student's {target} folder fetches from another repository ({origin}) than the "
    "assignment's ({url}): nbgitpuller merged that one's changes, not the course's (was the "
    "assignment's URL changed since the folder was cloned?). Have the student rename the "
    "folder, then distribute again."
)
NOT_A_CLONE = (
    "nbgitpuller found the student's {target} folder with no clone of the course in it (no "
    ".git of its own: inside another git repository, such as a home kept in git, nbgitpuller "
    "works on that one) and said it was already up to date: nothing was delivered. Have the "
    "student rename the folder, then distribute again."
)
AFTER_RESTORE = (
    "nbgitpuller said the student's {target} folder is already up to date, and Hubclass's "
    "database was restored from a backup since this delivery was asked for: the run that "
    "brought the folder the course's version may have been after that backup, and left no "
    "record. Hubclass cannot tell that the folder holds {commit}: check `git log` in it; a "
    "distribution after the course's next commit tells."
)
ORIGIN_UNKNOWN = (
    "nbgitpuller fetched nothing new into the student's {target} folder, so Hubclass cannot "
    "tell whether it holds the course's version {commit}: its origin may be another "
    "repository (was the assignment's URL changed since the folder was cloned?). Check `git "
    "remote -v` in that folder; a distribution after the course's next commit tells."
)
BUSY = (
    "nbgitpuller in the student's server was busy with another git operation all the while "
    "the delivery waited ({seconds:g} s): nothing was changed. Distribute again once it is free."
)


class Refused(Exception):
    """A delivery that ends without reaching nbgitpuller (its Result says why)."""

    def __init__(self, result: Result):
        super().__init__(result.error or result.waiting_for)
        self.result = result


@dataclass
class Stream:
    """What one nbgitpuller answer said."""

    finished: bool = False
    error: str | None = None
    error_code: str | None = None
    output: list[str] = field(default_factory=list)
    cloned: bool = False
    unchanged: bool = False
    renamed: list[dict[str, str]] = field(default_factory=list)
    # The command nbgitpuller said it runs ("$ git fetch"), whose output follows.
    command: str = ""
    fetched_from: str | None = None  # the folder's origin, as `git fetch` names it
    fast_forward_to: str | None = None  # an abbreviated commit

    def note(self, text: str) -> None:
        for line in text.splitlines():
            line = line.rstrip()
            if not line:
                continue
            if line.startswith("$ "):
                self.command = line
            if line.startswith("Cloning into"):
                self.cloned = True
            if "Already up to date" in line:
                self.unchanged = True
            fetched = FETCHED_FROM.match(line)
            if fetched and self.command == "$ git fetch" and self.fetched_from is None:
                self.fetched_from = fetched.group(1)
            forward = FAST_FORWARD.match(line)
            if forward and " merge " in self.command:
                self.fast_forward_to = forward.group(1)
            found = RENAMED.match(line)
            if found:
                self.renamed.append({"from": found.group(1), "to": found.group(2)})
            self.output.append(printable(line, OUTPUT_LINE_CHARS))
            del self.output[:-OUTPUT_LINES_KEPT]


# -- the session ---------------------------------------------------------------------------------

_session_lock = threading.Lock()
_sessions: dict[int, requests.Session] = {}


def _session(size: int) -> requests.Session:
    """One session per pool size and process: connections to the proxy are reused."""
    with _session_lock:
        session = _sessions.get(size)
        if session is None:
            session = requests.Session()
            # No proxies or .netrc from the environment: this session carries tokens.
            session.trust_env = False
            # No cookies either: one is shared by all the students' servers (one origin), so
            # one server's Set-Cookie would reach every other server after it.
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(size, 4))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[size] = session
        return session


# -- one delivery --------------------------------------------------------------------------------


def deliver(
    job: Job, context: Context, mirror_of: Callable[[], Mirror | Result], pool_size: int = 16
) -> Result:
    """Run nbgitpuller for the job in the student's running server and say what became of it;
    WAITING when the server is not running (or the Hub does not answer: asked again when the
    poll finds the server ready). `mirror_of` gives the course's mirror, or the Result of
    failing to: asked only once the server is known to run."""
    if job.kind == RESET:
        return _failed("needs_home", NEEDS_HOME_RESET)
    if job.subpath:
        return _failed("needs_home", NEEDS_HOME_SUBPATH)
    try:
        url, host = _server_url(job.username, context)
        mirror = mirror_of()
        if isinstance(mirror, Result):
            return mirror
        token = _mint(job, context)
    except Refused as refused:
        return refused.result
    try:
        stream = _call(url, host, job, context, mirror, token, pool_size)
    except Refused as refused:
        return refused.result
    finally:
        _revoke(token)
    return _result(stream, job, mirror)


class ReadyServers:
    """Whose servers run, as one listing of the Hub said within READY_SECONDS: a distribution
    to a class asks the Hub once, not once per student. A student missing from it is looked up
    alone (their server may have just started); one stopped since is caught by the proxy's
    answer (424, 503, or the Hub's page), which makes the delivery wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -READY_SECONDS
        self._users: dict[str, HubUser] = {}

    def get(self, username: str) -> HubUser | None:
        with self._lock:  # one listing at a time; the others wait for it, then read it
            if time.monotonic() - self._at >= READY_SECONDS:
                try:
                    self._users = {u.name: u for u in hub_client().list_users(state="ready")}
                except HubError as exc:
                    log.warning("The Hub's running servers could not be listed: %s", exc.message)
                    self._users = {}
                self._at = time.monotonic()
            return self._users.get(username)


def _ready_servers() -> ReadyServers:
    return current_app.extensions.setdefault(READY_EXTENSION, ReadyServers())


def _server_url(username: str, context: Context) -> tuple[str, str | None]:
    """nbgitpuller's endpoint in the student's server, and the Host to ask for (subdomain
    hubs); Refused when the student has no account or no running server."""
    try:
        user = _ready_servers().get(username) or hub_client().get_user(username)
    except HubError as exc:
        why = printable(exc.message, 300)
        raise Refused(Result(State.WAITING, waiting_for=HUB_SILENT.format(why=why))) from exc
    if user is None:
        raise Refused(_failed("no_hub_account", NO_ACCOUNT))
    if not user.server_ready:
        raise Refused(Result(State.WAITING, waiting_for=WAITING_FOR_SERVER))
    proxy = context.proxy_url or ""
    path = f"{context.base_url.rstrip('/')}/user/{quote(username, safe='@~')}/"
    host = None
    given = urlsplit(user.server_url or "")
    if given.scheme and given.netloc:
        # Subdomain hubs give each server its own host; the proxy routes by the Host header.
        host, path = given.netloc, given.path or path
    return f"{proxy}{path.rstrip('/')}/git-pull/api", host


def _mint(job: Job, context: Context) -> MintedToken:
    try:
        return hub_client().create_token(
            context.account,
            [f"access:servers!user={job.username}"],
            expires_in=int(context.timeout) + TOKEN_MARGIN_SECONDS,
            note=f"Hubclass: delivery {job.id} to {job.username}",
        )
    except HubError as exc:
        why = printable(exc.message, 300)
        if exc.code in HUB_TRANSIENT:
            waiting = HUB_SILENT.format(why=why)
            raise Refused(Result(State.WAITING, waiting_for=waiting)) from exc
        raise Refused(
            _failed("token_refused", MINT_REFUSED.format(account=context.account, why=why))
        ) from exc


# The status page's check, kept this long (any instructor may load the page at will).
PROBE_SECONDS = 60.0
_probe_lock = threading.Lock()
_probes: dict[str, tuple[float, str | None]] = {}
PROBE_SILENT = (
    "The Hub did not answer Hubclass's check that delivery tokens can be made for {account} "
    "({why}): deliveries through students' servers wait until it does. Is the Hub running?"
)


def token_problem(account: str) -> str | None:
    """Whether the Hub makes delivery tokens for `account`: one reaching only the account's
    own server (it has none) is made and revoked at once. None if it works, else the Hub's
    answer with what to change. Remembered for a minute per process."""
    # One check at a time: page loads meanwhile wait for it, then read what it found.
    with _probe_lock:
        now = time.monotonic()
        remembered = _probes.get(account)
        if remembered and now - remembered[0] < PROBE_SECONDS:
            return remembered[1]
        problem = None
        try:
            token = hub_client().create_token(
                account,
                [f"access:servers!user={account}"],
                expires_in=60,
                note="Hubclass: the status page's check that delivery tokens can be made",
            )
        except HubError as exc:
            why = printable(exc.message, 300)
            said = PROBE_SILENT if exc.code in HUB_TRANSIENT else MINT_REFUSED
            problem = said.format(account=account, why=why)
        else:
            _revoke(token)
        _probes[account] = (time.monotonic(), problem)
        return problem


def _revoke(token: MintedToken) -> None:
    """Revoke the token soon, off the delivery's path (its result need not wait for the Hub)."""
    REVOKER.put(hub_client(), token)


def _revoke_now(client: HubClient, token: MintedToken) -> None:
    try:
        client.revoke_token(token)
    except HubError as exc:  # it expires by itself soon; the delivery is not failed for it
        log.warning("The delivery token %s could not be revoked: %s", token.id, exc.message)
    except Exception:  # the revoker's thread must go on with the others
        log.exception("The delivery token %s could not be revoked", token.id)


class Revoker:
    """The tokens of ended deliveries, revoked one after another by a thread of this process as
    soon as they are given; at exit, those left are revoked before the process ends (a token
    must never outlive its delivery by more than the Hub takes to answer)."""

    EXIT_SECONDS = 10.0  # how long the exit waits for the thread before revoking the rest itself

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._left: list[tuple[HubClient, MintedToken]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, client: HubClient, token: MintedToken) -> None:
        with self._lock:
            if not self._closed:
                self._left.append((client, token))
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="hubclass-revoker", daemon=True
                    )
                    self._thread.start()
                    atexit.register(self.close)
                self._lock.notify()
                return
        _revoke_now(client, token)  # the process is ending: at once, here

    def _next(self) -> tuple[HubClient, MintedToken] | None:
        with self._lock:
            while not self._left and not self._closed:
                self._lock.wait()
            return self._left.pop(0) if self._left else None

    def _run(self) -> None:
        while (given := self._next()) is not None:
            _revoke_now(*given)

    def close(self) -> None:
        """Revoke what is left (the thread first, then this caller), and take no more."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(self.EXIT_SECONDS)
        while (given := self._take()) is not None:
            _revoke_now(*given)

    def _take(self) -> tuple[HubClient, MintedToken] | None:
        with self._lock:
            return self._left.pop(0) if self._left else None


REVOKER = Revoker()


def _params(job: Job, mirror: Mirror) -> dict[str, str]:
    # The mirror's branch: the one Hubclass records (the remote's default, resolved). depth 0
    # is nbgitpuller's full history; never `backup`.
    return {
        "repo": job.url,
        "branch": mirror.branch,
        "depth": str(job.depth or 0),
        "targetpath": job.target,
    }


def _call(
    url: str,
    host: str | None,
    job: Job,
    context: Context,
    mirror: Mirror,
    token: MintedToken,
    pool_size: int,
) -> Stream:
    """Ask nbgitpuller until it is not busy (or time is up); Refused when it cannot be asked."""
    started = time.monotonic()
    deadline = started + context.timeout
    busy_until = started + min(BUSY_SECONDS, context.timeout)
    pauses = iter(BUSY_PAUSES)
    while True:
        stream = _ask(url, host, job, mirror, token, context, deadline, pool_size)
        if not (stream.error and BUSY_SIGN in stream.error):
            return stream
        pause = next(pauses, BUSY_PAUSES[-1])
        if time.monotonic() + pause >= busy_until:
            waited = time.monotonic() - started
            raise Refused(_attention("server_busy", BUSY.format(seconds=round(waited))))
        time.sleep(pause)


def _ask(
    url: str,
    host: str | None,
    job: Job,
    mirror: Mirror,
    token: MintedToken,
    context: Context,
    deadline: float,
    pool_size: int,
) -> Stream:
    headers = {
        "Authorization": f"token {token.token}",
        "Accept": "text/event-stream",
        # Never compressed: a small compressed answer inflates past any cap (see _read).
        "Accept-Encoding": "identity",
    }
    if host:
        headers["Host"] = host
    session = _session(pool_size)
    origin = urlsplit(url)
    params: dict[str, str] | None = _params(job, mirror)
    for _ in range(MAX_REDIRECTS + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Refused(_failed("server_timeout", TOO_SLOW.format(seconds=context.timeout)))
        try:
            response = session.get(
                url,
                params=params,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_SECONDS, left),
            )
        except requests.RequestException as exc:
            why = printable(type(exc).__name__, 60)
            raise Refused(
                _failed("server_unreachable", UNREACHABLE.format(proxy=context.proxy_url, why=why))
            ) from exc
        with response:
            if response.is_redirect:
                # Followed only to this student's server on the proxy's own origin (the Hub
                # sends /user/<name>/ to /hub/user/<name>/ for a server that is not running):
                # the token goes nowhere else, not even to the Hub's API.
                target = urljoin(url, response.headers.get("Location", ""))
                moved = urlsplit(target)
                if (moved.scheme, moved.netloc) != (origin.scheme, origin.netloc) or not (
                    _in_server(moved.path, job.username, context.base_url)
                ):
                    elsewhere = BAD_ANSWER.format(what="a redirect elsewhere")
                    raise Refused(_failed("server_bad_answer", elsewhere))
                url, params = target, None
                continue
            return _read(response, job, deadline, context)
    raise Refused(_failed("server_bad_answer", BAD_ANSWER.format(what="redirect after redirect")))


def _in_server(path: str, username: str, base_url: str) -> bool:
    """Whether a path is under the student's server, `<base>user/<name>/` or
    `<base>hub/user/<name>/`, with no `.` or `..` step (encoded or not) out of it."""
    if {".", ".."} & set(unquote(path).split("/")):
        return False
    base = base_url.rstrip("/")
    name = quote(username, safe="@~")  # as the Hub writes it in its URLs
    return any(path.startswith(f"{base}{under}/{name}/") for under in ("/user", "/hub/user"))


def _read(response: requests.Response, job: Job, deadline: float, context: Context) -> Stream:
    status = response.status_code
    if status in (424, 503):
        # The Hub's answer for a stopped server (older Hubs 503), but a running server may
        # answer it too (the student's own): asked again at every poll, it would never end.
        running = BAD_ANSWER.format(what=f"HTTP {status} while the Hub says it runs")
        raise Refused(_unless_stopped(job, _failed("server_bad_answer", running)))
    if status == 404:
        raise Refused(_unless_stopped(job, _failed("no_nbgitpuller", NO_NBGITPULLER)))
    if status in (401, 403):
        raise Refused(_failed("server_refused_token", SERVER_REFUSED.format(status=status)))
    if status != 200:
        raise Refused(_failed("server_bad_answer", BAD_ANSWER.format(what=f"HTTP {status}")))
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused(_failed("server_bad_answer", BAD_ANSWER.format(what="a compressed answer")))
    kind = response.headers.get("Content-Type", "")
    # nbgitpuller says "busy" before it sets its content type (text/html then): a short
    # answer of another type is read too, and judged by what it says.
    events = kind.startswith("text/event-stream")
    stream = Stream()
    try:
        for line in _lines(response, deadline, MAX_ANSWER_BYTES if events else OTHER_ANSWER_BYTES):
            _event(stream, line)
            if stream.finished or stream.error:  # an error may come twice: the first says it
                break
    except TimeoutError:
        raise Refused(_failed("server_timeout", TOO_SLOW.format(seconds=context.timeout))) from None
    except requests.RequestException:
        raise Refused(_failed("server_stream_ended", ENDED_EARLY)) from None
    except ValueError as exc:
        raise Refused(_failed("server_bad_answer", BAD_ANSWER.format(what=str(exc)))) from None
    if not (stream.finished or stream.error):
        if not events:
            what = printable(kind, 60) or "no content type"
            raise Refused(_failed("server_bad_answer", BAD_ANSWER.format(what=what)))
        raise Refused(_failed("server_stream_ended", ENDED_EARLY))
    return stream


def _lines(response: requests.Response, deadline: float, cap: int):
    """The answer's lines, as bytes, within the caps; TimeoutError past the deadline. Linear
    in the answer, however it is cut: a line sent a byte per chunk is searched once."""
    buffer = bytearray()
    total = 0
    # A bounded size: `None` reads an answer without chunks to its end, and a chunk whole,
    # before the caps are looked at.
    for chunk in response.iter_content(chunk_size=READ_BYTES):
        total += len(chunk)
        if total > cap:
            raise ValueError(f"more than {cap >> 10} KiB")
        begin, searched = 0, len(buffer)
        buffer += chunk
        end = buffer.find(b"\n", searched)
        while end != -1:
            yield bytes(buffer[begin:end])
            begin = end + 1
            end = buffer.find(b"\n", begin)
        del buffer[:begin]
        if len(buffer) > MAX_LINE_BYTES:
            raise ValueError("a line longer than 1 MiB")
        if time.monotonic() > deadline:
            raise TimeoutError
    if buffer:
        yield bytes(buffer)


def _event(stream: Stream, line: bytes) -> None:
    """Take in one line of the event stream; anything but `data: {json}` is skipped."""
    if not line.startswith(b"data:"):
        return
    try:
        event = json.loads(line[5:].decode("utf-8", "replace"))
    except ValueError:
        return
    if not isinstance(event, dict):
        return
    output = event.get("output")
    if isinstance(output, str):
        stream.note(output)
    phase = event.get("phase")
    if phase == "finished":
        stream.finished = True
    elif phase == "error":
        message = event.get("message")
        stream.error = printable(message if isinstance(message, str) else "unknown error", 500)
        error = event.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        stream.error_code = printable(code, 60) if isinstance(code, str) else None


def _unless_stopped(job: Job, otherwise: Result) -> Result:
    """What an answer that may mean "no server" means: waiting if the Hub says the server is
    not running (it went away meanwhile), else `otherwise`."""
    try:
        user = hub_client().get_user(job.username)
    except HubError as exc:
        return Result(State.WAITING, waiting_for=HUB_SILENT.format(why=printable(exc.message, 300)))
    if user is None:
        return _failed("no_hub_account", NO_ACCOUNT)
    if not user.server_ready:
        return Result(State.WAITING, waiting_for=WAITING_FOR_SERVER)
    return otherwise


def _result(stream: Stream, job: Job, mirror: Mirror) -> Result:
    if stream.error:
        # The report keeps nbgitpuller's own words (the table shows their first clause).
        said = {"code": "server_sync_failed", "message": stream.error}
        message = f"nbgitpuller in the student's server: {stream.error}"
        report = _report("failed", stream, said)
        return Result(State.FAILED, "failed", None, report, message, way=SERVER)
    unknown = _not_the_courses(stream, job, mirror)
    if unknown is not None:
        return unknown
    outcome = "cloned" if stream.cloned else "unchanged" if stream.unchanged else "updated"
    report = _report(outcome, stream, None, after=mirror.commit)
    return Result(State.DONE, outcome, mirror.commit, report, branch=mirror.branch, way=SERVER)


def _not_the_courses(stream: Stream, job: Job, mirror: Mirror) -> Result | None:
    """None when what nbgitpuller said shows the folder got the course's commit; else the
    delivery needs attention (the commit recorded would be a guess)."""
    if stream.cloned:  # a clone is of the assignment's URL itself
        return None
    if stream.fetched_from is not None:
        if _same_repository(stream.fetched_from, job.url):
            return None
        origin = printable(stream.fetched_from, 200)
        message = OTHER_ORIGIN.format(target=job.target, origin=origin, url=job.url)
        return _attention("server_other_origin", message, stream)
    # Nothing fetched: the folder's origin is not named; only its commit can tell.
    commit = mirror.commit or ""
    if stream.fast_forward_to is not None and commit.startswith(stream.fast_forward_to):
        return None
    if stream.unchanged and stream.fast_forward_to is None:
        if job.given == commit:
            return None  # it had this commit, and nothing came since
        if job.restored_since:
            message = AFTER_RESTORE.format(target=job.target, commit=commit[:12])
            return _attention("server_after_restore", message, stream)
        if job.given is None:
            return _attention("server_not_a_clone", NOT_A_CLONE.format(target=job.target), stream)
    message = ORIGIN_UNKNOWN.format(target=job.target, commit=commit[:12])
    return _attention("server_origin_unknown", message, stream)


def _same_repository(said: str, url: str) -> bool:
    """Whether git's name of a remote (credentials and a trailing `.git` left out) is `url`."""
    return _plain(said) == _plain(url)


def _plain(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme and parts.netloc:
        url = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
    return url.rstrip("/").removesuffix(".git").rstrip("/")


def _report(
    outcome: str, stream: Stream, error: dict[str, str] | None, after: str | None = None
) -> dict[str, Any]:
    """A report in the engine's shape (the pages read one kind), with what nbgitpuller said:
    it does not tell which edits it kept."""
    return {
        "outcome": outcome,
        "before": None,
        "after": after,
        "updated": [],
        "kept": [],
        "restored": [],
        "renamed": stream.renamed,
        "error": error,
        "not_applied": [],
        "way": SERVER,
        "output": stream.output,
    }


def _failed(code: str, message: str) -> Result:
    report = {"outcome": "failed", "error": {"code": code, "message": message}, "way": SERVER}
    return Result(State.FAILED, "failed", None, report, message, way=SERVER)


def _attention(code: str, message: str, stream: Stream | None = None) -> Result:
    error = {"code": code, "message": message}
    report: dict[str, Any] = {"outcome": "needs_attention"}
    if stream is not None:  # what nbgitpuller said, for the student's delivery page
        report = _report("needs_attention", stream, error)
    report.update(error=error, way=SERVER)
    return Result(State.ATTENTION, "needs_attention", None, report, message, way=SERVER)
