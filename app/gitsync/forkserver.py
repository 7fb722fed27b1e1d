"""A fork server: one small Python process, started once, that forks a fresh child per sync.

Why: each sync must run in its own process (it gives up root for good), but starting a new
interpreter and importing the engine for each of hundreds of students costs far more than the
sync itself. The server imports everything once; ``fork()`` of a single-threaded process is then
about a millisecond. Forking the web process itself is not an option: it has threads (workers, the
poller), and a fork taken while another thread holds a lock can deadlock.

Protocol: the client owns one end of a private ``SOCK_SEQPACKET`` pair (no path on disk, so no one
else can ask the server for anything). For each sync it makes a stream socketpair and passes one
end over (SCM_RIGHTS); the server forks, the child reads the JSON request from that socket, writes
its pid on one line, then the JSON report, and exits. The server exits when the client's end closes.
"""

from __future__ import annotations

import atexit
import codecs
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .report import SyncReport
from .runner import SAFE_PATH

# The child enforces the deadline on each git command; this is the extra time the client waits
# before it kills the child's whole session itself.
GRACE_SECONDS = 10.0
# The most a child's answer may be. It runs as the student, on the student's files: a report of
# a sane folder is far smaller (the repository's limits bound its lists).
MAX_ANSWER_BYTES = 64 << 20
# How much nicer than the service the syncs run (the server, its children and all their git):
# a distribution to hundreds of students may hold every core for minutes, and the instructors'
# pages, the Hub's own requests and the worker's records must not queue behind it
# (bench/load.py). The kernel gives a nice 10 process about a tenth of a busy core beside one
# at 0; idle cores it still gets whole, so a distribution alone is no slower.
NICER_BY = 10
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` (the child and all the git processes it started,
    which sit in process groups of their own within that session)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if os.getsid(pid) == sid:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def _child(conn: socket.socket) -> None:
    conn.sendall(f"{os.getpid()}\n".encode())
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    try:
        from .asuser import run_any

        answer = run_any(json.loads(b"".join(chunks)))
    except Exception:
        traceback.print_exc(file=sys.stderr)
        failed = SyncReport.problem("failed", "internal_error", "The sync process failed.")
        answer = failed.to_json()
    conn.sendall(json.dumps(answer).encode())
    conn.close()


def _preload() -> None:
    """Import now whatever the children would import lazily: once a child is the student it may
    not be able to read the Python installation (a root-only pyenv, say)."""
    from . import asuser  # noqa: F401 -- the engine itself
    from .notebooks import prepare

    prepare()

    for codec in ("ascii", "latin-1", "utf-8", "unicode_escape"):
        codecs.lookup(codec)
    datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def serve(fd: int) -> None:
    """The server loop (runs in the server process)."""
    os.nice(NICER_BY)  # inherited by every child and git process; a student cannot undo it
    _preload()

    control = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished children
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the client; we follow its socket
    while True:
        message, fds, _, _ = socket.recv_fds(control, 16, 4)
        if not message:
            break
        for extra in fds[1:]:
            os.close(extra)
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.setsid()  # the session the client kills on timeout
                _child(socket.socket(fileno=fds[0]))
            except BaseException:
                traceback.print_exc(file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])


class ForkServer:
    """Client side: start the server lazily, send requests, enforce the wall-clock limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner_pid = 0

    def start(self) -> None:
        with self._lock:
            self._ensure()

    def _ensure(self) -> socket.socket:
        alive = self._proc is not None and self._proc.poll() is None
        if alive and self._owner_pid == os.getpid() and self._control is not None:
            return self._control
        if self._owner_pid == os.getpid():
            self._stop_locked()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The server needs only this package: a bare "app" package object stands in for the
        # real one, so the web app's imports (Flask, SQLAlchemy, ...) are not loaded in it.
        code = (
            "import sys, types; "
            "app = types.ModuleType('app'); "
            f"app.__path__ = [{str(PROJECT_ROOT / 'app')!r}]; "
            "sys.modules['app'] = app; "
            f"from app.gitsync.forkserver import serve; serve({theirs.fileno()})"
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-c", code],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            cwd="/",
            env={"PATH": SAFE_PATH, "LANG": "C.UTF-8"},
        )
        theirs.close()
        self._control = ours
        self._owner_pid = os.getpid()
        return ours

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._control is not None:
            self._control.close()  # the server sees EOF and exits; running children finish
            self._control = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def run(self, request: dict[str, Any], timeout: float) -> SyncReport:
        """Run one sync in a fresh child; return its report (a failed one on timeout)."""
        answer = self.call(request, timeout)
        if isinstance(answer, SyncReport):
            return answer
        return SyncReport.from_json(answer)

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | SyncReport:
        """Run one request in a fresh child; return its JSON answer, or a failed report when
        the child did not answer (killed at the deadline, or dead)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with ours, theirs:
            with self._lock:
                control = self._ensure()
                socket.send_fds(control, [b"r"], [theirs.fileno()])
            theirs.close()
            ours.sendall(json.dumps(request).encode())
            ours.shutdown(socket.SHUT_WR)
            give_up = time.monotonic() + timeout + GRACE_SECONDS
            data = bytearray()
            while len(data) <= MAX_ANSWER_BYTES:
                ours.settimeout(max(give_up - time.monotonic(), 0.001))
                try:
                    chunk = ours.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                data += chunk
            head, _, body = bytes(data).partition(b"\n")
            what = "reset" if request.get("operation") == "reset" else "sync"
            if len(data) > MAX_ANSWER_BYTES:
                if head.isdigit():
                    kill_session(int(head))
                return SyncReport.problem(
                    "failed", "internal_error", f"The {what}'s report was too large to keep."
                )
            if body:
                return json.loads(body)
            if head.isdigit():
                kill_session(int(head))
            if time.monotonic() >= give_up:
                return SyncReport.problem(
                    "failed", "timeout", f"The {what} did not finish in time."
                )
            return SyncReport.problem("failed", "internal_error", f"The {what} process died.")


_default = ForkServer()
atexit.register(_default.stop)


def default_server() -> ForkServer:
    return _default


def start_fork_server() -> None:
    """Start the shared fork server now (optional: the first sync starts it otherwise)."""
    _default.start()


def stop_fork_server() -> None:
    """Stop the shared fork server; syncs still running in its children finish on their own."""
    _default.stop()
