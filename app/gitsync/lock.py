"""Keep two syncs of one workspace from overlapping, and tell a stale git lock from a live one.

The workspace lock is an ``flock`` on ``.<name>.hubclass.lock`` beside the workspace, taken by the
process that already runs as the student (so the file is theirs, never root's). The kernel drops
it when that process exits, however it exits, so a killed worker never leaves a lock behind.

git's own ``.git/index.lock`` is different: a crashed git leaves it forever and every later git
command fails. Like nbgitpuller we treat one older than ten minutes as stale, but we also check
that no git process is working in the repository, because a slow git (a big checkout on a busy
NFS home) can legitimately hold it that long.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import GitSyncError

STALE_INDEX_LOCK_SECONDS = 600
LOCK_POLL_SECONDS = 0.05


def lock_path(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.hubclass.lock"


@contextmanager
def workspace_lock(dest: Path, wait: float) -> Iterator[None]:
    """Hold the workspace lock; wait up to ``wait`` seconds, then raise ``workspace_busy``."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(lock_path(dest), flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise GitSyncError("lock_invalid", "The workspace lock file is a symlink.") from None
        raise GitSyncError(
            "lock_failed", f"Cannot create the workspace lock beside the folder ({exc.strerror})."
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GitSyncError("lock_invalid", "The workspace lock is not a regular file.")
        give_up = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    raise GitSyncError(
                        "workspace_busy", "Another sync of this folder is still running."
                    ) from None
                time.sleep(LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)


def git_processes_in(path: Path) -> list[int]:
    """Return ids of git processes (that we may inspect) whose working dir is inside ``path``."""
    try:
        root = os.path.realpath(path)
    except OSError:
        return []
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/comm", encoding="utf-8", errors="replace") as handle:
                comm = handle.read().strip()
            if not comm.startswith("git"):
                continue
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue  # gone, or another user's process: not one that can hold this repo
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(int(entry.name))
    return found


def index_lock_state(dest: Path, now: float | None = None) -> str:
    """Return "none", "stale" (safe to remove), "orphaned" (fresh, no git) or "busy"."""
    lock = dest / ".git" / "index.lock"
    try:
        age = (time.time() if now is None else now) - os.lstat(lock).st_mtime
    except FileNotFoundError:
        return "none"
    if git_processes_in(dest):
        return "busy"
    return "stale" if age > STALE_INDEX_LOCK_SECONDS else "orphaned"
