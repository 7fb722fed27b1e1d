"""Upstream adds a path the student's own HEAD already tracks: git's merge resolves it, the
student's side winning (nbgitpuller's -Xours), and nothing is renamed. Where the two cannot share
the path (a file where the course now has a folder, or a file of another mode), the student's is
renamed exactly once, its removal committed, and the report says so.

Every test checks the whole folder byte for byte, the report's lists exactly, and that the next
sync is a no-op that leaves the folder as it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.gitsync.conftest import repo_git, tree_bytes

FIRST_RELEASE = {
    "README.md": b"# Course\n",
    "week1/notes.ipynb": b"line 1\nline 2\nline 3\nline 4\nline 5\n",
    "week1/data.csv": b"a,b\n1,2\n",
    "week2/lab.ipynb": b"lab\n",
}


def student_commits(student, dest: Path, files: dict[str, str], message: str) -> None:
    for rel, data in files.items():
        student.write(dest / rel, data)
    student.git(dest, "add", "--", *files)
    student.git(dest, "commit", "-q", "-m", message)


def assert_updated(report, updated: list[str], kept: list[str], renamed: str | None) -> str:
    """Check the report's lists exactly; return where ``renamed`` went ("" if nothing was)."""
    assert report.outcome == "updated", report
    assert report.updated == updated
    assert report.kept == kept
    assert report.restored == []
    if renamed is None:
        assert report.renamed == []
        return ""
    ((src, dst),) = report.renamed
    stem, ext = (re.escape(part) for part in os.path.splitext(renamed))
    assert src == renamed and re.fullmatch(rf"{stem}__\d{{14}}{ext}", dst), report.renamed
    return dst


def assert_settled(
    dest: Path, do_sync, files: dict[str, bytes], kept: list[str], untracked: list[str]
) -> None:
    """Nothing is left modified or missing, nothing untracked but the renamed files, and a
    second sync changes nothing at all."""
    status = repo_git(dest, "status", "--porcelain", "--untracked-files=all")
    assert sorted(status.splitlines()) == [f"?? {path}" for path in sorted(untracked)]
    head = repo_git(dest, "rev-parse", "HEAD")

    again = do_sync(dest)

    assert again.outcome == "unchanged", again
    assert again.updated == [] and again.restored == [] and again.renamed == []
    assert again.kept == kept
    assert tree_bytes(dest) == files
    assert repo_git(dest, "rev-parse", "HEAD") == head


def assert_renamed_once(
    dest: Path,
    do_sync,
    report,
    renamed: str,
    updated: list[str],
    course: dict[str, bytes],
    mine: dict[str, bytes],
) -> str:
    """The student's ``renamed`` is at one new name, holding ``mine`` (relative to it; "" is
    the renamed file itself), the course's files ``course`` arrived, nothing else changed, the
    report says exactly that, and the next sync settles; return the new name.

    Renamed aside like an untracked file (the commit of the student's changes records its
    removal), so it is not in "kept", which lists tracked paths."""
    dst = assert_updated(report, updated, kept=[], renamed=renamed)
    moved = {f"{dst}/{rel}" if rel else dst: data for rel, data in mine.items()}
    files = {**FIRST_RELEASE, **course, **moved}
    assert tree_bytes(dest) == files
    assert_settled(dest, do_sync, files, [], untracked=list(moved))
    return dst


