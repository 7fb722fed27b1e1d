"""Attacks from a student's own folder (SECURITY.md 4 and 5), as root with real users: git never
runs as root there, nothing root-owned is left behind, symlink swaps reach nothing."""

from __future__ import annotations

import contextlib
import json
import os
import select
import stat
import time
from pathlib import Path

import pytest

from app.gitsync import ensure_mirror, sync
from app.gitsync.asuser import run_request
from tests.gitsync.conftest import git, needs_root, repo_git

pytestmark = [pytest.mark.root, needs_root]

HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-merge-commit",
    "post-merge",
    "post-checkout",
    "post-rewrite",
    "reference-transaction",
    "post-index-change",
    "pre-auto-gc",
    "fsmonitor-watchman",
)


def uid0_files(root: Path) -> list[str]:
    """Everything under ``root`` (symlinks not followed) that belongs to uid 0 or gid 0."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            info = os.lstat(Path(dirpath) / name)
            if info.st_uid == 0 or info.st_gid == 0:
                found.append(str(Path(dirpath) / name))
    return found


def plant(dest: Path, student, log: Path) -> None:
    """Hooks, an fsmonitor, a hooksPath and a smudge filter that record who runs them."""
    script = f'#!/bin/sh\necho "$(id -u) $(id -G)" >> {log}\n'
    for folder in (dest / ".git" / "hooks", dest / "myhooks"):
        for name in HOOKS:
            student.write(folder / name, script)
            os.chmod(folder / name, 0o755)  # noqa: S103 -- a hook is only a threat if executable
    student.write(dest / "record.sh", script)
    os.chmod(dest / "record.sh", 0o755)  # noqa: S103 -- as above
    student.git(dest, "config", "core.hooksPath", str(dest / "myhooks"))
    student.git(dest, "config", "core.fsmonitor", str(dest / "record.sh"))
    student.git(dest, "config", "filter.evil.smudge", f"sh -c 'id -u >> {log}; cat'")
    student.git(dest, "config", "filter.evil.clean", f"sh -c 'id -u >> {log}; cat'")


def test_planted_hooks_never_run_as_root(home, upstream, do_sync, student):
    log = home / "who-ran.log"
    upstream.commit({".gitattributes": "*.ipynb filter=evil\n"})
    dest = home / "course"
    do_sync(dest)
    plant(dest, student, log)
    # Every code path: a student edit (commit), an upstream change (merge), a restore, a rename.
    student.write(dest / "week1" / "notes.ipynb", "mine\n")
    (dest / "week1" / "data.csv").unlink()
    student.write(dest / "week3" / "new.ipynb", "in the way\n")
    upstream.commit({"week3/new.ipynb": "new\n", "week2/lab.ipynb": "v2\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    ran = log.read_text().splitlines() if log.exists() else []
    # Hooks and fsmonitor are off; the smudge filter is the student's own config, so git may run
    # it, but only as the student, with no supplementary group of root's.
    assert all(
        line.split() in ([str(student.uid)], [str(student.uid), str(student.gid)]) for line in ran
    ), ran
    assert uid0_files(home) == []


def test_no_file_in_the_home_belongs_to_root_after_every_kind_of_sync(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest, path="week1")
    student.write(dest / "week1" / "data.csv", "mine\n")
    upstream.commit({"week1/data.csv": "theirs\n", "week2/lab.ipynb": "v2\n"})
    do_sync(dest, path="week2")
    student.git(dest, "checkout", "-q", "--detach")
    do_sync(dest, policy="backup")
    do_sync(home / "other", mirror=False, url="file:///nonexistent/repo.git")
    do_sync(dest, dry_run=True)

    assert sorted(p.name for p in home.iterdir() if p.name.startswith("course_backup_"))
    assert uid0_files(home) == []


def snapshot(root: Path) -> dict[str, tuple]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name
            info = os.lstat(path)
            data = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
            key = str(path.relative_to(root))
            found[key] = (info.st_uid, info.st_gid, info.st_mode, info.st_mtime_ns, data)
    return found


def test_a_thousand_symlink_swaps_of_the_target_never_touch_a_root_folder(
    home, upstream, do_sync, student, scratch
):
    victim = scratch / "victim"  # root's: a repository, like a course folder root keeps
    git("init", "--quiet", "--initial-branch=main", victim)
    (victim / "README.md").write_text("root's file\n")
    (victim / "secret.txt").write_text("root only\n")
    git("-C", victim, "add", "--all")
    git("-C", victim, "commit", "--quiet", "-m", "root's")
    before = snapshot(victim)
    dest = home / "course"
    mirror = ensure_mirror(upstream.url, "main", do_sync.mirrors, timeout=30)
    assert sync(upstream.url, dest, mirror=mirror, allowed_prefixes=["file://"]).outcome == "cloned"
    upstream.commit({"README.md": "v2\n"})
    mirror = ensure_mirror(upstream.url, "main", do_sync.mirrors, timeout=30)

    # The flipper goes on until it has flipped 1000 times AND the syncs below number at least
    # ten (a byte on this pipe says so), so the overlap does not depend on the machine's speed.
    enough, told = os.pipe()
    pid = os.fork()
    if pid == 0:  # the student, flipping their folder for a symlink to root's, 1000+ times
        code = 1
        try:
            os.close(told)
            os.setgroups([])
            os.setresgid(student.gid, student.gid, student.gid)
            os.setresuid(student.uid, student.uid, student.uid)
            flip = 0
            while flip < 1000 or not select.select([enough], [], [], 0)[0]:
                flip += 1
                if flip > 100_000:
                    break
                aside = home / f"course.flip{flip}"
                # Syncs race with every step below (that is the point): a step that loses the
                # race is skipped, never the end of the flipping.
                try:
                    os.rename(dest, aside)
                except OSError:
                    aside = None
                with contextlib.suppress(OSError):  # e.g. a sync recreated it meanwhile
                    os.symlink(victim, dest)
                time.sleep(0.002)
                with contextlib.suppress(OSError):
                    if os.path.islink(dest):
                        os.unlink(dest)
                if aside is not None:
                    with contextlib.suppress(OSError):
                        os.rename(aside, dest)
            code = 0
        finally:
            os._exit(code)

    os.close(enough)
    reports = []
    deadline = time.monotonic() + 300
    while (finished := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        assert time.monotonic() < deadline, "the flipper did not finish"
        policy = ("needs_attention", "backup")[len(reports) % 2]
        reports.append(
            sync(upstream.url, dest, mirror=mirror, policy=policy, allowed_prefixes=["file://"])
        )
        if len(reports) == 10:
            os.write(told, b"x")
    os.close(told)
    assert os.waitstatus_to_exitcode(finished[1]) == 0, "the flipper stopped early"
    assert len(reports) >= 10
    assert snapshot(victim) == before
    assert uid0_files(home) == []
    assert all(r.error_code != "internal_error" for r in reports), reports
    assert {r.outcome for r in reports} <= {
        "cloned",
        "updated",
        "unchanged",
        "needs_attention",
        "failed",
    }


def test_a_root_owned_parent_is_refused(scratch, upstream, do_sync):
    parent = scratch / "rootdir"
    parent.mkdir()

    report = do_sync(parent / "course")

    assert report.outcome == "failed"
    assert report.error_code == "owner_is_root"
    assert list(parent.iterdir()) == []


def test_not_root_and_another_owner_is_a_clear_failure(home, upstream, student, other_student):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a non-root service (other_student) asked to sync student's folder
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(other_student.gid, other_student.gid, other_student.gid)
            os.setresuid(other_student.uid, other_student.uid, other_student.uid)
            request = {"url": upstream.url, "dest": str(home / "course"), "policy": "backup"}
            report = run_request({**request, "timeout": 10})
            os.write(write, json.dumps(report.to_json()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = json.loads(pipe.read())
    os.waitpid(pid, 0)

    assert data["outcome"] == "failed"
    assert data["error"]["code"] == "owner_mismatch"
    assert str(student.uid) in data["error"]["message"]
    assert list(home.iterdir()) == []


def test_the_sync_runs_as_the_homes_owner_with_no_extra_groups(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)

    info = os.stat(dest / "README.md")
    assert (info.st_uid, info.st_gid) == (student.uid, student.gid)
    assert repo_git(dest, "status", "--porcelain") == ""


def test_a_hardlink_to_a_root_file_in_the_folder_never_changes_that_file(
    home, upstream, do_sync, student, scratch
):
    """SECURITY.md 5: a course file, and a file in the way of a new one, swapped for hardlinks
    to root's files. (Made here by root: fs.protected_hardlinks stops most students making
    them, not all machines set it.) The sync replaces or moves the links; root's files keep
    their owner, mode and bytes."""
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    same = scratch / "root-same"  # the course file's own bytes: git sees no edit of the link
    same.write_text("a,b\n1,2\n")
    other = scratch / "root-other"
    other.write_text("root only\n")
    for victim in (same, other):
        victim.chmod(0o644)
    before = {victim: snapshot(victim.parent)[victim.name] for victim in (same, other)}
    (dest / "week1" / "data.csv").unlink()
    os.link(same, dest / "week1" / "data.csv")
    student.write(dest / "week3" / "mine.txt", "the student's\n")
    os.link(other, dest / "week3" / "new.ipynb")
    upstream.commit({"week1/data.csv": "a,b\n3,4\n", "week3/new.ipynb": "new\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert {victim: snapshot(victim.parent)[victim.name] for victim in (same, other)} == before
    data = dest / "week1" / "data.csv"
    assert data.read_text() == "a,b\n3,4\n"
    assert (os.stat(data).st_uid, os.stat(data).st_nlink) == (student.uid, 1)
    assert (dest / "week3" / "new.ipynb").read_text() == "new\n"
    assert (dest / "week3" / "mine.txt").read_text() == "the student's\n"
    ((src, dst),) = report.renamed  # the link in the way, moved aside: still root's file
    assert src == "week3/new.ipynb"
    assert os.lstat(dest / dst).st_ino == os.lstat(other).st_ino
