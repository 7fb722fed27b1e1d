"""Become the workspace's owner, then run the engine: the body of each forked sync process.

The owner of the folder that holds the workspace (the student's home) decides who we become:
its uid, and that user's primary group, with every supplementary group dropped (Python's
``subprocess(user=...)`` would keep root's groups unless told otherwise; here there is no
subprocess, the process itself changes). From then on every file operation and every git command
happens with the student's rights, so a symlink swapped in by the student, a hook, a filter or a
gitfile in their ``.git`` can reach nothing the student could not reach already.

Before dropping, and only when a mirror is used, the process forks a small helper that keeps the
service's identity and, on request, starts ``git upload-pack`` on the mirror connected to a fresh
socket (``MirrorChannel``); the student's git fetches through ``fd::N`` from that socket.

When root works for a service account whose data dir holds the mirrors (a root worker beside a
web process run as that account), everything that touches a mirror happens as that account: the
mirror's fetch (``fetch_mirror``, a request of its own), the reads of its refs and ready packs,
and the helper. Root never runs git in, nor reads by path from, a folder another account
controls (git itself refuses such a repository to root: "dubious ownership").
"""

from __future__ import annotations

import os
import pwd
import resource
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .engine import ReadyPack, Request, Source, sync_workspace
from .errors import GitSyncError
from .mirror import (
    DEFAULT_MAX_FILE_BYTES,
    ensure_mirror,
    mirror_branch,
    mirror_commit,
    mirror_has,
    mirror_name,
    missing_paths,
    newer_on_branch,
    ready_packs,
)
from .report import SyncReport
from .reset import not_in_course, reset_workspace
from .runner import Git, hardened_env

STUDENT_UMASK = 0o022
# What the service account makes in its data dir (mirrors) is its own alone.
SERVICE_UMASK = 0o077
# (uid, gid) of an account to act as.
Account = tuple[int, int]