def test_a_file_the_student_committed_then_the_course_adds_stays_the_students(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student_commits(student, dest, {"hw.py": "print('my answer')\n"}, "my homework")
    upstream.commit({"hw.py": "# TODO: write your answer here\n", "README.md": "# Course v2\n"})
    assert do_sync(dest, dry_run=True).renamed == []  # the dry run plans what the sync does

    report = do_sync(dest)

    # nbgitpuller's merge -Xours: the student's side of an add/add wins, nothing is renamed.
    assert_updated(report, ["README.md", "hw.py"], kept=["hw.py"], renamed=None)
    files = {**FIRST_RELEASE, "README.md": b"# Course v2\n", "hw.py": b"print('my answer')\n"}
    assert tree_bytes(dest) == files
    assert "my homework" in repo_git(dest, "log", "--format=%s")
    assert_settled(dest, do_sync, files, ["hw.py"], untracked=[])


def test_a_file_the_course_deleted_and_the_student_kept_stays_theirs_when_it_comes_back(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week2" / "lab.ipynb", "my lab work\n")
    upstream.commit({"week2/lab.ipynb": None})
    deleted = do_sync(dest)
    assert deleted.outcome == "updated", deleted
    assert deleted.kept == ["week2/lab.ipynb"]  # modify/delete: the student's copy stayed
    upstream.commit({"week2/lab.ipynb": "lab, second edition\n", "README.md": "# Course v3\n"})

    report = do_sync(dest)

    assert_updated(report, ["README.md", "week2/lab.ipynb"], ["week2/lab.ipynb"], renamed=None)
    files = {**FIRST_RELEASE, "README.md": b"# Course v3\n", "week2/lab.ipynb": b"my lab work\n"}
    assert tree_bytes(dest) == files
    assert_settled(dest, do_sync, files, ["week2/lab.ipynb"], untracked=[])


def test_a_course_file_the_student_committed_that_becomes_a_folder_is_renamed_once(
    home, upstream, do_sync, student
):
    upstream.commit({"project": "starter: describe your project here\n"})
    dest = home / "course"
    do_sync(dest)
    student_commits(student, dest, {"project": "my plan\n"}, "my plan")
    upstream.commit(
        {"project": None, "project/main.py": "print('main')\n", "project/README.md": "# P\n"}
    )
    assert [src for src, _ in do_sync(dest, dry_run=True).renamed] == ["project"]

    report = do_sync(dest)

    course = {"project/main.py": b"print('main')\n", "project/README.md": b"# P\n"}
    updated = ["project", "project/README.md", "project/main.py"]
    assert_renamed_once(dest, do_sync, report, "project", updated, course, {"": b"my plan\n"})


def test_the_students_own_committed_file_where_the_course_adds_a_folder_is_renamed_once(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student_commits(student, dest, {"solutions": "my solutions, one file\n"}, "my solutions")
    upstream.commit({"solutions/s1.py": "print(1)\n"})

    report = do_sync(dest)

    course = {"solutions/s1.py": b"print(1)\n"}
    mine = {"": b"my solutions, one file\n"}
    assert_renamed_once(dest, do_sync, report, "solutions", ["solutions/s1.py"], course, mine)


def test_a_folder_the_student_committed_where_the_course_adds_a_file_is_renamed_once(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student_commits(student, dest, {"notes/a.txt": "my a\n", "notes/b.txt": "my b\n"}, "notes")
    student.write(dest / "notes" / "draft.txt", "not committed\n")
    upstream.commit({"notes": "the course's notes, one file\n"})

    report = do_sync(dest)

    course = {"notes": b"the course's notes, one file\n"}
    mine = {"a.txt": b"my a\n", "b.txt": b"my b\n", "draft.txt": b"not committed\n"}
    assert_renamed_once(dest, do_sync, report, "notes", ["notes"], course, mine)


def test_a_committed_file_of_another_mode_than_the_courses_is_renamed_once(
    home, upstream, do_sync, student
):
    # An executable against a plain file is a conflict -Xours leaves: rename, as for a folder.
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "run.sh", "#!/bin/sh\necho mine\n")
    (dest / "run.sh").chmod(0o755)
    student.git(dest, "add", "run.sh")
    student.git(dest, "commit", "-q", "-m", "my script")
    upstream.commit({"run.sh": "echo course\n"})

    report = do_sync(dest)

    course = {"run.sh": b"echo course\n"}
    mine = {"": b"#!/bin/sh\necho mine\n"}
    dst = assert_renamed_once(dest, do_sync, report, "run.sh", ["run.sh"], course, mine)
    assert (dest / dst).stat().st_mode & 0o111
