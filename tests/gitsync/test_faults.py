"""Faults in the student's home (SECURITY.md fault 5): a full disk, a read-only home. The failure
stays with that student, the repository stays sound, the student's bytes stay as they were."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitsync.conftest import needs_root, repo_git, tmpfs, tree_bytes

pytestmark = [pytest.mark.root, needs_root]


@pytest.fixture
def small_home(scratch: Path, student) -> Iterator[Path]:
    """A home on a 1 MB tmpfs: the disk fills up during the sync."""
    with tmpfs(scratch / "small", "1m", student) as home:
        yield home


def test_a_full_disk_fails_the_clone_and_leaves_nothing_half_done(small_home, upstream, do_sync):
    upstream.commit({"data/big.bin": os.urandom(2_000_000)})

    report = do_sync(small_home / "course")

    assert report.outcome == "failed"
    assert report.error_code in ("filesystem_error", "git_failed")
    assert sorted(p.name for p in small_home.iterdir()) == [".course.hubclass.lock"]


def test_a_full_disk_during_an_update_keeps_the_repository_sound(
    small_home, upstream, do_sync, student
):
    dest = small_home / "course"
    assert do_sync(dest).outcome == "cloned"
    student.write(dest / "week1" / "data.csv", "the student's answer\n")
    files = tree_bytes(dest)
    head = repo_git(dest, "rev-parse", "HEAD")
    upstream.commit({"data/big.bin": os.urandom(2_000_000)})

    report = do_sync(dest)

    assert report.outcome == "failed", report
    assert tree_bytes(dest) == files
    assert repo_git(dest, "rev-parse", "HEAD") == head
    repo_git(dest, "fsck", "--no-progress")
    assert not list((dest / ".git" / "objects" / "pack").glob("tmp_*"))


def test_a_read_only_home_is_a_clear_failure(home, upstream, do_sync):
    home.chmod(0o555)

    report = do_sync(home / "course")

    assert report.outcome == "failed"
    assert report.error_code == "lock_failed"
    assert list(home.iterdir()) == []
