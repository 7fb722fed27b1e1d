"""A reset that cannot finish, is refused, or is asked for twice never loses or hides the
student's work: the course's version is made beside the folder before anything of theirs moves,
a failure names every file it moved aside, a refusal leaves their .git as it was, and a folder
they brought forward themselves is not put back to an older version. Real users, real homes,
real git, a real kill -9."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.delivery.models import RESET
from app.delivery.worker import RESET_BUSY, from_report
from app.gitsync import ensure_mirror, reset
from app.gitsync.asuser import MirrorChannel
from tests.gitsync.conftest import (
    Student,
    Syncer,
    Upstream,
    git,
    git_bytes,
    needs_root,
    repo_git,
    tree_bytes,
)
from tests.gitsync.test_reset import do_reset

pytestmark = needs_root


def _readable_copy(upstream: Upstream, student: Student, home: Path) -> Path:
    """The course repository as the student can read it (what their own `git pull` reads)."""
    copy = home.parent / "readable.git"
    shutil.copytree(upstream.bare, copy)
    subprocess.run(["chown", "-R", f"{student.uid}:{student.gid}", str(copy)], check=True)
    return copy


def _engine_with(fault: str, request: dict) -> dict | None:
    """Run one reset request in a forked engine process whose ``WorkspaceReset.<fault>`` is
    replaced (fault injection): "kill" kills the process there, anything else raises a
    timeout there. Return its report, None when it was killed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            from app.errors import HubclassError  # noqa: F401 -- loaded before the fault
            from app.gitsync.asuser import run_request
            from app.gitsync.errors import GitSyncError

            reset_module = sys.modules["app.gitsync.reset"]
            method, action = fault.split(":")

            def faulty(self, *args):
                if action == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise GitSyncError("timeout", "git reset did not finish in time and was stopped.")

            setattr(reset_module.WorkspaceReset, method, faulty)
            os.write(write, json.dumps(run_request(request).to_json()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return None
    return json.loads(data)


def _request(upstream: Upstream, mirrors: Path, dest: Path, commit: str, paths: list[str]):
    mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    return {
        "operation": "reset",
        "url": upstream.url,
        "dest": str(dest),
        "branch": "main",
        "path": None,
        "policy": "needs_attention",
        "mirror": str(mirror),
        "commit": commit,
        "paths": paths,
        "timeout": 60,
    }


def test_the_mirror_serves_a_student_only_what_the_course_branch_reaches(
    upstream: Upstream, mirrors: Path, student: Student, scratch: Path
):
    """A student talking to the mirror's socket with their own git and their own wants gets
    the branch's commits, never one force-pushed away (upload-pack speaks v0 over fd::)."""
    first = repo_git(upstream.work, "rev-parse", "HEAD").strip()
    mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    secret = upstream.commit({"solutions.py": "the answer\n"}, "oops: solutions pushed")
    ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    upstream.rewrite_history({"solutions.py": None, "README.md": "# Course v2\n"})
    ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    held = subprocess.run(["git", "--git-dir", str(mirror), "cat-file", "-e", secret], check=False)
    assert held.returncode == 0, "the mirror still holds the force-pushed-away commit"
    repo = scratch / "mine"
    repo.mkdir()
    os.chown(repo, student.uid, student.gid)
    student.git(repo, "init", "-q")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ALLOW_PROTOCOL": "fd",
    }
    codes = {}
    for name, want in (("reachable", first), ("force-pushed away", secret)):
        channel = MirrorChannel(mirror, time.monotonic() + 30)
        fd = channel.connect()
        try:
            codes[name] = subprocess.run(
                ["git", "-C", str(repo), "-c", "protocol.version=2", "fetch", "--depth=1",
                 f"fd::{fd}", want],
                env=env, capture_output=True, pass_fds=(fd,), **student.as_me(),
            ).returncode  # fmt: skip
        finally:
            os.close(fd)
            channel.close()
    assert codes["reachable"] == 0
    assert codes["force-pushed away"] != 0


def test_a_linked_folder_fails_both_resets_with_the_same_honest_message(
    given,
    upstream: Upstream,
    mirrors: Path,
    home: Path,
):
    dest, first = given
    os.rename(dest, home / "elsewhere")
    dest.symlink_to(home / "elsewhere")
    paths = do_reset(upstream, mirrors, dest, first, ["README.md"])
    whole = do_reset(upstream, mirrors, dest, first, [])
    for report in (paths, whole):
        assert (report.outcome, report.error_code) == ("failed", "target_not_directory"), report
    assert paths.error_message == whole.error_message
    assert "Reset the whole folder" not in (paths.error_message or "")
    assert dest.is_symlink()


def test_a_folder_whose_git_the_student_deleted_is_moved_aside_and_cloned_fresh(
    given,
    upstream: Upstream,
    mirrors: Path,
    home: Path,
):
    dest, first = given
    shutil.rmtree(dest / ".git")
    theirs = tree_bytes(dest)
    report = do_reset(upstream, mirrors, dest, first, [])
    assert report.outcome == "reset", report
    ((source, aside),) = report.renamed
    assert source == "course" and tree_bytes(home / aside) == theirs
    assert repo_git(dest, "rev-parse", "HEAD").strip() == first


def test_a_whole_folder_reset_killed_during_the_clone_leaves_the_students_folder_in_place(
    given,
    upstream: Upstream,
    mirrors: Path,
    student: Student,
    home: Path,
):
    dest, first = given
    student.write(dest / "week1" / "mine.py", "print('my work')\n")
    mine, git_before = tree_bytes(dest), git_bytes(dest)
    killed = _engine_with("write_clone_config:kill", _request(upstream, mirrors, dest, first, []))
    assert killed is None
    assert tree_bytes(dest) == mine and git_bytes(dest) == git_before
    assert not [p for p in home.iterdir() if "_backup_" in p.name]
    # The instructor resets again: the killed run's temporary clone is cleared, the folder
    # is moved aside once, and the report names it.
    report = do_reset(upstream, mirrors, dest, first, [])
    ((_, aside),) = report.renamed
    assert report.outcome == "reset" and tree_bytes(home / aside) == mine
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".course")) == [
        ".course.hubclass.lock"
    ]


