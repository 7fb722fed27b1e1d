"""Reset chosen files of ONE workspace, or the whole folder, to the course's version.

The student's copy is never deleted: a file or folder is moved aside with the engine's own
renamer (``notes.ipynb`` -> ``notes__20260101120000.ipynb``), a whole workspace with its backup
name (``hw1_backup_20260101120000``), and the course's version is put back: checked out from the
commit the student was given, or cloned fresh at that commit.

Like a sync, this runs in a process that already is the student (``asuser``), under the
workspace lock. Everything is checked before anything moves, so a refusal changes nothing;
the course's version is made first in a temporary folder beside the workspace (a clone, or
the chosen files checked out with a scratch index), and only then swapped in, so a failure
half way (the size cap, a full disk, the deadline) leaves the student's own copy in place, or
names in its report every file it moved aside.

When the folder already has a newer commit of the course's branch (the student pulled it, an
nbgitpuller link) that descends from the one they were given, the files are put back as of
that newer commit: an older file would look like the student's edit to every later sync.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from .engine import (
    IN_PROGRESS,
    TMP_MARK,
    Request,
    Source,
    Status,
    Unsafe,
    WorkspaceSync,
    _under,
    in_workspace,
    problem_of,
    utcnow,
)
from .errors import GitSyncError
from .refs import read_ref
from .report import SyncReport
from .runner import Git, GitCommandFailed

MAX_PATH = 1000
# What the instructor reads for each git operation a folder can be in the middle of.
OPERATIONS = {
    "MERGE_HEAD": "a merge",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase",
}
assert set(OPERATIONS) == set(IN_PROGRESS)
NOT_OURS = (
    "The folder is not the assignment's: it is no git clone of the assignment's repository (its "
    "origin is another one, or it has no .git). Hubclass resets only a folder it delivered; "
    "nothing was changed."
)


def not_in_course(missing: list[str]) -> GitSyncError:
    return GitSyncError(
        "path_not_in_course",
        f"The course's version has no {', '.join(map(repr, missing))}: nothing was reset.",
    )


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a file or folder to reset inside a workspace, or None.

    The shape only (the service checks it before queuing, the engine again): relative, inside
    the folder, never git's own data.
    """
    if not path:
        return "an empty path names nothing"
    if len(path) > MAX_PATH:
        return f"a path is at most {MAX_PATH} characters"
    if not path.isprintable():
        return "a path has no control characters"
    if path.startswith("/"):
        return "give the path inside the assignment's folder, not an absolute one"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "'..', '.' and empty parts ('a//b', a trailing '/') are refused"
    if any(part.lower() == ".git" for part in parts):
        return "git's own data (.git) is never reset"
    return None


