"""Sync ONE workspace folder with nbgitpuller's semantics, and say what happened in a report.

This module runs inside a process that already is the student (see ``asuser``): it never changes
users and never needs to be careful about whose file it touches, because the kernel is.

The update follows nbgitpuller's ``pull.py`` (fetch; rename untracked files in upstream's way;
restore deleted files; unstage; commit the student's changes with a fixed identity; merge with
``-Xours``; keep the student's copy on modify/delete) with three differences:

- the state is classified first, and anything a merge could make worse (a merge in progress,
  unmerged paths, a fresh index.lock, a detached or foreign branch, rewritten upstream history, a
  missing or corrupt ``.git``) is never committed over: per policy the folder is moved aside and
  cloned fresh, or left alone with ``needs_attention``;
- nothing upstream -> nothing committed ("unchanged");
- the fetch comes from a mirror over a socket when one is given, and refs are fetched
  fast-forward only, so a force-push upstream is seen instead of being merged blindly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .clashes import not_applied
from .errors import GitSyncError
from .lock import index_lock_state, workspace_lock
from .missed import Examined, examine
from .refs import read_head, read_ref, remote_head, valid_branch
from .report import SyncReport
from .runner import TOO_LARGE_MESSAGE, Git, GitCommandFailed, GitResult, size_cap_hit
from .urls import same_repository, shown_url, url_scheme

IDENTITY = ("user.name=Hubclass", "user.email=hubclass@localhost")
COMMIT_MESSAGE = "Hubclass: keep local changes before merging the course update"
MERGE_MESSAGE = "Hubclass: merge the course update"
# `git merge` as the engine runs it (nbgitpuller's -Xours: the student's lines win a clash);
# bench/sync_report.py times the same command as its baseline.
MERGE_ARGS = (
    "merge",
    "--quiet",
    "--no-stat",
    "--no-edit",
    "--no-verify",
    "--no-autostash",
    "--no-overwrite-ignore",
    "--no-verify-signatures",
    "--ff",
    "-Xours",
    "-m",
    MERGE_MESSAGE,
)
POLICIES = ("needs_attention", "backup")
# How long to wait for another sync of the same folder, or for a git command that is running in
# the student's own server (nbgitpuller), before giving up on this attempt.
BUSY_WAIT_SECONDS = 30.0
IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")
TMP_MARK = ".hubclass-tmp-"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Unsafe(Exception):
    """A state the engine must not merge over; handled per policy."""

    def __init__(
        self, code: str, message: str, head: str | None = None, backup: bool = True
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.head = head
        self.backup = backup  # False: never moved aside, even under the "backup" policy


@dataclass
class Source:
    """Where commits come from. ``connect()`` returns what to pass to ``git fetch``.

    With a mirror, each call returns ``fd::N``: a socket to a fresh ``git upload-pack`` of the
    mirror started by the privileged parent, so the student needs no read access to the service's
    data dir. Without one, it returns the upstream URL itself.
    """

    url: str
    branch: str | None = None  # the mirror's branch, when known
    expected: str | None = None  # the commit the mirror's branch points at
    connect_fd: Callable[[], int] | None = None
    full: ReadyPack | None = None  # what a depth-1 clone of ``expected`` needs
    step: ReadyPack | None = None  # the objects from ``step.base`` to ``expected``
    # Fetch ``expected`` itself rather than the branch's tip: a reset puts back the commit the
    # student was given, which the branch may have moved past since.
    pinned: bool = False
    # A reset's: the course's commits on the branch that descend from ``expected`` (the
    # mirror's word), so a folder that already has a newer one keeps it.
    newer: frozenset[str] = frozenset()

    def wanted(self, branch: str) -> str:
        """What a clone fetches: the branch's tip, or the pinned commit."""
        return self.expected if self.pinned and self.expected else f"refs/heads/{branch}"

    def connect(self) -> tuple[str, str, tuple[int, ...]]:
        """Return (fetch location, the one allowed protocol, descriptors to pass)."""
        if self.connect_fd is not None:
            fd = self.connect_fd()
            return f"fd::{fd}", "fd", (fd,)
        return self.url, url_scheme(self.url), ()


@dataclass
class ReadyPack:
    """Open read-only descriptors of a pack the service prepared (``mirror.ready_packs``)."""

    name: str  # "pack-<sha>"
    pack_fd: int
    idx_fd: int
    base: str | None = None  # the commit a step pack goes on top of


@dataclass
class Request:
    url: str
    dest: Path
    branch: str | None
    path: str | None
    policy: str
    dry_run: bool
    deadline: float
    depth: int | None = 1  # commits of history a clone gets; None: all of it
    # Leave the course's version beside a notebook whose course changes did not all arrive.
    course_copies: bool = False


