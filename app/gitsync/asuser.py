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
"""

from __future__ import annotations

import os
import pwd
import resource
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from .engine import ReadyPack, Request, Source, sync_workspace
from .errors import GitSyncError
from .mirror import (
    DEFAULT_MAX_FILE_BYTES,
    mirror_branch,
    mirror_commit,
    mirror_has,
    mirror_name,
    ready_packs,
)
from .report import SyncReport
from .reset import reset_workspace
from .runner import Git, hardened_env

STUDENT_UMASK = 0o022


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


class MirrorChannel:
    """Hand out sockets connected to fresh ``git upload-pack`` processes serving one mirror."""

    def __init__(self, mirror: Path, deadline: float) -> None:
        self.mirror = mirror
        self.deadline = deadline
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the helper: keeps the service's identity, serves until the socket closes
            keep = theirs.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
            try:
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
            branch = branch or mirror_branch(mirror)
            if not branch or mirror.name != mirror_name(data["url"], branch):
                raise GitSyncError(
                    "mirror_mismatch", "The mirror given is not the mirror of this URL and branch."
                )
            # A reset brings the commit the student was given; a sync, the branch's newest.
            pinned = data.get("commit")
            expected = pinned or mirror_commit(mirror, branch)
            if expected is None:
                raise GitSyncError("mirror_empty", "The mirror has no commit for this branch.")
            if pinned and not mirror_has(mirror, branch, pinned, deadline):
                raise GitSyncError(
                    "commit_not_in_course",
                    f"The course repository's branch no longer has the commit the student was "
                    f"given ({pinned[:12]}): its history was rewritten. Distribute the "
                    "assignment again, then reset.",
                )
            channel = MirrorChannel(mirror, deadline)
            full, step = ready_packs(mirror, expected)
            source = Source(
                url=data["url"],
                branch=branch,
                expected=expected,
                connect_fd=channel.connect,
                full=open_ready_pack(full),
                step=open_ready_pack(step[1], step[0]) if step and not pinned else None,
                pinned=bool(pinned),
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
    )
    try:
        if data.get("operation") == "reset":
            return reset_workspace(request, source, list(data.get("paths") or []))
        return sync_workspace(request, source)
    finally:
        if channel is not None:
            channel.close()
