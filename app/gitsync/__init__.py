"""The git sync engine: bring a course repository into ONE student's workspace, safely.

Public interface (no Flask here; ``cli.py`` is the only module that imports it)::

    validate_repo_url(url, allowed_prefixes) -> url          # raises GitSyncError
    ensure_mirror(url, branch, mirrors_dir, *, timeout) -> Path
    mirror_branch(mirror) -> str | None; mirror_commit(mirror, branch) -> str | None
    sync(url, dest, *, branch, path, policy, allowed_prefixes, mirror, dry_run, timeout, owner,
         depth) -> SyncReport                                 # runs as dest's parent's owner
"""

from .errors import GitSyncError
from .forkserver import start_fork_server, stop_fork_server
from .mirror import ensure_mirror, mirror_branch, mirror_commit
from .report import SyncReport
from .urls import validate_repo_url
from .workspace import sync

__all__ = [
    "GitSyncError",
    "SyncReport",
    "ensure_mirror",
    "mirror_branch",
    "mirror_commit",
    "start_fork_server",
    "stop_fork_server",
    "sync",
    "validate_repo_url",
]