@dataclass
class Status:
    branch: str
    head: str
    upstream: str | None
    entries: list[tuple[str, str, str]] = field(default_factory=list)  # (X, Y, path)

    def deleted(self) -> list[str]:
        return [path for x, y, path in self.entries if "D" in (x, y)]

    def modified(self) -> bool:
        return any(x in "MT" or y in "MT" for x, y, _ in self.entries)

    def staged(self) -> bool:
        return any(x != "." for x, _, _ in self.entries)

    def upstream_branch(self) -> str | None:
        if self.upstream and self.upstream.startswith("origin/"):
            return self.upstream[len("origin/") :]
        return None


def valid_subpath(path: str) -> bool:
    """One or more plain components: no dot-files, no '..', nothing a sparse pattern interprets."""
    parts = path.split("/")
    return (
        all(
            part and not part.startswith(".") and all(ch.isalnum() or ch in "._-" for ch in part)
            for part in parts
        )
        and path.isascii()
    )


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class WorkspaceSync:
    """One run of the engine on one folder (use :func:`sync_workspace`)."""

    def __init__(self, request: Request, source: Source, now: Callable[[], datetime]) -> None:
        self.req = request
        self.source = source
        self.now = now
        self.dest = request.dest
        self.git_dir = self.dest / ".git"
        self.branch = request.branch or source.branch or ""
        self.git = Git(
            request.deadline,
            git_dir=self.git_dir,
            work_tree=self.dest,
            ceiling=str(self.dest.parent),
        )
        self.renamed: list[tuple[str, str]] = []
        self._roots: list[str] | bool | None = False  # not read yet

    # -- entry ---------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        if not self.branch:
            self.branch = self.default_branch()
        if not valid_branch(self.branch):
            raise GitSyncError("branch_invalid", f"The branch name {self.branch!r} is refused.")
        self.remove_stale_temp_dirs()
        try:
            status = self.classify()
        except Unsafe as unsafe:
            return self.handle_unsafe(unsafe)
        if status is None:
            return self.clone()
        try:
            self.check_origin(status.head)
            return self.update(status)
        except Unsafe as unsafe:
            return self.handle_unsafe(unsafe)

    def default_branch(self) -> str:
        """Ask the remote for its HEAD, as ``git clone`` would (only when no mirror is used)."""
        where, protocol, fds = self.source.connect()
        try:
            result = self.git.run(
                "ls-remote",
                "--symref",
                "--",
                where,
                "HEAD",
                cwd="/",
                allow_protocol=protocol,
                pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
        return remote_head(result.text)

    # -- classification ------------------------------------------------------------------------

    def classify(self) -> Status | None:
        """Return the repo's status, None when there is nothing yet (clone), raise Unsafe."""
        try:
            info = os.lstat(self.dest)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            raise Unsafe("target_not_directory", "The target is not a folder (a file or a link).")
        if not os.listdir(self.dest):
            return None
        try:
            gitdir = os.lstat(self.git_dir)
        except FileNotFoundError:
            raise Unsafe(
                "not_a_repository", "The folder exists but is not a git repository."
            ) from None
        if not stat.S_ISDIR(gitdir.st_mode):
            raise Unsafe("foreign_git_dir", "The folder's .git is a file or a link, not a folder.")
        self.check_index_lock()
        branch, head = read_head(self.git_dir)
        for marker in IN_PROGRESS:
            if os.path.lexists(self.git_dir / marker):
                raise Unsafe(
                    "operation_in_progress",
                    f"A git operation is in progress in the folder ({marker}).",
                    head,
                )
        if branch is None:
            if head:
                raise Unsafe("detached_head", "The folder's HEAD is detached.", head)
            raise Unsafe("corrupt_repository", "The folder's .git has no readable HEAD.")
        status = self.status()
        if status.branch != branch:
            raise Unsafe("corrupt_repository", "git and the files disagree on the branch.", head)
        ours = (status.upstream or "").startswith("origin/") or (
            status.upstream is None and branch == self.branch
        )
        if not ours:
            raise Unsafe(
                "foreign_branch",
                f"The folder is on the branch {branch!r}, which does not track the course repo.",
                status.head,
            )
        return status

    def check_origin(self, head: str) -> None:
        """Refuse a folder cloned from another repository: two assignments (of two courses,
        maybe) given one target folder must not merge one course into the other's folder.
        Not even under the "backup" policy: each would move the other's folder aside, at
        every distribution."""
        found = self.origin_url() or ""
        if same_repository(found, self.req.url):
            return
        where = f"another repository ({shown_url(found)})" if found else "a repository of its own"
        raise Unsafe(
            "other_repository",
            f"The folder {self.dest.name!r} holds {where}, not this assignment's "
            f"({shown_url(self.req.url)}): two assignments deliver into one folder. Give one of "
            "them another target folder.",
            head,
            backup=False,
        )

    def origin_url(self) -> str | None:
        """The URL of the folder's origin remote, or None."""
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
        return found.text.strip() if found.returncode == 0 else None

    def check_index_lock(self) -> None:
        give_up = min(time.monotonic() + BUSY_WAIT_SECONDS, self.req.deadline - 1)
        while True:
            state = index_lock_state(self.dest)
            if state == "stale":
                # Older than ten minutes and no git process in the folder: a crash leftover.
                os.unlink(self.git_dir / "index.lock")
                return
            if state == "none":
                return
            if state == "orphaned":
                raise Unsafe(
                    "index_locked",
                    "The folder has a recent .git/index.lock but no git process is using it.",
                    read_head(self.git_dir)[1],
                )
            if time.monotonic() >= give_up:
                raise GitSyncError(
                    "repo_busy", "git is running in this folder (the student's server?)."
                )
            time.sleep(0.2)

    def status(self) -> Status:
        try:
            result = self.git.run(
                "status",
                "--porcelain=v2",
                "--branch",
                "-z",
                "--untracked-files=no",
                "--no-renames",
                "--ignore-submodules=all",
            )
        except GitCommandFailed as exc:
            raise Unsafe(
                "corrupt_repository", f"git cannot read the folder: {exc.message}"
            ) from None
        status = Status(branch="", head="", upstream=None)
        unmerged = False
        for record in result.stdout.split(b"\0"):
            line = os.fsdecode(record)
            if line.startswith("# branch.oid "):
                status.head = line.split(" ", 2)[2]
            elif line.startswith("# branch.head "):
                status.branch = line.split(" ", 2)[2]
            elif line.startswith("# branch.upstream "):
                status.upstream = line.split(" ", 2)[2]
            elif line.startswith("1 "):
                fields = line.split(" ", 8)
                status.entries.append((fields[1][0], fields[1][1], fields[8]))
            elif line.startswith("u "):
                unmerged = True
        if status.head in ("", "(initial)"):
            raise Unsafe("corrupt_repository", "The folder's branch has no commit.")
        if unmerged:
            raise Unsafe(
                "unmerged_paths", "The folder has unresolved merge conflicts.", status.head
            )
        return status

    # -- policy --------------------------------------------------------------------------------

    def handle_unsafe(self, unsafe: Unsafe) -> SyncReport:
        if self.req.policy != "backup" or not unsafe.backup:
            return SyncReport.problem("needs_attention", unsafe.code, unsafe.message, unsafe.head)
        backup = self.backup_name()
        if not self.req.dry_run:
            os.rename(self.dest, backup)
        report = self.clone()
        report.before = unsafe.head
        report.renamed.insert(0, (self.dest.name, backup.name))
        return report

    def backup_name(self) -> Path:
        """``<dir>_backup_<timestamp>``, never an existing name (nbgitpuller's rule)."""
        stamp = self.now().strftime("%Y%m%d%H%M%S")
        candidate = self.dest.with_name(f"{self.dest.name}_backup_{stamp}")
        counter = 0
        while os.path.lexists(candidate):
            counter += 1
            candidate = self.dest.with_name(f"{self.dest.name}_backup_{stamp}_{counter}")
        return candidate

    # -- clone ---------------------------------------------------------------------------------

    def remove_stale_temp_dirs(self) -> None:
        # We hold the workspace lock, so any temp folder of this workspace is a killed run's.
        prefix = f".{self.dest.name}{TMP_MARK}"
        with os.scandir(self.dest.parent) as entries:
            for entry in entries:
                if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)

    def fetch_refspec(self, git: Git, refspec: str, *options: str) -> GitResult:
        where, protocol, fds = self.source.connect()
        try:
            return git.run(
                "fetch",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                *options,
                "--",
                where,
                refspec,
                allow_protocol=protocol,
                pass_fds=fds,
            )
        except GitCommandFailed as exc:
            if b"couldn't find remote ref" in exc.result.stderr:
                raise GitSyncError(
                    "branch_not_found", f"The repository has no branch {self.branch!r}."
                ) from None
            limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            if size_cap_hit(git.git_dir, None if limit == resource.RLIM_INFINITY else limit):
                raise GitSyncError("too_large", TOO_LARGE_MESSAGE) from None
            raise
        finally:
            for fd in fds:
                os.close(fd)

    def clone(self) -> SyncReport:
        """Fetch into a temporary folder beside the target, check out, then rename into place."""
        tmp = self.dest.with_name(f".{self.dest.name}{TMP_MARK}{secrets.token_hex(4)}")
        git = Git(
            self.req.deadline,
            git_dir=tmp / ".git",
            work_tree=tmp,
            ceiling=str(self.dest.parent),
            # Keep the received pack as it is: exploding it into loose objects recompresses
            # every object and costs more than the whole rest of the clone.
            config=("fetch.unpackLimit=1",),
        )
        try:
            Git(self.req.deadline, ceiling=str(self.dest.parent)).run(
                "init",
                "--quiet",
                "--template=",
                f"--initial-branch={self.branch}",
                "--",
                str(tmp),
                cwd=self.dest.parent,
            )
            self.write_clone_config(tmp / ".git" / "config")
            if self.req.path:
                git.run("sparse-checkout", "set", "--no-cone", "--", "/" + self.req.path)
            remote = f"refs/remotes/origin/{self.branch}"
            if self.source.full is not None and self.req.depth == 1 and not self.req.dry_run:
                # What ``fetch --depth 1`` would leave, copied from the mirror's ready pack.
                self.copy_pack(tmp / ".git", self.source.full)
                (tmp / ".git" / "shallow").write_text(f"{self.source.expected}\n", "ascii")
                self.write_ref(tmp / ".git", remote, self.source.expected or "")
            else:
                # A dry run only lists the files: the latest commit is enough.
                depth = 1 if self.req.dry_run else self.req.depth
                options = [f"--depth={depth}"] if depth else []
                self.fetch_refspec(git, f"{self.source.wanted(self.branch)}:{remote}", *options)
            if self.req.dry_run:
                listing = git.run("ls-tree", "-r", "-z", "--name-only", remote, "--")
                return SyncReport("cloned", updated=self.visible(listing.paths()))
            git.run("reset", "--quiet", "--hard", remote)
            if self.req.path and not os.path.lexists(tmp / self.req.path):
                raise GitSyncError(
                    "path_not_found", f"The repository has no folder {self.req.path!r}."
                )
            files = self.visible(git.run("ls-files", "-z").paths())
            self.put_in_place(tmp)
            _, after = read_head(self.git_dir)
            return SyncReport("cloned", None, after, updated=files, renamed=list(self.renamed))
        finally:
            if os.path.lexists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def put_in_place(self, tmp: Path) -> None:
        """Rename the finished clone to the target (which is absent, or an empty folder)."""
        try:
            os.rename(tmp, self.dest)
        except OSError:
            raise GitSyncError(
                "target_changed", "The target folder appeared or changed during the clone."
            ) from None

    @staticmethod
    def copy_pack(git_dir: Path, ready: ReadyPack) -> None:
        """Copy a ready pack (and its index) into ``git_dir``'s object store."""
        pack_dir = git_dir / "objects" / "pack"
        pack_dir.mkdir(parents=True, exist_ok=True)
        for fd, suffix in ((ready.pack_fd, ".pack"), (ready.idx_fd, ".idx")):
            target = pack_dir / f"{ready.name}{suffix}"
            if target.exists():
                continue  # the same pack (names are content hashes) is already here
            partial = pack_dir / f"tmp_hubclass_{ready.name}{suffix}"
            try:
                with open(partial, "wb") as out:
                    offset, size = 0, os.fstat(fd).st_size
                    while offset < size:
                        sent = os.sendfile(out.fileno(), fd, offset, size - offset)
                        if sent == 0:
                            raise GitSyncError("mirror_unavailable", "A mirror pack is truncated.")
                        offset += sent
                os.chmod(partial, 0o444)
                os.rename(partial, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)  # only left when the copy failed (a full disk, say)

    @staticmethod
    def write_ref(git_dir: Path, ref: str, commit: str) -> None:
        """Point ``ref`` at ``commit`` the way git does: write ``<ref>.lock``, rename it."""
        path = git_dir / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.with_name(path.name + ".lock")
        try:
            handle = open(lock, "x", encoding="ascii")  # noqa: SIM115 -- closed just below
        except FileExistsError:
            raise GitSyncError("repo_busy", "git is updating this folder's refs.") from None
        with handle:
            handle.write(f"{commit}\n")
        os.rename(lock, path)

    def write_clone_config(self, config: Path) -> None:
        # What ``git clone --depth 1 --branch B URL`` writes, with origin the upstream URL (not
        # the mirror), so the student's own ``git pull`` and nbgitpuller links keep working.
        url = self.req.url.replace("\\", "\\\\").replace('"', '\\"')
        branch = self.branch
        with open(config, "a", encoding="utf-8") as handle:
            handle.write(
                f'[remote "origin"]\n\turl = "{url}"\n'
                f"\tfetch = +refs/heads/{branch}:refs/remotes/origin/{branch}\n"
                f'[branch "{branch}"]\n\tremote = origin\n\tmerge = refs/heads/{branch}\n'
            )

    def visible(self, paths: Iterable[str]) -> list[str]:
        if not self.req.path:
            return sorted(paths)
        return sorted(path for path in paths if _under(path, [self.req.path]))

    # -- update --------------------------------------------------------------------------------

    def update(self, status: Status) -> SyncReport:
        remote = f"refs/remotes/origin/{self.branch}"
        old_remote = read_ref(self.git_dir, remote)
        if self.req.dry_run:
            return self.dry_update(status, old_remote)
        self.bring_in_upstream(status, remote, old_remote)
        self.deepen(remote)
        target = read_ref(self.git_dir, remote) or self.rev_parse(remote)
        base = self.switch_base(status)
        changes = self.upstream_changes(target, status, base)
        before = status.head

        deleted = status.deleted()
        upstream_deleted = {path for path, kind in changes.items() if kind == "D"}
        both = [path for path in deleted if path in upstream_deleted]
        restored = self.upstream_paths(target, [p for p in deleted if p not in upstream_deleted])
        if both:
            # Deleted on both sides: put it back so the merge deletes it cleanly (nbgitpuller
            # does the same to avoid a conflict in git >= 2.40).
            self.checkout_paths("HEAD", both)
        if restored:
            self.checkout_paths(target, restored)
        self.move_hidden_files_aside(changes)
        tracked_aside = False
        if changes:
            added = (path for path, kind in changes.items() if kind == "A")
            aside = self.in_the_way(added, self.sparse_roots(), target)
            # A file the student committed that cannot share its path with upstream's (a file
            # where upstream now has a folder) is renamed too; its removal is committed with the
            # student's changes, or the merge would find a tracked file missing.
            tracked_aside = bool(aside) and bool(self.tree_modes("HEAD", aside))
            for path in aside:
                self.rename_aside(path)
        if status.staged() or restored or both:
            self.git.run("reset", "--quiet")
        merged = False
        if changes or base:
            if (status.modified() or restored or tracked_aside) and self.dirty():
                self.commit_all()
            if base:
                self.merge_from(base, target, restored)
                self.track(status.branch)
            else:
                self.merge(target, restored)
            merged = True
        released = self.release_paths()
        _, after = read_head(self.git_dir)
        kept: list[str] = []
        if after != target or status.entries or restored:
            # Otherwise the work tree is exactly the upstream commit: nothing of theirs differs.
            diff = self.git.run(
                "diff", "--name-only", "-z", "--no-ext-diff", "--no-renames", target
            )
            kept = self.visible(diff.paths())
        updated = self.visible(set(changes) | set(released))
        changed = merged or restored or self.renamed or released
        # Only a file both sides changed can have lost a hunk: changed by the course, and still
        # differing from the course's version after the merge.
        both_changed = [path for path in kept if path in changes]
        examined = Examined()
        if both_changed and after != target:  # a merge commit: HEAD^1 is the student's side
            base = base or self.git.run("merge-base", "HEAD^1", target).text.strip()
            examined = examine(
                self.git, base, target, both_changed, self.dest,
                course_copies=self.req.course_copies, now=self.now(),
            )  # fmt: skip
            if examined.written:
                # The mended notebooks (or the student's own, back) belong to the merge commit.
                self.git.run("add", "--", *examined.written)
                self.git.run(
                    *self.identity(), "commit", "--quiet", "--amend", "--no-edit", "--no-verify"
                )
                _, after = read_head(self.git_dir)
        return SyncReport(
            "updated" if changed else "unchanged",
            before,
            after or self.rev_parse("HEAD"),
            updated=updated,
            kept=[path for path in kept if path not in restored],
            restored=sorted(restored),
            renamed=list(self.renamed),
            not_applied=[entry["path"] for entry in examined.files if entry["changes"]],
            missed=examined.files,
        )

    def bring_in_upstream(self, status: Status, remote: str, old_remote: str | None) -> None:
        """Make ``remote`` the distributed commit: nothing to do, a ready pack, or a fetch."""
        expected, step = self.source.expected, self.source.step
        if expected and old_remote == expected:
            return  # this student already has the distributed commit
        if expected and step is not None and step.base == old_remote:
            # The usual case: the student has the previous distribution; copy the ready step.
            self.copy_pack(self.git_dir, step)
            self.write_ref(self.git_dir, remote, expected)
            return
        try:
            # No '+': a fetch that is not a fast-forward is refused, which is how a rewritten
            # upstream history shows up instead of being merged into the student's work.
            self.fetch_refspec(self.git, f"refs/heads/{self.branch}:{remote}", "--verbose")
        except GitCommandFailed as exc:
            if b"non-fast-forward" in exc.result.stderr or b"rejected" in exc.result.stderr:
                raise Unsafe(
                    "history_rewritten",
                    "The course repository's history was rewritten (force-pushed).",
                    status.head,
                ) from None
            raise

    def deepen(self, remote: str) -> None:
        """Give a shallow folder at least the history the assignment asks for now (its depth
        may have been raised since the clone). Never cut history: a smaller depth changes
        nothing, and ``--deepen`` only adds commits below the folder's shallow boundary."""
        depth = self.req.depth
        if depth == 1 or not os.path.exists(self.git_dir / "shallow"):
            return
        refspec = f"refs/heads/{self.branch}:{remote}"
        if depth is None:
            self.fetch_refspec(self.git, refspec, "--unshallow")
            return
        count = f"--max-count={depth}"
        have = int(self.git.run("rev-list", "--count", "--first-parent", count, remote).text)
        if have < depth:
            self.fetch_refspec(self.git, refspec, f"--deepen={depth - have}")

    def rev_parse(self, rev: str) -> str:
        return self.git.run("rev-parse", "--verify", "--end-of-options", rev).text.strip()

    def switch_base(self, status: Status) -> str | None:
        """On a branch change, the old branch's upstream commit the student's work is based on.

        Merging the new branch from that base (rather than from wherever the two branches forked)
        carries over exactly the student's own changes, and needs no history beyond what a
        shallow clone has, which is why a branch change works on a shallow clone.
        """
        tracked = status.upstream_branch()
        if tracked is None or tracked == self.branch:
            return None
        base = read_ref(self.git_dir, f"refs/remotes/origin/{tracked}")
        if base is None:
            return None
        ancestor = self.git.run("merge-base", "--is-ancestor", base, "HEAD", ok=(0, 1))
        return base if ancestor.returncode == 0 else None

    def upstream_changes(
        self, target: str, status: Status, base: str | None = None
    ) -> dict[str, str]:
        """Return {path: A/M/D/T} upstream changed since ``base`` (default: the merge base)."""
        for attempt in range(2):
            try:
                result = self.git.run(
                    "diff",
                    "--name-status",
                    "-z",
                    "--no-renames",
                    "--no-ext-diff",
                    "--ignore-submodules=all",
                    *((base, target) if base else (f"HEAD...{target}",)),
                    "--",
                )
            except GitCommandFailed as exc:
                if b"no merge base" not in exc.result.stderr:
                    raise
                if attempt == 0 and os.path.exists(self.git_dir / "shallow"):
                    # A shallow clone can lack the common ancestor (a branch change, or a fork
                    # point older than our single commit): fetch the rest of the history.
                    self.fetch_refspec(
                        self.git,
                        f"refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
                        "--unshallow",
                    )
                    continue
                raise Unsafe(
                    "history_rewritten",
                    "The folder and the course repository share no history.",
                    status.head,
                ) from None
            items = result.paths()
            return {items[i + 1]: items[i][0] for i in range(0, len(items) - 1, 2)}
        raise AssertionError("unreachable")

    def upstream_paths(self, target: str, paths: list[str]) -> list[str]:
        """Return those of ``paths`` that exist in ``target`` (a student-added file stays gone)."""
        return sorted(self.tree_modes(target, paths))

    def tree_modes(self, rev: str, paths: list[str]) -> dict[str, str]:
        """Return {path: mode} for those of ``paths`` that ``rev`` has (a folder is 040000)."""
        wanted = set(paths)
        modes: dict[str, str] = {}
        for chunk in _chunks(paths):
            for line in self.git.run("ls-tree", "-z", rev, "--", *chunk).paths():
                meta, path = line.split("\t", 1)
                if path in wanted:
                    modes[path] = meta.split(" ", 1)[0]
        return modes

    def checkout_paths(self, rev: str, paths: list[str]) -> None:
        self.git.run(
            "checkout",
            "--quiet",
            "--no-overlay",
            rev,
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
            input=b"".join(os.fsencode(path) + b"\0" for path in paths),
        )

    def in_the_way(
        self, added: Iterable[str], roots: list[str] | None = None, target: str | None = None
    ) -> list[str]:
        """Return what the student has where upstream adds ``added`` paths (file, link, or a
        non-folder where upstream needs a folder); those get renamed, as nbgitpuller does.

        ``added`` is counted from the merge base, but the student's HEAD may already track a
        path upstream adds (a file they committed, or one they kept when upstream deleted it).
        With ``target`` (the commit about to be merged), such a path is not in the way when HEAD
        has it with upstream's mode: the merge resolves that add/add with ``-Xours``, the
        student's side winning, as in nbgitpuller. Renaming it would leave a tracked file
        missing. Still in the way: a committed file where upstream needs a folder (or a folder
        where it needs a file), and one of another mode (a link, an executable bit), a conflict
        ``-Xours`` does not resolve.
        """
        found: list[str] = []
        whole: list[str] = []  # found at the very path upstream adds, not at a parent of it
        for path in sorted(added):
            if roots is not None and not _under(path, roots):
                continue  # not released: git will not check it out
            parts = path.split("/")
            for depth in range(1, len(parts) + 1):
                prefix = "/".join(parts[:depth])
                full = self.dest / prefix
                if not os.path.lexists(full):
                    break
                folder = stat.S_ISDIR(os.lstat(full).st_mode)
                if depth < len(parts) and folder:
                    continue
                if prefix not in found:
                    found.append(prefix)
                    if depth == len(parts) and not folder:
                        whole.append(prefix)
                break
        if target is None or not whole:
            return found
        ours = self.tree_modes("HEAD", whole)
        theirs = self.tree_modes(target, list(ours))
        merged = {path for path, mode in ours.items() if theirs.get(path) == mode}
        return [path for path in found if path not in merged]

    def aside_name(self, relative: str) -> str:
        """``notes.ipynb`` -> ``notes__20250101120000.ipynb``, never an existing name."""
        stamp = self.now().strftime("__%Y%m%d%H%M%S")
        head, tail = os.path.split(relative)
        stem, ext = os.path.splitext(tail)
        candidate = os.path.join(head, f"{stem}{stamp}{ext}")
        counter = 0
        while os.path.lexists(self.dest / candidate):
            counter += 1
            candidate = os.path.join(head, f"{stem}{stamp}_{counter}{ext}")
        return candidate

    def rename_aside(self, relative: str) -> None:
        candidate = self.aside_name(relative)
        os.rename(self.dest / relative, self.dest / candidate)
        self.renamed.append((relative, candidate))

    def dirty(self) -> bool:
        return (
            self.git.run("diff-files", "--quiet", "--ignore-submodules", ok=(0, 1)).returncode == 1
        )

    def commit_all(self) -> None:
        self.git.run(
            *self.identity(), "commit", "--quiet", "--all", "--no-verify", "-m", COMMIT_MESSAGE
        )

    @staticmethod
    def identity() -> list[str]:
        return [arg for item in IDENTITY for arg in ("-c", item)]

    def merge(self, target: str, restored: list[str]) -> None:
        result = self.git.run(*self.identity(), *MERGE_ARGS, target, ok=(0, 1))
        if result.returncode == 0:
            return
        if not os.path.exists(self.git_dir / "MERGE_HEAD"):
            raise GitCommandFailed(["merge"], result)
        if not self.resolve_conflicts("MERGE_HEAD", restored):
            self.git.run("merge", "--abort")
            raise self.merge_conflict()
        self.git.run(*self.identity(), "commit", "--quiet", "--no-verify", "--no-edit")

    def merge_from(self, base: str, target: str, restored: list[str]) -> None:
        """Merge ``target`` into HEAD as if ``base`` were their common ancestor (-Xours)."""
        head = self.rev_parse("HEAD")
        result = self.git.run("merge-recursive", "--ours", base, "--", head, target, ok=(0, 1))
        if result.returncode == 1 and not self.resolve_conflicts(target, restored):
            # The student's changes are committed, so this only drops the half-done merge.
            self.git.run("reset", "--quiet", "--hard", head)
            raise self.merge_conflict()
        tree = self.git.run("write-tree").text.strip()
        commit = self.git.run(
            *self.identity(), "commit-tree", tree, "-p", head, "-p", target, "-m", MERGE_MESSAGE
        ).text.strip()
        self.git.run("update-ref", "-m", MERGE_MESSAGE, "HEAD", commit, head)

    def merge_conflict(self) -> Unsafe:
        return Unsafe(
            "merge_conflict",
            "The course update conflicts with the folder in a way git cannot resolve.",
            read_head(self.git_dir)[1],
        )

    def resolve_conflicts(self, theirs: str, restored: list[str]) -> bool:
        """Resolve modify/delete conflicts (the only kind -Xours leaves); False if others."""
        stages: dict[str, set[str]] = {}
        for line in self.git.run("ls-files", "--unmerged", "-z").paths():
            meta, path = line.split("\t", 1)
            stages.setdefault(path, set()).add(meta.split(" ")[2])
        keep = [path for path, found in stages.items() if found == {"1", "2"}]
        take = [path for path, found in stages.items() if found == {"1", "3"}]
        if len(keep) + len(take) != len(stages):
            return False
        if keep:
            # Modified by the student, deleted upstream: the student's copy stays.
            self.git.run("add", "--", *keep)
        if take:
            # Deleted by the student (and committed), changed upstream: restore upstream's.
            self.checkout_paths(theirs, take)
            restored.extend(take)
        return True

    def track(self, local_branch: str) -> None:
        """After a branch change, make the student's branch follow the new one."""
        self.git.run("config", f"branch.{local_branch}.merge", f"refs/heads/{self.branch}")
        refspec = f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
        existing = self.git.run("config", "--get-all", "remote.origin.fetch", ok=(0, 1))
        if refspec not in existing.text.split():
            self.git.run("config", "--add", "remote.origin.fetch", refspec)

    # -- sparse checkout -----------------------------------------------------------------------

    def sparse_roots(self) -> list[str] | None:
        """The released sub-folders, or None when the whole repository is checked out."""
        if self._roots is False:
            self._roots = self.read_sparse_roots()
        roots = self._roots
        return roots if isinstance(roots, list) else None

    def read_sparse_roots(self) -> list[str] | None:
        try:
            with open(self.git_dir / "info" / "sparse-checkout", encoding="utf-8") as handle:
                lines = [line.strip() for line in handle if line.strip()]
        except OSError:
            return None
        if not lines or not os.path.exists(self.git_dir / "info" / "sparse-checkout"):
            return None
        if not self.git.run("config", "--bool", "core.sparseCheckout", ok=(0, 1)).text.startswith(
            "true"
        ):
            return None
        if not all(line.startswith("/") and valid_subpath(line[1:]) for line in lines):
            return None  # patterns we did not write: treat everything as visible
        return [line[1:] for line in lines]

    def hidden_paths(self) -> list[str]:
        """Tracked paths outside the released folders (skip-worktree)."""
        listing = self.git.run("ls-files", "-t", "-z").paths()
        return [line[2:] for line in listing if line.startswith("S ")]

    def move_hidden_files_aside(self, changes: dict[str, str]) -> None:
        """A file the student made where an unreleased course file sits is theirs: move it
        aside where this update or this release is about to put the course's file."""
        roots = self.sparse_roots()
        if roots is None:
            return
        releasing = [self.req.path] if self.req.path else None
        for path in self.hidden_paths():
            if not os.path.lexists(self.dest / path):
                continue
            if path in changes or releasing is None or _under(path, releasing):
                self.rename_aside(path)

    def release_paths(self) -> list[str]:
        """Widen the sparse checkout to the requested path; return the files that appeared."""
        roots = self.sparse_roots()
        if roots is None:
            return []  # already the whole repository: never hide files a student can see
        if self.req.path and _under(self.req.path, roots):
            return []
        appearing = [
            path
            for path in self.hidden_paths()
            if not self.req.path or _under(path, [self.req.path])
        ]
        for path in self.in_the_way(appearing):
            self.rename_aside(path)
        if self.req.path:
            self.git.run("sparse-checkout", "add", "--", "/" + self.req.path)
            if not os.path.lexists(self.dest / self.req.path):
                raise GitSyncError(
                    "path_not_found", f"The repository has no folder {self.req.path!r}."
                )
        else:
            self.git.run("sparse-checkout", "disable")
        self._roots = False
        return appearing

    # -- dry run -------------------------------------------------------------------------------

    def dry_update(self, status: Status, old_remote: str | None) -> SyncReport:
        """Fetch into a scratch ref and say what a real sync would do; touch nothing else."""
        scratch = f"refs/hubclass/dry-run/{self.branch}"
        self.fetch_refspec(self.git, f"+refs/heads/{self.branch}:{scratch}")
        try:
            target = self.rev_parse(scratch)
            if old_remote and old_remote != target:
                ancestor = self.git.run(
                    "merge-base", "--is-ancestor", old_remote, target, ok=(0, 1)
                )
                if ancestor.returncode == 1:
                    raise Unsafe(
                        "history_rewritten",
                        "The course repository's history was rewritten (force-pushed).",
                        status.head,
                    )
            base = self.switch_base(status)
            changes = self.upstream_changes(target, status, base)
            deleted = status.deleted()
            restored = self.upstream_paths(
                target, [path for path in deleted if changes.get(path) != "D"]
            )
            base = base or self.git.run("merge-base", "HEAD", target).text.strip()
            local = self.git.run("diff", "--name-only", "-z", "--no-ext-diff", base).paths()
            added = (path for path, kind in changes.items() if kind == "A")
            planned = [
                (path, self.aside_name(path))
                for path in self.in_the_way(added, self.sparse_roots(), target)
            ]
            outcome = "updated" if changes or restored or planned else "unchanged"
            kept = self.visible(p for p in local if p not in deleted)
            both_changed = [path for path in kept if path in changes]
            return SyncReport(
                outcome,
                status.head,
                status.head,
                updated=self.visible(changes),
                kept=kept,
                restored=restored,
                renamed=planned,
                not_applied=not_applied(self.git, base, target, both_changed, None, self.dest),
            )
        finally:
            self.git.run("update-ref", "-d", scratch)


