"""``sync()`` and ``reset()``: the entry points the app calls for one student's workspace."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from .engine import POLICIES, valid_subpath
from .errors import GitSyncError
from .forkserver import default_server
from .mirror import DEFAULT_MAX_FILE_BYTES
from .refs import valid_branch
from .report import SyncReport
from .reset import path_problem
from .urls import validate_repo_url

DEFAULT_TIMEOUT = 300.0
COMMIT = re.compile(r"^[0-9a-f]{40}$")
log = logging.getLogger(__name__)


def _failed(code: str, message: str) -> SyncReport:
    return SyncReport.problem("failed", code, message)


def _target(
    url: str,
    dest: Path | str,
    branch: str | None,
    path: str | None,
    allowed_prefixes: list[str],
) -> Path:
    """Check what every run of the engine is given; return the workspace's absolute path."""
    validate_repo_url(url, allowed_prefixes)
    raw = os.fspath(dest)
    if not raw or "\0" in raw:
        raise GitSyncError("dest_invalid", "The workspace path is empty or contains NUL.")
    target = Path(os.path.abspath(raw))
    if target.parent == target:
        raise GitSyncError("dest_invalid", "The workspace path cannot be the root folder.")
    if branch is not None and not valid_branch(branch):
        raise GitSyncError("branch_invalid", "The branch name is refused.")
    if path is not None and not valid_subpath(path):
        raise GitSyncError("path_invalid", "The sub-folder must be plain names separated by '/'.")
    return target


def _run(request: dict[str, Any], what: str) -> SyncReport:
    report = default_server().run(request, request["timeout"])
    log.info(
        "gitsync %s %r -> %r: %s%s",
        what,
        request["url"],
        request["dest"],
        report.outcome,
        f" ({report.error_code})" if report.error_code else "",
    )
    return report


def _request(
    url: str,
    target: Path,
    branch: str | None,
    path: str | None,
    policy: str,
    mirror: Path | str | None,
    timeout: float,
    max_file_bytes: int,
    owner: int | None,
    depth: int | None,
    mirror_account: tuple[int, int] | None,
) -> dict[str, Any]:
    """What a sync and a reset both send the process that becomes the student; the depth
    checked, since both may clone."""
    if depth is not None and (type(depth) is not int or depth < 1):
        raise GitSyncError("depth_invalid", "The history depth must be a whole number from 1.")
    return {
        "url": url,
        "dest": str(target),
        "branch": branch,
        "path": path,
        "policy": policy,
        "mirror": os.fspath(mirror) if mirror is not None else None,
        "timeout": timeout,
        "max_file_bytes": max_file_bytes,
        "owner": owner,
        "depth": depth,
        "mirror_account": list(mirror_account) if mirror_account else None,
    }


def sync(
    url: str,
    dest: Path | str,
    *,
    branch: str | None = None,
    path: str | None = None,
    policy: str = "needs_attention",
    allowed_prefixes: list[str],
    mirror: Path | str | None = None,
    dry_run: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    owner: int | None = None,
    depth: int | None = 1,
    mirror_account: tuple[int, int] | None = None,
    course_copies: bool = False,
) -> SyncReport:
    """Sync the workspace ``dest`` from ``url`` as the owner of ``dest``'s parent; never raises
    for a workspace problem: every outcome, refusals included, comes back as a report.

    ``mirror`` is a path returned by ``ensure_mirror(url, branch, ...)``; with it the student's
    fetch reads the mirror (through a socket, see ``asuser``) instead of the network. ``policy``
    decides unsafe states: "needs_attention" (leave the folder alone) or "backup" (move it to
    ``<dest>_backup_<timestamp>`` and clone fresh). ``timeout`` bounds the whole sync.
    ``depth``: the commits of history a fresh clone gets (None: all); a shallow folder with
    less history is deepened, one with more keeps it. ``owner``: the uid the caller checked the
    parent belongs to; a parent that belongs to anyone else when the sync starts (swapped in
    between) is refused, so the sync never runs as them.
    ``mirror_account``: the (uid, gid) that owns the mirror, when root syncs for a service
    account: the mirror is read and served as that account (see ``asuser``).
    ``course_copies``: leave the course's version beside a notebook whose course changes did
    not all arrive, as ``<name>.course.ipynb`` (see ``missed``).
    """
    policy = policy.replace("-", "_")
    try:
        target = _target(url, dest, branch, path, allowed_prefixes)
        if policy not in POLICIES:
            raise GitSyncError(
                "policy_invalid", f"The policy must be one of {', '.join(POLICIES)}."
            )
        request = _request(
            url, target, branch, path, policy, mirror, timeout, max_file_bytes, owner, depth,
            mirror_account,
        )  # fmt: skip
    except GitSyncError as exc:
        return _failed(exc.code, exc.message)
    request["dry_run"] = dry_run
    request["course_copies"] = course_copies
    return _run(request, "sync")


def reset(
    url: str,
    dest: Path | str,
    *,
    commit: str,
    paths: list[str],
    branch: str,
    path: str | None = None,
    allowed_prefixes: list[str],
    mirror: Path | str,
    timeout: float = DEFAULT_TIMEOUT,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    owner: int | None = None,
    depth: int | None = 1,
    mirror_account: tuple[int, int] | None = None,
) -> SyncReport:
    """Put the course's version at ``commit`` back into ``paths`` of the workspace ``dest``
    (``[]``: the whole folder), as the owner of ``dest``'s parent; the student's copy is moved
    aside with a timestamp, never deleted. Never raises for a workspace problem.

    ``commit`` is the one the student was given; ``mirror`` (of ``url``'s ``branch``) must have
    it on that branch. ``path`` is the assignment's sub-folder: only paths under it are reset.
    ``depth``: the history a reset of the whole folder clones, as ``sync``'s.
    ``mirror_account``: as for ``sync``.
    """
    try:
        target = _target(url, dest, branch, path, allowed_prefixes)
        if not COMMIT.match(commit):
            raise GitSyncError("commit_invalid", "The commit to reset to is not a commit id.")
        for item in paths:
            problem = path_problem(item)
            if problem:
                raise GitSyncError("path_invalid", f"{item!r} is refused: {problem}.")
        # A reset never merges: no unsafe-state policy applies.
        request = _request(
            url, target, branch, path, "needs_attention", mirror, timeout, max_file_bytes,
            owner, depth, mirror_account,
        )  # fmt: skip
    except GitSyncError as exc:
        return _failed(exc.code, exc.message)
    request.update(operation="reset", commit=commit, paths=list(paths))
    return _run(request, "reset")