def test_pressing_whole_folder_twice_makes_one_backup(
    given,
    upstream: Upstream,
    mirrors: Path,
    student: Student,
    home: Path,
):
    dest, first = given
    student.write(dest / "week1" / "mine.py", "print('mine')\n")
    assert do_reset(upstream, mirrors, dest, first, []).outcome == "reset"
    again = do_reset(upstream, mirrors, dest, first, [])
    assert (again.outcome, again.renamed, again.after) == ("unchanged", [], first), again
    assert len([p for p in home.iterdir() if "_backup_" in p.name]) == 1
    # Anything the student added since (even an ignored file) is theirs: moved aside again.
    student.write(dest / ".ipynb_checkpoints" / "x.ipynb", "{}\n")
    assert do_reset(upstream, mirrors, dest, first, []).outcome == "reset"


def test_a_file_reset_over_the_size_cap_moves_nothing_and_leaves_no_lock(
    upstream: Upstream, mirrors: Path, student: Student, home: Path, do_sync: Syncer
):
    upstream.commit({"week1/big.bin": os.urandom(200_000)}, "a big file")
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    first = repo_git(dest, "rev-parse", "HEAD").strip()
    student.write(dest / "week1" / "notes.ipynb", "my notes\n")
    student.write(dest / "week1" / "big.bin", b"my big file\n")
    before, git_before = tree_bytes(dest), git_bytes(dest)
    mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    report = reset(
        upstream.url, dest, commit=first, paths=["week1/big.bin", "week1/notes.ipynb"],
        branch="main", mirror=mirror, allowed_prefixes=["file:///"], timeout=60,
        max_file_bytes=100_000,
    )  # fmt: skip
    assert (report.outcome, report.error_code, report.renamed) == ("failed", "too_large", [])
    assert tree_bytes(dest) == before and git_bytes(dest) == git_before
    assert not (dest / ".git" / "index.lock").exists()
    assert not [p for p in home.iterdir() if ".hubclass-tmp-" in p.name]