def sync_workspace(
    request: Request, source: Source, now: Callable[[], datetime] = utcnow
) -> SyncReport:
    """Sync one workspace as the current user; every problem becomes a report, never a raise."""
    if request.policy not in POLICIES:
        return SyncReport.problem("failed", "policy_invalid", f"Unknown policy {request.policy!r}.")
    if request.path is not None and not valid_subpath(request.path):
        return SyncReport.problem(
            "failed", "path_invalid", "The sub-folder must be plain names separated by '/'."
        )
    return in_workspace(request, WorkspaceSync(request, source, now).run)


def in_workspace(request: Request, work: Callable[[], SyncReport]) -> SyncReport:
    """Run ``work`` holding the workspace lock; every problem becomes a report, never a raise."""
    try:
        wait = min(BUSY_WAIT_SECONDS, max(request.deadline - time.monotonic() - 1, 0))
        with workspace_lock(request.dest, wait):
            return work()
    except (GitSyncError, OSError) as exc:
        return problem_of(exc, request.dest)


def problem_of(exc: GitSyncError | OSError, dest: Path) -> SyncReport:
    """The failed report of a run that raised ``exc`` in the workspace ``dest``."""
    if isinstance(exc, GitSyncError):
        return SyncReport.problem("failed", exc.code, exc.message, read_head(dest / ".git")[1])
    if exc.errno == errno.EFBIG:
        return SyncReport.problem("failed", "too_large", TOO_LARGE_MESSAGE)
    return SyncReport.problem(
        "failed", "filesystem_error", f"A file operation failed: {exc.strerror or exc}."
    )
