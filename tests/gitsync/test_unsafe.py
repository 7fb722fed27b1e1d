"""States the engine must not merge over: left alone (default) or moved aside and re-cloned
(backup policy), never overwriting anything; locks; history changes upstream."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.gitsync.conftest import UPSTREAM_ENV, repo_git, tree_bytes


def _conflicted_merge(dest: Path, student) -> None:
    student.git(dest, "checkout", "-q", "-b", "side")
    student.write(dest / "README.md", "side\n")
    student.git(dest, "commit", "-qam", "side")
    student.git(dest, "checkout", "-q", "main")
    student.write(dest / "README.md", "main\n")
    student.git(dest, "commit", "-qam", "main")
    with pytest.raises(AssertionError):
        student.git(dest, "merge", "side")


def merge_in_progress(dest: Path, student) -> None:
    _conflicted_merge(dest, student)


def unmerged_paths(dest: Path, student) -> None:
    _conflicted_merge(dest, student)
    (dest / ".git" / "MERGE_HEAD").unlink()


def fresh_index_lock(dest: Path, student) -> None:
    student.write(dest / ".git" / "index.lock", "")


def detached_head(dest: Path, student) -> None:
    student.git(dest, "checkout", "-q", "--detach")


def foreign_branch(dest: Path, student) -> None:
    student.git(dest, "checkout", "-q", "-b", "experiment")


def missing_git_dir(dest: Path, student) -> None:
    shutil.rmtree(dest / ".git")


def corrupt_git_dir(dest: Path, student) -> None:
    shutil.rmtree(dest / ".git" / "objects")
    (dest / ".git" / "objects").mkdir()
    os.chown(dest / ".git" / "objects", student.uid, student.gid)


def gitfile_elsewhere(dest: Path, student) -> None:
    shutil.rmtree(dest / ".git")
    student.write(dest / ".git", "gitdir: /etc\n")


UNSAFE = {
    "merge in progress": (merge_in_progress, "operation_in_progress"),
    "unmerged paths": (unmerged_paths, "unmerged_paths"),
    "fresh index.lock": (fresh_index_lock, "index_locked"),
    "detached HEAD": (detached_head, "detached_head"),
    "foreign branch": (foreign_branch, "foreign_branch"),
    "missing .git": (missing_git_dir, "not_a_repository"),
    "corrupt .git": (corrupt_git_dir, "corrupt_repository"),
    "gitfile pointing elsewhere": (gitfile_elsewhere, "foreign_git_dir"),
}


def _prepare(name, home, upstream, do_sync, student) -> Path:
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    student.write(dest / "week1" / "data.csv", "the student's answer\n")
    student.write(dest / "scratch.txt", "untracked notes\n")
    breaker, _ = UNSAFE[name]
    breaker(dest, student)
    upstream.commit({"README.md": "# Course v2\n", "week3/new.ipynb": "new\n"})
    return dest


@pytest.mark.parametrize("name", list(UNSAFE))
def test_unsafe_state_needs_attention_by_default_and_nothing_changes(
    name, home, upstream, do_sync, student
):
    dest = _prepare(name, home, upstream, do_sync, student)
    files = tree_bytes(dest)
    git_files = sorted(str(p.relative_to(dest)) for p in (dest / ".git").rglob("*"))

    report = do_sync(dest)

    assert report.outcome == "needs_attention", report
    assert report.error_code == UNSAFE[name][1]
    assert report.error_message
    assert tree_bytes(dest) == files
    assert sorted(str(p.relative_to(dest)) for p in (dest / ".git").rglob("*")) == git_files
    assert not list(home.glob("course_backup_*"))


@pytest.mark.parametrize("name", list(UNSAFE))
def test_unsafe_state_with_backup_policy_moves_the_folder_aside_and_clones(
    name, home, upstream, do_sync, student
):
    dest = _prepare(name, home, upstream, do_sync, student)
    files = tree_bytes(dest)

    report = do_sync(dest, policy="backup")

    assert report.outcome == "cloned", report
    ((src, dst),) = report.renamed
    assert src == "course" and re.fullmatch(r"course_backup_\d{14}", dst)
    assert tree_bytes(home / dst) == files  # every byte of the student's folder, .git aside
    assert (dest / "README.md").read_text() == "# Course v2\n"
    assert repo_git(dest, "status", "--porcelain") == ""


def test_a_backup_never_overwrites_an_existing_one(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    detached_head(dest, student)
    now = datetime.now(UTC)
    taken = []
    for second in range(-1, 30):  # every name the next half-minute could produce
        stamp = (now + timedelta(seconds=second)).strftime("%Y%m%d%H%M%S")
        old = home / f"course_backup_{stamp}"
        old.mkdir()
        (old / "old.txt").write_text(stamp)
        taken.append(old)

    report = do_sync(dest, policy="backup")

    assert report.outcome == "cloned", report
    ((_, dst),) = report.renamed
    assert re.fullmatch(r"course_backup_\d{14}_1", dst)
    assert all((old / "old.txt").read_text() == old.name[-14:] for old in taken)
    assert all(sorted(os.listdir(old)) == ["old.txt"] for old in taken)


def test_a_target_that_is_a_file_is_left_alone(home, upstream, do_sync, student):
    student.write(home / "course", "not a folder\n")

    report = do_sync(home / "course")

    assert report.outcome == "needs_attention"
    assert report.error_code == "target_not_directory"
    assert (home / "course").read_text() == "not a folder\n"


def _synced_with_an_old_index_lock(home, do_sync, student) -> tuple[Path, Path]:
    dest = home / "course"
    do_sync(dest)
    lock = dest / ".git" / "index.lock"
    student.write(lock, "")
    old = time.time() - 11 * 60
    os.utime(lock, (old, old))
    return dest, lock


def test_a_stale_index_lock_without_git_is_removed_and_the_sync_proceeds(
    home, upstream, do_sync, student
):
    dest, lock = _synced_with_an_old_index_lock(home, do_sync, student)
    upstream.commit({"README.md": "v2\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert not lock.exists()
    assert (dest / "README.md").read_text() == "v2\n"


def test_an_old_index_lock_held_by_a_running_git_is_not_removed(home, upstream, do_sync, student):
    dest, lock = _synced_with_an_old_index_lock(home, do_sync, student)
    # A git process working in the folder (like nbgitpuller's in the student's server).
    busy = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=dest,
        env=UPSTREAM_ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        **student.as_me(),
    )
    try:
        report = do_sync(dest, timeout=3)
    finally:
        busy.stdin.close()
        busy.wait()

    assert report.outcome == "failed"
    assert report.error_code == "repo_busy"
    assert lock.exists()


def test_rewritten_upstream_history_is_never_merged(home, upstream, do_sync, student):
    upstream.commit({"README.md": "v2\n"})
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "data.csv", "mine\n")
    upstream.rewrite_history({"README.md": "v2, rewritten\n"})
    head = repo_git(dest, "rev-parse", "HEAD")

    report = do_sync(dest)

    assert report.outcome == "needs_attention", report
    assert report.error_code == "history_rewritten"
    assert repo_git(dest, "rev-parse", "HEAD") == head
    assert (dest / "week1" / "data.csv").read_text() == "mine\n"

    report = do_sync(dest, policy="backup")
    assert report.outcome == "cloned"
    assert (dest / "README.md").read_text() == "v2, rewritten\n"
    assert (home / report.renamed[0][1] / "week1" / "data.csv").read_text() == "mine\n"


def test_a_branch_change_on_a_shallow_clone_works(home, upstream, do_sync, student):
    first = upstream.commit({"week1/data.csv": "a,b\n2,2\n"})
    upstream.commit({"week1/data.csv": "a,b\n3,3\n"})
    dest = home / "course"
    do_sync(dest)
    assert (dest / ".git" / "shallow").exists()
    student.write(dest / "week2" / "lab.ipynb", "my lab\n")
    # v2 forks from a commit older than the student's single shallow commit.
    upstream.checkout(first)
    upstream.checkout("v2", create=True)
    upstream.commit({"v2.txt": "only on v2\n", "README.md": "# Course, v2\n"})

    report = do_sync(dest, branch="v2")

    assert report.outcome == "updated", report
    assert (dest / "v2.txt").read_text() == "only on v2\n"
    assert (dest / "README.md").read_text() == "# Course, v2\n"
    assert (dest / "week2" / "lab.ipynb").read_text() == "my lab\n"
    assert repo_git(dest, "rev-parse", "--abbrev-ref", "@{upstream}").strip() == "origin/v2"
    upstream.commit({"v2.txt": "v2, second\n"})
    assert do_sync(dest, branch="v2").outcome == "updated"
    assert (dest / "v2.txt").read_text() == "v2, second\n"


def test_a_held_workspace_lock_makes_the_sync_fail_clearly(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    fd = os.open(home / ".course.hubclass.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        report = do_sync(dest, timeout=2)
    finally:
        os.close(fd)

    assert report.outcome == "failed"
    assert report.error_code == "workspace_busy"


def test_two_syncs_of_one_folder_at_once_never_overlap(home, upstream, do_sync):
    dest = home / "course"
    mirror = do_sync.mirrors
    reports = []

    def one() -> None:
        reports.append(do_sync(dest))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.outcome for r in reports) == ["cloned", "unchanged", "unchanged"], reports
    assert mirror.exists()
    assert repo_git(dest, "status", "--porcelain") == ""
    assert sorted(p.name for p in home.iterdir()) == [".course.hubclass.lock", "course"]
