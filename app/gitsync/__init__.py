"""The git sync engine: bring a course repository into ONE student's workspace, safely.

Public interface (no Flask here; ``cli.py`` is the only module that imports it)::

    validate_repo_url(url, allowed_prefixes) -> url          # raises GitSyncError
    ensure_mirror(url, branch, mirrors_dir, *, timeout) -> Path
    sync(url, dest, *, branch, path, policy, allowed_prefixes, mirror, dry_run, timeout)
        -> SyncReport                                         # runs as dest's parent's owner
"""

from .errors import GitSyncError
from .forkserver import start_fork_server, stop_fork_server
from .mirror import ensure_mirror
from .report import SyncReport
from .urls import validate_repo_url
from .workspace import sync

__all__ = [
    "GitSyncError",
    "SyncReport",
    "ensure_mirror",
    "start_fork_server",
    "stop_fork_server",
    "sync",
    "validate_repo_url",
]
