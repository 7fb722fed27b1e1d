"""Clone depth: the latest commit by default, N commits or the whole history for courses that
teach git; later syncs keep the student's edits, and a raised depth deepens a folder, never cuts."""

from __future__ import annotations

import pytest

from app.gitsync import ensure_mirror, reset
from tests.gitsync.conftest import commits, repo_git


@pytest.fixture
def five_commits(upstream):
    for number in range(2, 6):
        upstream.commit({"README.md": f"# Course, release {number}\n"}, f"release {number}")
    return upstream


def _shallow(dest) -> bool:
    return repo_git(dest, "rev-parse", "--is-shallow-repository").strip() == "true"


@pytest.mark.parametrize(("depth", "history"), [(3, 3), (None, 5)], ids=["three", "full"])
def test_a_clone_has_the_history_asked_for_and_later_syncs_keep_edits(
    home, five_commits, do_sync, student, depth, history
):
    dest = home / "course"

    report = do_sync(dest, depth=depth)

    assert report.outcome == "cloned", report
    assert commits(dest) == history
    assert _shallow(dest) is (depth is not None)
    # The student can read it with their own git, as a course that teaches git will ask.
    log = student.git(dest, "log", "--format=%s")
    assert log.splitlines()[-1] == ("release 3" if depth else "first release")
    repo_git(dest, "fsck", "--no-progress")

    student.write(dest / "week1" / "data.csv", "my answer\n")
    five_commits.commit({"week2/lab.ipynb": "lab v2\n"}, "release 6")
    report = do_sync(dest, depth=depth)

    assert report.outcome == "updated", report
    assert report.kept == ["week1/data.csv"]
    assert (dest / "week1" / "data.csv").read_text() == "my answer\n"
    assert (dest / "week2" / "lab.ipynb").read_text() == "lab v2\n"
    assert "release 6" in student.git(dest, "log", "--format=%s", "origin/main")
    repo_git(dest, "fsck", "--no-progress")


def test_a_raised_depth_deepens_the_folder_and_a_lowered_one_cuts_nothing(
    home, five_commits, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    assert commits(dest) == 1
    student.write(dest / "week1" / "data.csv", "my answer\n")

    report = do_sync(dest, depth=3)

    assert report.outcome == "unchanged", report  # no new files: only more history
    assert commits(dest) == 3 and _shallow(dest)
    assert (dest / "week1" / "data.csv").read_text() == "my answer\n"

    do_sync(dest, depth=None)
    assert commits(dest) == 5 and not _shallow(dest)

    five_commits.commit({"README.md": "# Course, release 6\n"}, "release 6")
    report = do_sync(dest, depth=1)  # lowered again: the history the folder has stays

    assert report.outcome == "updated", report
    assert not _shallow(dest)
    assert (dest / "week1" / "data.csv").read_text() == "my answer\n"
    assert commits(dest) == 8  # six releases, the student's edit committed, the merge
    repo_git(dest, "fsck", "--no-progress")


def test_a_depth_that_is_no_whole_number_is_refused(home, upstream, do_sync):
    for depth in (0, -1, 2.5, True):
        report = do_sync(home / "course", depth=depth)
        assert (report.outcome, report.error_code) == ("failed", "depth_invalid"), depth
    assert not (home / "course").exists()


def test_a_reset_with_a_depth_that_is_no_whole_number_is_refused_and_moves_nothing(
    home, upstream, do_sync, mirrors, student
):
    dest = home / "course"
    do_sync(dest)
    given = repo_git(dest, "rev-parse", "HEAD").strip()
    student.write(dest / "week1" / "data.csv", "my answer\n")
    mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)
    for depth in (0, 2.5):
        report = reset(
            upstream.url, dest, commit=given, paths=[], branch="main", mirror=mirror,
            allowed_prefixes=["file:///"], timeout=60, depth=depth,
        )  # fmt: skip
        assert (report.outcome, report.error_code) == ("failed", "depth_invalid"), depth
    assert (dest / "week1" / "data.csv").read_text() == "my answer\n"
    assert not [p.name for p in home.iterdir() if p.name.startswith("course_backup_")]


def test_a_reset_of_the_whole_folder_clones_the_history_asked_for(
    home, five_commits, do_sync, mirrors, student
):
    dest = home / "course"
    do_sync(dest, depth=None)
    given = repo_git(dest, "rev-parse", "HEAD").strip()
    # An edit to reset: a folder already as given is left alone.
    student.write(dest / "week1" / "data.csv", "my answer\n")
    five_commits.commit({"README.md": "# Course, release 6\n"}, "release 6")

    report = reset(
        five_commits.url,
        dest,
        commit=given,
        paths=[],
        branch="main",
        mirror=ensure_mirror(five_commits.url, "main", mirrors, timeout=30),
        allowed_prefixes=["file:///"],
        timeout=60,
        depth=None,
    )

    assert report.outcome == "reset", report
    assert repo_git(dest, "rev-parse", "HEAD").strip() == given  # what the student was given
    assert commits(dest) == 5 and not _shallow(dest)