class WorkspaceReset(WorkspaceSync):
    """One reset of one folder (use :func:`reset_workspace`); ``paths`` empty: all of it."""

    def __init__(
        self, request: Request, source: Source, now: Callable[[], datetime], paths: list[str]
    ) -> None:
        super().__init__(request, source, now)
        self.paths = sorted(set(paths))  # a folder before what is inside it
        self.restored: list[str] = []
        self.moving_aside = False  # a whole-folder reset of a folder that is there
        self.backup: Path | None = None

    def run(self) -> SyncReport:
        if not self.branch or not self.source.expected:
            raise GitSyncError("reset_invalid", "A reset needs the course's branch and commit.")
        self.remove_stale_temp_dirs()
        return self.reset_paths() if self.paths else self.reset_folder()

    # -- the whole folder ----------------------------------------------------------------------

    def reset_folder(self) -> SyncReport:
        """Clone beside the folder, then move the folder aside (even one stuck in a merge: that
        is how it is fixed) and the clone in: a run killed before leaves the folder in place."""
        status: Status | None = None
        try:
            status = self.classify()
            self.moving_aside = status is not None
            before = status.head if status else None
        except Unsafe as unsafe:
            if unsafe.code == "target_not_directory":
                raise GitSyncError("target_not_directory", self.not_a_folder()) from None
            self.moving_aside, before = True, unsafe.head
        if self.moving_aside:
            self.check_ours(whole_folder=True)
        if status is not None and self.as_delivered(status):
            return SyncReport("unchanged", before, before)  # pressed twice: no second backup
        cloned = self.clone()
        renamed = [(self.dest.name, self.backup.name)] if self.backup else []
        return SyncReport("reset", before, cloned.after, restored=cloned.updated, renamed=renamed)

    def put_in_place(self, tmp: Path) -> None:
        if not self.moving_aside:
            super().put_in_place(tmp)
            return
        backup = self.backup_name()
        os.rename(self.dest, backup)  # two renames back to back: the folder is never missing
        try:
            os.rename(tmp, self.dest)
        except OSError:
            os.rename(backup, self.dest)
            raise GitSyncError(
                "target_changed", "The target folder appeared or changed during the reset."
            ) from None
        self.backup = backup

    def as_delivered(self, status: Status) -> bool:
        """The folder is exactly the course's version: that commit, on the branch, nothing
        changed, staged or added (ignored files count: they are the student's)."""
        if (status.head, status.branch) != (self.source.expected, self.branch):
            return False
        if status.upstream != f"origin/{self.branch}" or status.entries:
            return False
        others = self.git.run("ls-files", "-z", "--others", "--directory").paths()
        return not others

    def not_a_folder(self) -> str:
        return (
            f"~/{self.dest.name} is a file or a link, not the assignment's folder: Hubclass never "
            "follows a link out of the home, nor moves what is not a folder. Nothing was changed."
        )

    def check_ours(self, whole_folder: bool = False) -> None:
        """Refuse a folder Hubclass did not deliver: a link, another origin, no .git folder
        (unless the whole folder is reset: the student deleted .git, the folder is theirs)."""
        if whole_folder and not os.path.lexists(self.git_dir):
            return
        for path in (self.dest, self.git_dir):
            try:
                real = stat.S_ISDIR(os.lstat(path).st_mode)
            except FileNotFoundError:
                real = False
            if not real:
                raise GitSyncError("not_ours", NOT_OURS)
        if self.origin_url() != self.req.url:
            raise GitSyncError("not_ours", NOT_OURS)

    # -- chosen files --------------------------------------------------------------------------

    def reset_paths(self) -> SyncReport:
        try:
            status = self.classify()
        except Unsafe as unsafe:
            if unsafe.code == "target_not_directory":
                raise GitSyncError("target_not_directory", self.not_a_folder()) from None
            return SyncReport.problem("needs_attention", unsafe.code, refusal(unsafe), unsafe.head)
        if status is None:
            raise GitSyncError(
                "folder_missing",
                f"There is no folder ~/{self.dest.name} to reset files in: reset the whole "
                "folder to bring the course's version back.",
            )
        self.check_ours()
        self.check_shape()  # before any fetch: a refusal leaves the student's .git as it was
        commit = self.course_commit()
        self.check_paths(commit)
        staging = self.dest.with_name(f".{self.dest.name}{TMP_MARK}{secrets.token_hex(4)}")
        try:
            tree = self.make_course_copy(staging, commit)
            self.swap_in(tree, commit)
            self.update_index(commit)
        except (GitSyncError, OSError) as exc:
            failed = problem_of(exc, self.dest)
            failed.restored, failed.renamed = list(self.restored), list(self.renamed)
            return failed
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return SyncReport(
            "reset", status.head, status.head, restored=self.paths, renamed=list(self.renamed)
        )

    def course_commit(self) -> str:
        """The commit whose files are put back, its objects in the folder (fetched if need
        be): the one the student was given, or the folder's own newer one of the branch."""
        upstream = read_ref(self.git_dir, f"refs/remotes/origin/{self.branch}")
        commit = upstream if upstream in self.source.newer else self.source.expected or ""
        probe = self.git.run("cat-file", "-e", f"{commit}^{{tree}}", ok=(0, 1, 128))
        if probe.returncode != 0:
            try:
                self.fetch_refspec(self.git, commit, "--depth=1")
            except GitCommandFailed:
                raise GitSyncError(
                    "commit_unavailable",
                    f"The course's version the student was given ({commit[:12]}) could not be "
                    "fetched from the course repository's copy.",
                ) from None
        return commit

    def make_course_copy(self, staging: Path, commit: str) -> Path:
        """Check the course's version of the paths out into ``staging/tree`` (a scratch index:
        the folder's own is not touched); the folder itself is not changed."""
        tree = staging / "tree"
        os.mkdir(staging, 0o700)
        os.mkdir(tree)
        scratch = Git(
            self.req.deadline,
            git_dir=self.git_dir,
            work_tree=tree,
            ceiling=str(self.dest.parent),
            index_file=staging / "index",
        )
        scratch.run(
            "checkout",
            "--quiet",
            commit,
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
            input=self.pathspec(),
        )
        unwritten = [path for path in self.paths if not os.path.lexists(tree / path)]
        if unwritten:  # a sparse checkout the student set up, say
            raise GitSyncError(
                "checkout_failed",
                f"git did not write the course's {', '.join(map(repr, unwritten))}: nothing "
                "was reset.",
            )
        return tree

    def swap_in(self, tree: Path, commit: str) -> None:
        """Path by path: the student's copy aside, the course's in (renames, nothing copied)."""
        for path in self.paths:
            if _under(path, self.restored):
                continue  # inside a folder just put back whole
            mine = self.dest / path
            if os.path.lexists(mine):
                if self.as_given(commit, path):
                    self.restored.append(path)  # the course's file as it was given: kept
                    continue
                self.rename_aside(path)
            else:
                os.makedirs(mine.parent, exist_ok=True)  # real folders: check_leading saw to it
            os.rename(tree / path, mine)
            self.restored.append(path)

    def update_index(self, commit: str) -> None:
        """The folder's index records the course's version of the paths (what checkout did);
        a git of ours that fails leaves no index.lock behind."""
        lock = self.git_dir / "index.lock"
        started = time.time()
        try:
            self.git.run(
                "reset",
                "--quiet",
                commit,
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
                input=self.pathspec(),
                ok=(0, 1),
            )
            self.git.run("update-index", "-q", "--refresh", ok=(0, 1))
        except GitSyncError:
            try:
                ours = os.lstat(lock).st_mtime >= started - 1
            except FileNotFoundError:
                ours = False
            if ours:
                os.unlink(lock)
            raise

    def pathspec(self) -> bytes:
        return b"".join(os.fsencode(path) + b"\0" for path in self.paths)

    def as_given(self, commit: str, path: str) -> bool:
        """The student's file is the course's at ``commit``: same bytes, same mode."""
        info = os.lstat(self.dest / path)
        if not stat.S_ISREG(info.st_mode):
            return False
        ((entry,),) = [self.git.run("ls-tree", "-z", commit, "--", path).paths()]
        mode, kind, blob = entry.split("\t", 1)[0].split(" ")
        if kind != "blob" or mode != ("100755" if info.st_mode & 0o100 else "100644"):
            return False
        found = self.git.run("hash-object", "--no-filters", "--", str(self.dest / path))
        return found.text.strip() == blob

    def check_shape(self) -> None:
        """Refuse a path that is no plain path inside what the assignment delivers."""
        for path in self.paths:
            problem = path_problem(path)
            if problem:
                raise GitSyncError("path_invalid", f"{path!r} is refused: {problem}.")
            if self.req.path and not _under(path, [self.req.path]):
                raise GitSyncError(
                    "path_not_delivered",
                    f"{path!r} is not part of what the assignment delivers (only "
                    f"{self.req.path!r}/).",
                )

    def check_paths(self, commit: str) -> None:
        """Refuse, before anything moves, a path that is not the course's or leads elsewhere."""
        have = self.tree_modes(commit, self.paths)
        missing = [path for path in self.paths if path not in have]
        if missing:
            raise not_in_course(missing)
        for path in self.paths:
            self.check_leading(path)

    def check_leading(self, path: str) -> None:
        """Each folder on the way to ``path`` must be a real folder of the student's (or not
        there yet): a link is never followed, a file where the course has a folder is named."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            try:
                mode = os.lstat(self.dest / prefix).st_mode
            except FileNotFoundError:
                return  # deleted by the student: git makes the folders again
            if stat.S_ISLNK(mode):
                raise GitSyncError(
                    "path_through_link",
                    f"{path!r} goes through {prefix!r}, a symbolic link in the student's folder: "
                    "Hubclass never follows a link out of the folder. Nothing was reset; reset "
                    f"{prefix!r} itself to move the link aside.",
                )
            if not stat.S_ISDIR(mode):
                raise GitSyncError(
                    "path_blocked",
                    f"The student has a file {prefix!r} where the course's version has a "
                    f"folder: reset {prefix!r} itself. Nothing was reset.",
                )


def refusal(unsafe: Unsafe) -> str:
    """The unsafe state in the instructor's words, and what to do instead."""
    said = unsafe.message
    for marker, operation in OPERATIONS.items():
        if marker in said:
            said = f"{operation.capitalize()} is in progress in the folder ({marker})."
    return (
        f"Nothing was reset: {said} Reset the whole folder to move it aside and start from the "
        "course's version."
    )


def reset_workspace(
    request: Request, source: Source, paths: list[str], now: Callable[[], datetime] = utcnow
) -> SyncReport:
    """Reset ``paths`` of one workspace (none: the whole folder) as the current user; every
    problem becomes a report, never a raise."""
    return in_workspace(request, WorkspaceReset(request, source, now, paths).run)
