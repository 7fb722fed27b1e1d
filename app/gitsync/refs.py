"""Read refs straight from a git directory, to spare a git process where one file read will do,
and the branch a remote's HEAD names.

Only for the files-backend layout git 2.39 writes (loose refs, then ``packed-refs``). Any surprise
returns None and the caller falls back to asking git.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import GitSyncError

_SHA = re.compile(rb"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
BRANCH = re.compile(
    r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*\.lock(?:/|$))[A-Za-z0-9._/-]{1,200}(?<![./])$"
)


# How HEAD names its branch, in .git/HEAD and in `git ls-remote --symref`.
_HEAD_BRANCH = "ref: refs/heads/"


def valid_branch(name: str) -> bool:
    """A strict subset of git's ref-name rules: safe in argv, config and refspecs."""
    return bool(BRANCH.match(name)) and not any(part.startswith(".") for part in name.split("/"))


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(4096).strip()
    except OSError:
        return None


def read_ref(git_dir: Path, ref: str) -> str | None:
    """Return the object id ``ref`` (e.g. ``refs/heads/main``) points at, or None."""
    value = _read(git_dir / ref)
    if value is not None:
        return value.decode() if _SHA.match(value) else None
    packed = _read(git_dir / "packed-refs")
    if not packed:
        return None
    for line in packed.splitlines():
        if line.endswith(b" " + ref.encode()) and _SHA.match(line.split(b" ", 1)[0]):
            return line.split(b" ", 1)[0].decode()
    return None


def read_head(git_dir: Path) -> tuple[str | None, str | None]:
    """Return (branch name or None when detached, commit or None when unborn/unreadable)."""
    value = _read(git_dir / "HEAD")
    if value is None:
        return None, None
    if value.startswith(_HEAD_BRANCH.encode()):
        branch = value[len(_HEAD_BRANCH) :].decode("utf-8", "replace")
        return branch, read_ref(git_dir, "refs/heads/" + branch)
    if _SHA.match(value):
        return None, value.decode()
    return None, None


def remote_head(ls_remote: str) -> str:
    """Return the branch the remote's HEAD names, from ``git ls-remote --symref -- URL HEAD``.

    That is the branch ``git clone`` would check out.
    """
    for line in ls_remote.splitlines():
        if line.startswith(_HEAD_BRANCH) and line.endswith("\tHEAD"):
            return line[len(_HEAD_BRANCH) : -len("\tHEAD")]
    raise GitSyncError("branch_not_found", "The repository has no default branch.")