def owner_of(dest: Path) -> tuple[int, int]:
    """Return (uid, gid) to run as: the owner of ``dest``'s parent and their primary group."""
    try:
        info = os.lstat(dest.parent)
    except OSError:
        raise GitSyncError(
            "parent_missing", "The folder that should hold the workspace does not exist."
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise GitSyncError("parent_invalid", "The folder that holds the workspace is not a folder.")
    try:
        gid = pwd.getpwuid(info.st_uid).pw_gid
    except KeyError:
        gid = info.st_gid
    return info.st_uid, gid


def become(uid: int, gid: int) -> None:
    """Drop to uid/gid for good (real, effective and saved ids), with no supplementary groups."""
    if os.geteuid() != 0:
        if uid != os.geteuid():
            raise GitSyncError(
                "owner_mismatch",
                f"The workspace's folder belongs to uid {uid}, and this process (uid "
                f"{os.geteuid()}) is not root: run as root or as that user.",
            )
        return
    if uid == 0 or gid == 0:
        raise GitSyncError(
            "owner_is_root",
            "The workspace's folder belongs to root; git never runs as root in a workspace.",
        )
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise GitSyncError("privilege_drop_failed", "Could not switch to the workspace's owner.")


def _account(value: Any) -> Account | None:
    """The (uid, gid) a request names, or None; root (0) is never one to act as."""
    if not value:
        return None
    uid, gid = (int(part) for part in value)
    if uid == 0 or gid == 0:
        raise GitSyncError("owner_is_root", "Root is not an account to act for.")
    return uid, gid


@contextmanager
def acting_as(account: Account | None) -> Iterator[None]:
    """Open and read files as ``account`` for a while (effective ids only), then be root again.

    Only in a single-threaded process (a forked child): the ids belong to the whole process.
    """
    if account is None or os.geteuid() != 0:
        yield
        return
    os.setgroups([])  # root's groups must not open what the account could not
    os.setegid(account[1])
    os.seteuid(account[0])
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


class MirrorChannel:
    """Hand out sockets connected to fresh ``git upload-pack`` processes serving one mirror."""

    def __init__(self, mirror: Path, deadline: float, account: Account | None = None) -> None:
        self.mirror = mirror
        self.deadline = deadline
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the helper: the service's identity, serves until the socket closes
            keep = theirs.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
            try:
                if account is not None and os.geteuid() == 0:
                    become(*account)  # the mirrors' owner: git serves them to nobody else
                self._serve(theirs)
            finally:
                os._exit(0)
        theirs.close()

    def _serve(self, sock: socket.socket) -> None:
        running: list[subprocess.Popen[bytes]] = []
        # A reset fetches the commit the student was given by its id, which the branch may
        # have moved past; only commits of the mirror's own branch are served, nothing else.
        git = Git(self.deadline, config=("uploadpack.allowReachableSHA1InWant=true",))
        while sock.recv(1):
            ours, student = socket.socketpair()
            seconds = max(int(self.deadline - time.monotonic()), 1)
            running.append(
                subprocess.Popen(
                    git.command(
                        ["upload-pack", "--strict", f"--timeout={seconds}", str(self.mirror)]
                    ),
                    stdin=ours.fileno(),
                    stdout=ours.fileno(),
                    stderr=subprocess.DEVNULL,
                    env=hardened_env(),
                    cwd="/",
                )
            )
            ours.close()
            socket.send_fds(sock, [b"k"], [student.fileno()])
            student.close()
            running = [proc for proc in running if proc.poll() is None]
        sock.close()

    def connect(self) -> int:
        self.sock.send(b"c")
        _, fds, _, _ = socket.recv_fds(self.sock, 1, 1)
        if not fds:
            raise GitSyncError("mirror_unavailable", "The mirror could not be opened.")
        return fds[0]

    def close(self) -> None:
        self.sock.close()


def open_ready_pack(pack: Path | None, base: str | None = None) -> ReadyPack | None:
    """Open a ready pack now, while we may still read the service's data dir."""
    if pack is None:
        return None
    try:
        pack_fd = os.open(pack, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        idx_fd = os.open(pack.with_suffix(".idx"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(pack_fd)
        return None
    return ReadyPack(pack.stem, pack_fd, idx_fd, base)


def run_request(data: dict[str, Any]) -> SyncReport:
    """Run one sync or reset described by ``data`` (see ``workspace``); call in a fresh process."""
    deadline = time.monotonic() + float(data["timeout"])
    dest = Path(data["dest"])
    branch = data.get("branch")
    source = Source(url=data["url"])
    channel = None
    try:
        uid, gid = owner_of(dest)
        if data.get("owner") is not None and uid != data["owner"]:
            raise GitSyncError(
                "owner_changed",
                f"The folder that holds the workspace belongs to uid {uid}, not to uid "
                f"{data['owner']} it was checked for.",
            )
        if data.get("mirror"):
            mirror = Path(data["mirror"])
            account = _account(data.get("mirror_account"))
            with acting_as(account):
                branch = branch or mirror_branch(mirror)
                if not branch or mirror.name != mirror_name(data["url"], branch):
                    raise GitSyncError(
                        "mirror_mismatch",
                        "The mirror given is not the mirror of this URL and branch.",
                    )
                # A reset brings the commit the student was given; a sync, the branch's newest.
                pinned = data.get("commit")
                expected = pinned or mirror_commit(mirror, branch)
            if expected is None:
                raise GitSyncError("mirror_empty", "The mirror has no commit for this branch.")
            if pinned and not mirror_has(mirror, branch, pinned, deadline, account):
                raise GitSyncError(
                    "commit_not_in_course",
                    f"The course repository's branch {branch!r} does not have the commit the "
                    f"student was given ({pinned[:12]}): the branch was force-pushed past it, "
                    "or that commit came from another branch. Distribute the assignment "
                    "again, then reset.",
                )
            newer: frozenset[str] = frozenset()
            if pinned:
                wanted = list(data.get("paths") or [])
                missing = missing_paths(mirror, pinned, wanted, deadline, account)
                if missing:
                    raise not_in_course(missing)
                newer = newer_on_branch(mirror, branch, pinned, deadline, account)
            with acting_as(account):
                full, step = ready_packs(mirror, expected)
                full_pack = open_ready_pack(full)
                step_pack = open_ready_pack(step[1], step[0]) if step and not pinned else None
            channel = MirrorChannel(mirror, deadline, account)
            source = Source(
                url=data["url"],
                branch=branch,
                expected=expected,
                connect_fd=channel.connect,
                full=full_pack,
                step=step_pack,
                pinned=bool(pinned),
                newer=newer,
            )
        become(uid, gid)
    except GitSyncError as exc:
        if channel is not None:
            channel.close()
        return SyncReport.problem("failed", exc.code, exc.message)
    os.umask(STUDENT_UMASK)
    limit = int(data.get("max_file_bytes") or DEFAULT_MAX_FILE_BYTES)
    # The size cap: git writing any file above it (a pack, a checked-out blob) dies of SIGXFSZ.
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir("/")
    request = Request(
        url=data["url"],
        dest=dest,
        branch=branch,
        path=data.get("path"),
        policy=data["policy"],
        dry_run=bool(data.get("dry_run")),
        deadline=deadline,
        depth=data.get("depth", 1),
        course_copies=bool(data.get("course_copies")),
    )
    try:
        if data.get("operation") == "reset":
            return reset_workspace(request, source, list(data.get("paths") or []))
        return sync_workspace(request, source)
    finally:
        if channel is not None:
            channel.close()


def fetch_mirror(data: dict[str, Any]) -> dict[str, Any]:
    """Fetch a mirror as the account that owns the mirrors (``data["account"]``), for good."""
    try:
        account = _account(data.get("account"))
        if account is None:
            raise GitSyncError("account_missing", "No account to fetch the mirror as.")
        become(*account)
        os.umask(SERVICE_UMASK)
        os.chdir("/")
        path = ensure_mirror(
            data["url"],
            data.get("branch"),
            data["mirrors_dir"],
            timeout=float(data["timeout"]),
            max_file_bytes=int(data.get("max_file_bytes") or DEFAULT_MAX_FILE_BYTES),
            max_tree_bytes=int(data["max_tree_bytes"]),
            max_tree_entries=int(data["max_tree_entries"]),
        )
    except GitSyncError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}
    return {"path": str(path)}


def run_any(data: dict[str, Any]) -> dict[str, Any]:
    """Run one request of the fork server: a mirror's fetch, or a sync (the default)."""
    if data.get("kind") == "mirror":
        return fetch_mirror(data)
    return run_request(data).to_json()
