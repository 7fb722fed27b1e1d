"""Fixtures for the git sync engine: real users, real bare upstreams, real student workspaces.

Run as root (CI), the student is a real user made with ``useradd`` and removed afterwards, and
every sync really drops to that user. Run as someone else, the student is that someone, and the
tests that need root skip.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.gitsync import SyncReport, ensure_mirror, sync

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root to create real users")

# The upstream side is the test's own git, run as the test runner: plain env, fixed identity.
UPSTREAM_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Instructor",
    "GIT_AUTHOR_EMAIL": "instructor@example.org",
    "GIT_COMMITTER_NAME": "Instructor",
    "GIT_COMMITTER_EMAIL": "instructor@example.org",
    "LC_ALL": "C",
}


def git(*args: str | os.PathLike[str], cwd: Path | None = None, **kwargs) -> str:
    result = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env=UPSTREAM_ENV,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {args} failed: {result.stderr}")
    return result.stdout


@dataclass
class Student:
    """A user who owns a home; acts on their workspace with their own uid."""

    name: str
    uid: int
    gid: int

    def as_me(self) -> dict:
        if self.uid == os.geteuid():
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def run(self, *args: str | os.PathLike[str], cwd: Path | None = None) -> str:
        env = dict(UPSTREAM_ENV, GIT_AUTHOR_NAME="Student", GIT_COMMITTER_NAME="Student")
        result = subprocess.run(
            [*map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, **self.as_me()
        )
        if result.returncode != 0:
            raise AssertionError(f"{args} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def git(self, repo: Path, *args: str) -> str:
        return self.run("git", "-C", repo, *args)

    def write(self, path: Path, data: str | bytes) -> None:
        """Write a file as the student would (their uid owns everything created)."""
        created = []
        parent = path.parent
        while not parent.exists():
            created.append(parent)
            parent = parent.parent
        for folder in reversed(created):
            folder.mkdir()
            os.chown(folder, self.uid, self.gid)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        os.chown(path, self.uid, self.gid, follow_symlinks=False)


def _make_user(prefix: str = "hctest") -> Student:
    name = f"{prefix}{secrets.token_hex(3)}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
        check=True,
    )
    entry = pwd.getpwnam(name)
    return Student(name, entry.pw_uid, entry.pw_gid)


def _remove_user(student: Student) -> None:
    subprocess.run(["userdel", student.name], check=False, capture_output=True)


@pytest.fixture(scope="session")
def student() -> Iterator[Student]:
    if not IS_ROOT:
        entry = pwd.getpwuid(os.geteuid())
        yield Student(entry.pw_name, entry.pw_uid, entry.pw_gid)
        return
    user = _make_user()
    try:
        yield user
    finally:
        _remove_user(user)


@pytest.fixture(scope="session")
def other_student() -> Iterator[Student]:
    if not IS_ROOT:
        pytest.skip("needs root to create a second user")
    user = _make_user()
    try:
        yield user
    finally:
        _remove_user(user)


@pytest.fixture
def scratch(base_dir: Path, request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:40]
    path = base_dir / f"{name}-{secrets.token_hex(3)}"
    path.mkdir()
    path.chmod(0o755)
    return path


@pytest.fixture
def home(scratch: Path, student: Student) -> Path:
    """The student's home: owned by them, like /home/<name>."""
    path = scratch / "home"
    path.mkdir()
    os.chown(path, student.uid, student.gid)
    return path


