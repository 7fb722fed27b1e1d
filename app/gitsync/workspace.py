"""``sync()``: the entry point the app calls for one student's workspace."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .engine import POLICIES, valid_subpath
from .errors import GitSyncError
from .forkserver import default_server
from .mirror import DEFAULT_MAX_FILE_BYTES
from .refs import valid_branch
from .report import SyncReport
from .urls import validate_repo_url

DEFAULT_TIMEOUT = 300.0
log = logging.getLogger(__name__)


def _failed(code: str, message: str) -> SyncReport:
    return SyncReport.problem("failed", code, message)


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
    """
    try:
        validate_repo_url(url, allowed_prefixes)
    except GitSyncError as exc:
        return _failed(exc.code, exc.message)
    policy = policy.replace("-", "_")
    if policy not in POLICIES:
        return _failed("policy_invalid", f"The policy must be one of {', '.join(POLICIES)}.")
    raw = os.fspath(dest)
    if not raw or "\0" in raw:
        return _failed("dest_invalid", "The workspace path is empty or contains NUL.")
    target = Path(os.path.abspath(raw))
    if target.parent == target:
        return _failed("dest_invalid", "The workspace path cannot be the root folder.")
    if branch is not None and not valid_branch(branch):
        return _failed("branch_invalid", "The branch name is refused.")
    if path is not None and not valid_subpath(path):
        return _failed("path_invalid", "The sub-folder must be plain names separated by '/'.")
    if depth is not None and (type(depth) is not int or depth < 1):
        return _failed("depth_invalid", "The history depth must be a whole number from 1.")
    request = {
        "url": url,
        "dest": str(target),
        "branch": branch,
        "path": path,
        "policy": policy,
        "mirror": os.fspath(mirror) if mirror is not None else None,
        "dry_run": dry_run,
        "timeout": timeout,
        "max_file_bytes": max_file_bytes,
        "owner": owner,
        "depth": depth,
    }
    report = default_server().run(request, timeout)
    log.info(
        "gitsync %r -> %r: %s%s",
        url,
        str(target),
        report.outcome,
        f" ({report.error_code})" if report.error_code else "",
    )
    return report
