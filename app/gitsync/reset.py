"""Reset chosen files of ONE workspace, or the whole folder, to the course's version.

The student's copy is never deleted: a file or folder is moved aside with the engine's own
renamer (``notes.ipynb`` -> ``notes__20260101120000.ipynb``), a whole workspace with its backup
name (``hw1_backup_20260101120000``), and the course's version is put back: checked out from the
commit the student was given, or cloned fresh at that commit.

Like a sync, this runs in a process that already is the student (``asuser``), under the
workspace lock. Everything is checked before anything moves, so a refusal changes nothing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import datetime

from .engine import (
    IN_PROGRESS,
    Request,
    Source,
    Unsafe,
    WorkspaceSync,
    _under,
    in_workspace,
    utcnow,
)
from .errors import GitSyncError
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

    def run(self) -> SyncReport:
        if not self.branch or not self.source.expected:
            raise GitSyncError("reset_invalid", "A reset needs the course's branch and commit.")
        self.remove_stale_temp_dirs()
        return self.reset_paths() if self.paths else self.reset_folder()

    # -- the whole folder ----------------------------------------------------------------------

    def reset_folder(self) -> SyncReport:
        """Move the folder aside (even one stuck in a merge: that is how it is fixed), clone."""
        before: str | None = None
        try:
            status = self.classify()
            there = status is not None
            before = status.head if status else None
        except Unsafe as unsafe:
            if unsafe.code == "target_not_directory":
                raise GitSyncError("target_not_directory", self.not_a_folder()) from None
            there, before = True, unsafe.head
        backup = None
        if there:
            self.check_ours()
            backup = self.backup_name()
            os.rename(self.dest, backup)
        try:
            cloned = self.clone()
        except BaseException:
            if backup is not None and not os.path.lexists(self.dest):
                os.rename(backup, self.dest)  # the clone failed: the student's folder comes back
            raise
        renamed = [(self.dest.name, backup.name)] if backup else []
        return SyncReport("reset", before, cloned.after, restored=cloned.updated, renamed=renamed)

    def not_a_folder(self) -> str:
        return (
            f"~/{self.dest.name} is a file or a link, not the assignment's folder: Hubclass never "
            "follows a link out of the home. Nothing was changed."
        )

    def check_ours(self) -> None:
        """Refuse a folder Hubclass did not deliver: a link, no .git folder, another origin."""
        for path in (self.dest, self.git_dir):
            try:
                real = stat.S_ISDIR(os.lstat(path).st_mode)
            except FileNotFoundError:
                real = False
            if not real:
                raise GitSyncError("not_ours", NOT_OURS)
        # --file reads that one file, includes not followed: the origin the folder was cloned
        # from, as Hubclass (or an nbgitpuller link of the same repository) wrote it.
        found = Git(self.req.deadline).run(
            "config",
            "--file",
            str(self.git_dir / "config"),
            "--get",
            "remote.origin.url",
            cwd="/",
            ok=(0, 1, 2),
        )
        if found.returncode != 0 or found.text.strip() != self.req.url:
            raise GitSyncError("not_ours", NOT_OURS)

    # -- chosen files --------------------------------------------------------------------------

    def reset_paths(self) -> SyncReport:
        try:
            status = self.classify()
        except Unsafe as unsafe:
            return SyncReport.problem("needs_attention", unsafe.code, refusal(unsafe), unsafe.head)
        if status is None:
            raise GitSyncError(
                "folder_missing",
                f"There is no folder ~/{self.dest.name} to reset files in: reset the whole "
                "folder to bring the course's version back.",
            )
        self.check_ours()
        commit = self.course_commit()
        self.check_paths(commit)
        for path in self.paths:
            # Gone (the student deleted it): just restored. The course's file as it was
            # given: nothing of theirs to keep beside it.
            if os.path.lexists(self.dest / path) and not self.as_given(commit, path):
                self.rename_aside(path)
        self.checkout_paths(commit, self.paths)
        return SyncReport(
            "reset", status.head, status.head, restored=self.paths, renamed=list(self.renamed)
        )

    def course_commit(self) -> str:
        """The commit the student was given, its objects in the folder (fetched if need be)."""
        commit = self.source.expected or ""
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

    def check_paths(self, commit: str) -> None:
        """Refuse, before anything moves, a path that is not the course's or leads elsewhere."""
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
        have = self.tree_modes(commit, self.paths)
        missing = [path for path in self.paths if path not in have]
        if missing:
            raise GitSyncError(
                "path_not_in_course",
                f"The course's version has no {', '.join(map(repr, missing))}: nothing was reset.",
            )
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
