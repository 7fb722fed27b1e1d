"""The git sync engine: bring a course repository into ONE student's workspace, safely.

Public interface (no Flask here; ``cli.py`` is the only module that imports it)::

    validate_repo_url(url, allowed_prefixes) -> url          # raises GitSyncError
    ensure_mirror(url, branch, mirrors_dir, *, timeout) -> Path
    mirror_branch(mirror) -> str | None; mirror_commit(mirror, branch) -> str | None
    sync(url, dest, *, branch, path, policy, allowed_prefixes, mirror, dry_run, timeout, owner)
        -> SyncReport                                         # runs as dest's parent's owner
    reset(url, dest, *, commit, paths, branch, path, allowed_prefixes, mirror, timeout, owner)
        -> SyncReport   # paths [] = the whole folder; the student's copy is moved aside
    path_problem(path) -> str | None                          # a path to reset, its shape
    find_mirror(url, branch, mirrors_dir) -> [Path]; mirror_has(mirror, branch, commit, deadline)
    tree_files(mirror, commit, subpath, *, timeout) -> [str]  # the service's own mirror, no network
"""

from .errors import GitSyncError
from .forkserver import start_fork_server, stop_fork_server
from .mirror import (
    ensure_mirror,
    find_mirror,
    mirror_branch,
    mirror_commit,
    mirror_has,
    tree_files,
)
from .report import SyncReport
from .reset import path_problem
from .urls import validate_repo_url
from .workspace import reset, sync

__all__ = [
    "GitSyncError",
    "SyncReport",
    "ensure_mirror",
    "find_mirror",
    "mirror_branch",
    "mirror_commit",
    "mirror_has",
    "path_problem",
    "reset",
    "start_fork_server",
    "stop_fork_server",
    "sync",
    "tree_files",
    "validate_repo_url",
]
