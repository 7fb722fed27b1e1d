"""One bare mirror per upstream URL and branch in the service's data dir, fetched once per
distribution; every student's sync then fetches from it instead of from the network.

Mirrors belong to the service and stay private to it (mode 0700): students never read them by
path. A student's sync gets the mirror's content through a socket to a ``git upload-pack`` that the
service starts (see ``asuser.MirrorChannel``), so course material of one course is never readable
by the students of another.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from .errors import GitSyncError
from .refs import read_head, read_ref, remote_head, valid_branch
from .runner import TOO_LARGE_MESSAGE, Git, GitCommandFailed, size_cap_hit
from .urls import check_url_syntax, url_scheme

DEFAULT_MIRROR_TIMEOUT = 600.0
DEFAULT_MAX_FILE_BYTES = 1 << 30  # the size cap: no pack or checked-out file above 1 GiB
READY_DIR = "hubclass-ready"  # inside the bare mirror; git ignores folders it does not know


def mirror_name(url: str, branch: str) -> str:
    """A readable, collision-free folder name for (url, branch)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[-1]).strip("-")[-60:]
    digest = hashlib.sha256(f"{url}\0{branch}".encode()).hexdigest()[:16]
    return f"{slug}-{digest}.git"


def mirror_branch(mirror: Path) -> str | None:
    """The branch a mirror was made for (its HEAD)."""
    return read_head(mirror)[0]


def mirror_commit(mirror: Path, branch: str) -> str | None:
    return read_ref(mirror, f"refs/heads/{branch}")


def mirror_has(mirror: Path, branch: str, commit: str, deadline: float) -> bool:
    """Whether ``commit`` is on the mirror's ``branch`` (the course's, not rewritten away)."""
    found = Git(deadline, git_dir=mirror).run(
        "merge-base", "--is-ancestor", commit, f"refs/heads/{branch}", ok=(0, 1, 128)
    )
    return found.returncode == 0


def find_mirror(url: str, branch: str | None, mirrors_dir: Path | str) -> list[Path]:
    """The mirrors already made for ``url``'s ``branch`` (None: for whichever branch), read
    without any network: a page lists the course's files from them."""
    folder = Path(mirrors_dir)
    if branch is not None:
        path = folder / mirror_name(url, branch)
        return [path] if path.is_dir() else []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        made_for = mirror_branch(entry) if entry.suffix == ".git" else None
        if made_for and entry.name == mirror_name(url, made_for):
            found.append(entry)
    return found


def tree_files(mirror: Path, commit: str, subpath: str | None, *, timeout: float) -> list[str]:
    """The files of ``commit`` (under ``subpath``), read from the mirror; [] if it lacks it."""
    git = Git(time.monotonic() + timeout, git_dir=mirror)
    if git.run("cat-file", "-e", f"{commit}^{{tree}}", ok=(0, 1, 128)).returncode != 0:
        return []
    under = [subpath] if subpath else []
    return git.run("ls-tree", "-r", "-z", "--name-only", commit, "--", *under).paths()


def remote_default_branch(url: str, git: Git) -> str:
    """The branch the remote's HEAD names, as ``git clone`` would pick it."""
    result = git.run("ls-remote", "--symref", "--", url, "HEAD", allow_protocol=url_scheme(url))
    return remote_head(result.text)


def _fail(exc: GitCommandFailed, branch: str) -> GitSyncError:
    if b"couldn't find remote ref" in exc.result.stderr:
        return GitSyncError("branch_not_found", f"The repository has no branch {branch!r}.")
    if exc.code == "too_large":
        return exc
    return GitSyncError("mirror_fetch_failed", f"Fetching the repository failed: {exc.message}")