def test_a_file_reset_that_fails_after_moving_files_aside_names_them(
    given,
    upstream: Upstream,
    mirrors: Path,
    student: Student,
):
    dest, first = given
    student.write(dest / "week1" / "notes.ipynb", "my notes\n")
    request = _request(upstream, mirrors, dest, first, ["week1/notes.ipynb"])
    report = _engine_with("update_index:timeout", request)
    assert report is not None and report["outcome"] == "failed", report
    ((moved,),) = [report["renamed"]]
    assert moved["from"] == "week1/notes.ipynb"
    assert (dest / moved["to"]).read_text() == "my notes\n"
    assert (dest / "week1" / "notes.ipynb").read_text().startswith("line 1\n")  # whole
    assert report["restored"] == ["week1/notes.ipynb"]
    assert not (dest / ".git" / "index.lock").exists()


def test_a_refused_reset_fetches_nothing_into_the_students_git(
    given,
    upstream: Upstream,
    mirrors: Path,
    student: Student,
    home: Path,
):
    """The student re-made the folder at the newer commit (an nbgitpuller link): the commit
    they were given is not in it. A path the course's version lacks is refused first."""
    dest, first = given
    copy = _readable_copy(upstream, student, home)
    shutil.rmtree(dest)
    student.run("git", "clone", "-q", "--depth=1", f"file://{copy}", str(dest))
    student.git(dest, "remote", "set-url", "origin", upstream.url)
    before = git_bytes(dest)
    report = do_reset(upstream, mirrors, dest, first, ["week3/new.ipynb"])
    assert report.error_code == "path_not_in_course", report
    assert git_bytes(dest) == before


def test_a_student_who_pulled_the_newer_version_gets_it_back_not_the_older_one(
    given,
    upstream: Upstream,
    mirrors: Path,
    student: Student,
    home: Path,
    do_sync,
):
    dest, first = given  # the course has "week 3" since: week1/notes.ipynb is "newer\n"
    copy = _readable_copy(upstream, student, home)
    student.git(dest, "fetch", "-q", str(copy), "+refs/heads/main:refs/remotes/origin/main")
    student.git(dest, "merge", "-q", "--ff-only", "origin/main")  # what a `git pull` does
    student.write(dest / "week1" / "notes.ipynb", "my mess\n")
    report = do_reset(upstream, mirrors, dest, first, ["week1/notes.ipynb"])
    assert report.outcome == "reset", report
    assert (dest / "week1" / "notes.ipynb").read_text() == "newer\n"
    assert repo_git(dest, "status", "--porcelain", "--untracked-files=no").strip() == ""
    upstream.commit({"week1/notes.ipynb": "week 4\n"}, "week 4")
    later = do_sync(dest, branch="main")
    assert later.kept == [], later
    assert (dest / "week1" / "notes.ipynb").read_text() == "week 4\n"


def test_a_busy_folder_tells_the_instructor_to_reset_again(
    given,
    upstream: Upstream,
    mirrors: Path,
    student: Student,
    home: Path,
):
    dest, first = given
    lock = home / ".course.hubclass.lock"
    student.write(lock, b"")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # the student's own git / nbgitpuller holds it
    try:
        mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)
        report = reset(
            upstream.url, dest, commit=first, paths=["README.md"], branch="main",
            mirror=mirror, allowed_prefixes=["file:///"], timeout=3,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert report.error_code == "workspace_busy"
    assert from_report(report, first, "main", RESET).error == RESET_BUSY
    assert "Reset again" in RESET_BUSY and "Distribute" not in RESET_BUSY


def test_a_force_pushed_commit_is_refused_in_words_that_say_what_happened(
    given,
    upstream: Upstream,
    mirrors: Path,
):
    dest, first = given
    git("-C", upstream.work, "reset", "--quiet", "--soft", first)  # the release's commit too
    upstream.rewrite_history({"README.md": "# rewritten\n"})
    report = do_reset(upstream, mirrors, dest, first, ["README.md"])
    assert report.error_code == "commit_not_in_course", report
    assert "'main'" in (report.error_message or "") and "force-pushed" in report.error_message