class Upstream:
    """A bare course repository plus the instructor's working copy that pushes to it."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.bare = root / "course.git"
        self.work = root / "instructor"
        self.branch = branch
        git("init", "--quiet", "--bare", f"--initial-branch={branch}", self.bare)
        git("init", "--quiet", f"--initial-branch={branch}", self.work)
        git("-C", self.work, "remote", "add", "origin", self.bare)

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for rel, data in files.items():
            path = self.work / rel
            if data is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode() if isinstance(data, str) else data)

    def commit(self, files: dict[str, str | bytes | None], message: str = "update") -> str:
        """Write (None deletes) files, commit and push; return the new commit."""
        self.write(files)
        git("-C", self.work, "add", "--all", "--force")
        git("-C", self.work, "commit", "--quiet", "--allow-empty", "-m", message)
        git("-C", self.work, "push", "--quiet", "--force", "origin", f"HEAD:{self.branch}")
        return git("-C", self.work, "rev-parse", "HEAD").strip()

    def checkout(self, branch: str, create: bool = False) -> None:
        git("-C", self.work, "checkout", "--quiet", *(["-b"] if create else []), branch)
        self.branch = branch

    def rewrite_history(self, files: dict[str, str | bytes | None]) -> str:
        """Replace the last commit (amend) and force-push: what 'rewritten upstream' means."""
        self.write(files)
        git("-C", self.work, "add", "--all", "--force")
        git("-C", self.work, "commit", "--quiet", "--amend", "-m", "rewritten")
        git("-C", self.work, "push", "--quiet", "--force", "origin", f"HEAD:{self.branch}")
        return git("-C", self.work, "rev-parse", "HEAD").strip()


@pytest.fixture
def upstream(scratch: Path) -> Upstream:
    repo = Upstream(scratch)
    repo.commit(
        {
            "README.md": "# Course\n",
            "week1/notes.ipynb": "line 1\nline 2\nline 3\nline 4\nline 5\n",
            "week1/data.csv": "a,b\n1,2\n",
            "week2/lab.ipynb": "lab\n",
        },
        "first release",
    )
    return repo


@pytest.fixture
def mirrors(base_dir: Path) -> Path:
    """Mirrors live in the service's private data dir (0700)."""
    path = base_dir / "data" / "mirrors"
    path.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    return path


class Syncer:
    """Run the engine the way a distribution does: refresh the mirror, then sync the folder."""

    def __init__(self, upstream: Upstream, mirrors: Path) -> None:
        self.upstream = upstream
        self.mirrors = mirrors

    def __call__(self, dest: Path, *, mirror: bool = True, **kwargs) -> SyncReport:
        url = kwargs.pop("url", self.upstream.url)
        branch = kwargs.pop("branch", None)
        used = ensure_mirror(url, branch, self.mirrors, timeout=30) if mirror else None
        kwargs.setdefault("allowed_prefixes", ["file:///"])
        kwargs.setdefault("timeout", 60)
        return sync(url, dest, branch=branch, mirror=used, **kwargs)


@pytest.fixture
def do_sync(upstream: Upstream, mirrors: Path) -> Syncer:
    return Syncer(upstream, mirrors)


def tree_bytes(root: Path) -> dict[str, bytes | str]:
    """Every file under ``root`` (but .git) with its bytes; symlinks as 'link -> target'."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            mode = os.lstat(path).st_mode
            found[rel] = f"link -> {os.readlink(path)}" if stat.S_ISLNK(mode) else path.read_bytes()
    return found


def git_bytes(root: Path) -> dict[str, bytes | str]:
    """Every file of ``root``'s .git (refs, shallow, config, objects) but the index, which a
    status may refresh: what "changed nothing" must leave as it was too."""
    return {name: data for name, data in tree_bytes(root / ".git").items() if name != "index"}


def commits(repo: Path) -> int:
    return int(git("-C", repo, "-c", "safe.directory=*", "rev-list", "--count", "HEAD").strip())


def repo_git(repo: Path, *args: str) -> str:
    """Inspect a student's repo from the test (root reads it; git would refuse its ownership)."""
    return git("-C", repo, "-c", "safe.directory=*", *args)


@pytest.fixture
def given(home: Path, upstream: Upstream, do_sync: Syncer) -> tuple[Path, str]:
    """The student's folder after the first release, and that release's commit; the course
    then publishes a newer commit the student has not been given."""
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    first = repo_git(dest, "rev-parse", "HEAD").strip()
    upstream.commit({"week1/notes.ipynb": "newer\n", "week3/new.ipynb": "new\n"}, "week 3")
    return dest, first


@contextmanager
def tmpfs(folder: Path, size: str, owner: Student) -> Iterator[Path]:
    """`folder` (made empty) on its own small tmpfs owned by `owner`: a disk that fills up,
    or that can be remounted read-only. Skips the test where no tmpfs can be mounted."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        os.chown(folder, owner.uid, owner.gid)
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