def ensure_mirror(
    url: str,
    branch: str | None,
    mirrors_dir: Path | str,
    *,
    timeout: float = DEFAULT_MIRROR_TIMEOUT,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Path:
    """Create or update the bare mirror of ``url``'s ``branch`` (default: remote HEAD); return it.

    The caller validates ``url`` against the allowed prefixes first; this still refuses URLs that
    could inject options or commands. Concurrent calls for one mirror take turns (flock).
    """
    check_url_syntax(url)
    deadline = time.monotonic() + timeout
    base = Git(deadline, fsize_limit=max_file_bytes, config=("transfer.fsckObjects=true",))
    if branch is None:
        try:
            branch = remote_default_branch(url, base)
        except GitCommandFailed as exc:
            raise _fail(exc, "HEAD") from None
    if not valid_branch(branch):
        raise GitSyncError("branch_invalid", f"The branch name {branch!r} is refused.")
    mirrors = Path(mirrors_dir)
    mirrors.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(mirrors, 0o700)  # private to the service: students get mirrors through a socket
    path = mirrors / mirror_name(url, branch)
    fd = os.open(mirrors / f".{path.name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not path.is_dir():
            tmp = mirrors / f".{path.name}.tmp-{secrets.token_hex(4)}"
            try:
                base.run("init", "--quiet", "--bare", "--template=", "--", str(tmp))
                os.rename(tmp, path)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        git = Git(
            deadline,
            git_dir=path,
            fsize_limit=max_file_bytes,
            config=("transfer.fsckObjects=true",),
        )
        previous = mirror_commit(path, branch)
        try:
            # Forced: the mirror follows upstream even through a force-push; the students' own
            # fetches are fast-forward only, which is where a rewrite is noticed.
            git.run(
                "fetch",
                "--quiet",
                "--prune",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                "--",
                url,
                f"+refs/heads/{branch}:refs/heads/{branch}",
                allow_protocol=url_scheme(url),
            )
        except GitCommandFailed as exc:
            if size_cap_hit(path, max_file_bytes):
                raise GitSyncError("too_large", TOO_LARGE_MESSAGE) from None
            raise _fail(exc, branch) from None
        git.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        ensure_ready_packs(git, path, branch, previous)
    finally:
        os.close(fd)
    return path


def ensure_ready_packs(git: Git, mirror: Path, branch: str, previous: str | None) -> None:
    """Prepare, once per new commit, the packs most students' syncs need, ready to copy.

    ``full``: exactly what a ``--depth 1`` clone of the branch needs (a first sync copies it
    instead of fetching). ``from-<previous>``: the objects between the previously mirrored
    commit and this one (a student who has the previous distribution copies it instead of
    fetching). Either way, nothing is packed or hashed again for each of hundreds of students.
    The service made these packs from its own fsck-checked mirror, so they are trusted like any
    object the mirror would serve.
    """
    commit = mirror_commit(mirror, branch)
    if commit is None:
        return
    ready = mirror / READY_DIR
    ready.mkdir(exist_ok=True)
    target = ready / commit
    if not target.is_dir():
        listing = git.run("rev-list", "--objects", "--no-object-names", f"{commit}^{{tree}}")
        _build(git, ready, target, f"{commit}\n".encode() + listing.stdout, into="full")
    if previous and previous != commit and _is_simple_increment(git, previous, commit):
        step = target / f"from-{previous}"
        if not step.is_dir():
            _build(git, target, step, f"{commit}\n^{previous}\n".encode(), revs=True)
    for old in ready.iterdir():
        if old.name != commit:  # a sync still copying an old pack holds it open: unlink is fine
            shutil.rmtree(old, ignore_errors=True)


def _build(
    git: Git, parent: Path, final: Path, objects: bytes, *, into: str = "", revs: bool = False
) -> None:
    """Write a pack of ``objects`` in a temp folder, then rename it to ``final``."""
    building = parent / f".{final.name}.tmp-{secrets.token_hex(4)}"
    folder = building / into if into else building
    try:
        folder.mkdir(parents=True)
        options = ["--revs"] if revs else []
        git.run(
            "pack-objects",
            "--quiet",
            "--delta-base-offset",
            *options,
            str(folder / "pack"),
            input=objects,
        )
        os.rename(building, final)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _is_simple_increment(git: Git, previous: str, commit: str) -> bool:
    """True when a repository that has ``previous`` (even shallow) has everything the commits
    ``previous..commit`` point at: each of their parents is in that range or is ``previous``."""
    ancestor = git.run("merge-base", "--is-ancestor", previous, commit, ok=(0, 1))
    if ancestor.returncode != 0:
        return False  # rewritten history: students fetch, and see it
    rows = [
        line.split()
        for line in git.run("rev-list", "--parents", f"{previous}..{commit}").text.splitlines()
    ]
    inside = {row[0] for row in rows} | {previous}
    return all(parent in inside for row in rows for parent in row[1:])


def _ready_pack(folder: Path) -> Path | None:
    packs = sorted(folder.glob("pack-*.pack"))
    if len(packs) == 1 and packs[0].with_suffix(".idx").is_file():
        return packs[0]
    return None


def ready_packs(mirror: Path, commit: str) -> tuple[Path | None, tuple[str, Path] | None]:
    """Return (the depth-1 pack, (previous commit, the step pack)) prepared for ``commit``."""
    folder = mirror / READY_DIR / commit
    full = _ready_pack(folder / "full")
    for step in folder.glob("from-*"):
        pack = _ready_pack(step)
        if pack is not None:
            return full, (step.name[len("from-") :], pack)
    return full, None
