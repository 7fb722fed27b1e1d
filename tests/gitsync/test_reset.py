"""Reset a student's files (or the whole folder) to the course's version: the student's copy is
moved aside with a timestamp, byte for byte and still theirs; whatever is refused changes
nothing. Real users, real homes, real git; the course moves on after the student was given
the first release, so "the course's version" is always the commit the student was given."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from app.gitsync import SyncReport, ensure_mirror, reset
from tests.gitsync.conftest import Student, Syncer, Upstream, needs_root, repo_git, tree_bytes
from tests.gitsync.test_unsafe import merge_in_progress

pytestmark = needs_root

STAMP = r"\d{14}"


@pytest.fixture
def given(home: Path, upstream: Upstream, do_sync: Syncer) -> tuple[Path, str]:
    """The student's folder after the first release, and that release's commit; the course
    then publishes a newer commit the student has not been given."""
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    first = repo_git(dest, "rev-parse", "HEAD").strip()
    upstream.commit({"week1/notes.ipynb": "newer\n", "week3/new.ipynb": "new\n"}, "week 3")
    return dest, first


def do_reset(upstream: Upstream, mirrors: Path, dest: Path, commit: str, paths: list[str]):
    mirror = ensure_mirror(upstream.url, "main", mirrors, timeout=30)  # now at the newer commit
    return reset(
        upstream.url,
        dest,
        commit=commit,
        paths=paths,
        branch="main",
        mirror=mirror,
        allowed_prefixes=["file:///"],
        timeout=60,
    )


def test_a_reset_file_keeps_the_students_copy_beside_it_byte_for_byte_and_theirs(
    given, upstream: Upstream, mirrors: Path, student: Student
):
    dest, first = given
    notebook = dest / "week1" / "notes.ipynb"
    mine = b"line 1\nmy answer \xe2\x9c\x93\n"
    student.write(notebook, mine)
    (dest / "week1" / "data.csv").unlink()  # deleted by the student: simply restored

    report = do_reset(upstream, mirrors, dest, first, ["week1/notes.ipynb", "week1/data.csv"])

    assert report.outcome == "reset", report
    assert report.restored == ["week1/data.csv", "week1/notes.ipynb"]
    ((source, aside),) = report.renamed
    assert source == "week1/notes.ipynb"
    assert re.fullmatch(rf"week1/notes__{STAMP}\.ipynb", aside)
    # The course's version the student was given, not the newer one.
    assert notebook.read_text() == "line 1\nline 2\nline 3\nline 4\nline 5\n"
    assert (dest / "week1" / "data.csv").read_text() == "a,b\n1,2\n"
    assert (dest / aside).read_bytes() == mine
    for path in (dest / aside, notebook, dest / "week1" / "data.csv"):
        assert os.lstat(path).st_uid == student.uid
    assert repo_git(dest, "rev-parse", "HEAD").strip() == first  # nothing committed


def test_a_whole_folder_reset_keeps_the_old_folder_even_one_stuck_in_a_merge(
    given, upstream: Upstream, mirrors: Path, student: Student, home: Path
):
    dest, first = given
    student.write(dest / "week1" / "mine.py", "print('mine')\n")
    merge_in_progress(dest, student)
    kept = tree_bytes(dest)

    report = do_reset(upstream, mirrors, dest, first, [])

    assert report.outcome == "reset", report
    ((source, aside),) = report.renamed
    assert source == "course" and re.fullmatch(rf"course_backup_{STAMP}", aside)
    assert tree_bytes(home / aside) == kept
    assert (home / aside / ".git" / "MERGE_HEAD").exists()
    # A fresh clone at the commit the student was given (fetched by its id: the branch moved).
    assert repo_git(dest, "rev-parse", "HEAD").strip() == first == report.after
    assert not (dest / "week3").exists()
    assert "week1/notes.ipynb" in report.restored
    assert {os.lstat(p).st_uid for p in (dest, dest / ".git", dest / "README.md")} == {student.uid}


@pytest.mark.parametrize(
    ("paths", "code"),
    [
        (["../course_other"], "path_invalid"),
        (["/etc/passwd"], "path_invalid"),
        (["week1/../../x"], "path_invalid"),
        ([".git/config"], "path_invalid"),
        (["week1/.GIT"], "path_invalid"),
        (["week1//notes.ipynb"], "path_invalid"),
        (["README.md", "week9/nope.ipynb"], "path_not_in_course"),
        (["week3/new.ipynb"], "path_not_in_course"),  # newer than what the student was given
    ],
)
def test_a_hostile_or_unknown_path_is_refused_and_changes_nothing(
    given, upstream: Upstream, mirrors: Path, student: Student, paths, code
):
    dest, first = given
    student.write(dest / "README.md", "mine\n")
    before = tree_bytes(dest)
    report = do_reset(upstream, mirrors, dest, first, paths)
    assert (report.outcome, report.error_code) == ("failed", code), report
    assert tree_bytes(dest) == before


def test_a_link_planted_by_the_student_is_never_followed_out_of_the_folder(
    given, upstream: Upstream, mirrors: Path, student: Student, other_student: Student, home
):
    dest, first = given
    victim = home.parent / "victim"
    victim.mkdir()
    other_student.write(victim / "notes.ipynb", "the other student's work\n")
    os.chown(victim, other_student.uid, other_student.gid)
    os.chmod(victim, 0o777)  # noqa: S103 -- the point: a folder the student could write into
    for target in (victim, Path("/etc")):
        link = dest / "week1"
        if link.is_symlink():
            link.unlink()
        else:
            os.rename(link, dest / "week1-old")
        link.symlink_to(target)
        before = tree_bytes(dest)
        report = do_reset(upstream, mirrors, dest, first, ["week1/notes.ipynb"])
        assert (report.outcome, report.error_code) == ("failed", "path_through_link"), report
        assert "symbolic link" in (report.error_message or "")
        assert tree_bytes(dest) == before
    assert (victim / "notes.ipynb").read_text() == "the other student's work\n"
    assert sorted(p.name for p in victim.iterdir()) == ["notes.ipynb"]
    # The whole folder turned into a link: refused too, the link stays as it is.
    os.rename(dest, home / "moved")
    dest.symlink_to(victim)
    report = do_reset(upstream, mirrors, dest, first, [])
    assert report.error_code == "target_not_directory", report
    assert dest.is_symlink() and sorted(p.name for p in victim.iterdir()) == ["notes.ipynb"]


def _mine_as_a_stranger(dest: Path, student: Student) -> None:
    student.git(dest, "remote", "set-url", "origin", "https://example.org/my-own.git")


def _merging(dest: Path, student: Student) -> None:
    merge_in_progress(dest, student)


@pytest.mark.parametrize(
    ("make", "paths", "outcome", "words"),
    [
        (_mine_as_a_stranger, ["README.md"], "failed", "not the assignment's"),
        (_mine_as_a_stranger, [], "failed", "not the assignment's"),
        (_merging, ["README.md"], "needs_attention", "A merge is in progress"),
    ],
)
def test_a_folder_not_hubclasss_or_in_a_merge_is_refused_with_a_clear_message(
    given, upstream: Upstream, mirrors: Path, student: Student, make, paths, outcome, words
):
    dest, first = given
    make(dest, student)
    before = tree_bytes(dest)
    report: SyncReport = do_reset(upstream, mirrors, dest, first, paths)
    assert report.outcome == outcome, report
    assert words in (report.error_message or ""), report.error_message
    assert tree_bytes(dest) == before
    assert (dest / ".git").is_dir()


def test_a_folder_reset_moves_it_aside_whole_and_a_deleted_workspace_is_cloned_again(
    given, upstream: Upstream, mirrors: Path, student: Student, home: Path
):
    dest, first = given
    student.write(dest / "week1" / "mine.py", "print('mine')\n")
    student.write(dest / "week1" / "notes.ipynb", "my notes\n")
    untouched = (dest / "week1" / "data.csv").read_bytes()

    report = do_reset(upstream, mirrors, dest, first, ["week1"])
    ((source, aside),) = report.renamed
    assert source == "week1" and re.fullmatch(rf"week1__{STAMP}", aside), report
    assert tree_bytes(dest / aside) == {
        "mine.py": b"print('mine')\n", "notes.ipynb": b"my notes\n", "data.csv": untouched
    }  # fmt: skip
    assert sorted(p.name for p in (dest / "week1").iterdir()) == ["data.csv", "notes.ipynb"]
    assert (dest / "week1" / "notes.ipynb").read_text().startswith("line 1\n")

    # The student deleted the whole folder: a reset simply brings it back.
    shutil.rmtree(dest)
    report = do_reset(upstream, mirrors, dest, first, [])
    assert (report.outcome, report.renamed, report.before) == ("reset", [], None), report
    assert repo_git(dest, "rev-parse", "HEAD").strip() == first
