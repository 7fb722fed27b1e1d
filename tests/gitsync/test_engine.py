"""nbgitpuller's outcomes, one per test, on real repositories; the student's bytes are checked
after every sync."""

from __future__ import annotations

import os
import re
from pathlib import Path

from app.gitsync import ensure_mirror
from tests.gitsync.conftest import commits, git, repo_git, tree_bytes

NOTES = "line 1\nline 2\nline 3\nline 4\nline 5\n"


def test_missing_folder_is_cloned_shallow_from_the_default_branch(home, upstream, do_sync):
    upstream.checkout("fall", create=True)
    upstream.commit({"fall.txt": "fall only\n"})
    git("--git-dir", upstream.bare, "symbolic-ref", "HEAD", "refs/heads/main")
    dest = home / "course"

    report = do_sync(dest)

    assert report.outcome == "cloned", report
    assert report.before is None
    assert report.after == repo_git(dest, "rev-parse", "HEAD").strip()
    assert sorted(report.updated) == [
        "README.md",
        "week1/data.csv",
        "week1/notes.ipynb",
        "week2/lab.ipynb",
    ]
    assert not (dest / "fall.txt").exists()  # the remote's default branch, not the newest
    assert (dest / ".git" / "shallow").exists()
    assert commits(dest) == 1
    repo_git(dest, "fsck", "--no-progress", "--strict")  # the copied depth-1 pack is complete
    assert (dest / "week1" / "notes.ipynb").read_text() == NOTES
    # No temp folder left beside it, and the lock file is the only other entry.
    assert sorted(p.name for p in home.iterdir()) == [".course.hubclass.lock", "course"]


def test_upstream_changes_arrive_when_the_student_did_not_touch_them(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest)
    upstream.commit({"week1/data.csv": "a,b\n3,4\n", "week3/new.ipynb": "new\n", "README.md": None})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert sorted(report.updated) == ["README.md", "week1/data.csv", "week3/new.ipynb"]
    assert report.kept == [] and report.restored == [] and report.renamed == []
    assert (dest / "week1" / "data.csv").read_text() == "a,b\n3,4\n"
    assert (dest / "week3" / "new.ipynb").read_text() == "new\n"
    assert not (dest / "README.md").exists()
    assert report.after == upstream_head(upstream)  # a fast-forward: no merge commit needed
    repo_git(dest, "fsck", "--no-progress")  # the copied step pack left nothing missing


def upstream_head(upstream) -> str:
    return git("--git-dir", upstream.bare, "rev-parse", upstream.branch).strip()


def test_a_file_the_student_edited_is_kept(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "data.csv", "my answer\n")
    upstream.commit({"week2/lab.ipynb": "lab v2\n"})

    report = do_sync(dest)

    assert report.outcome == "updated"
    assert report.kept == ["week1/data.csv"]
    assert (dest / "week1" / "data.csv").read_text() == "my answer\n"
    assert (dest / "week2" / "lab.ipynb").read_text() == "lab v2\n"


def test_both_changed_one_file_the_student_wins_clashes_and_upstream_other_lines_arrive(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "notes.ipynb", NOTES.replace("line 2", "MY line 2"))
    upstream.commit(
        {"week1/notes.ipynb": NOTES.replace("line 2", "THEIR line 2").replace("line 5", "line 5!")}
    )

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert (dest / "week1" / "notes.ipynb").read_text() == (
        "line 1\nMY line 2\nline 3\nline 4\nline 5!\n"
    )
    assert report.kept == ["week1/notes.ipynb"]
    assert "week1/notes.ipynb" in report.updated
    assert not (dest / ".git" / "MERGE_HEAD").exists()


def test_upstream_deleted_a_file_the_student_modified_the_student_copy_stays(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week2" / "lab.ipynb", "my lab work\n")
    upstream.commit({"week2/lab.ipynb": None, "README.md": "# Course v2\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert (dest / "week2" / "lab.ipynb").read_text() == "my lab work\n"
    assert (dest / "README.md").read_text() == "# Course v2\n"
    assert "week2/lab.ipynb" in report.kept
    assert repo_git(dest, "status", "--porcelain") == ""


def test_a_file_the_student_deleted_is_restored(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest)
    (dest / "week1" / "data.csv").unlink()

    report = do_sync(dest)  # nothing new upstream: delete + sync still resets the file

    assert report.outcome == "updated"
    assert report.restored == ["week1/data.csv"]
    assert (dest / "week1" / "data.csv").read_text() == "a,b\n1,2\n"

    (dest / "week1" / "data.csv").unlink()
    upstream.commit({"week1/data.csv": "a,b\n9,9\n"})
    report = do_sync(dest)
    assert report.restored == ["week1/data.csv"]
    assert (dest / "week1" / "data.csv").read_text() == "a,b\n9,9\n"


def test_a_file_deleted_on_both_sides_stays_deleted(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest)
    (dest / "week2" / "lab.ipynb").unlink()
    upstream.commit({"week2/lab.ipynb": None, "README.md": "v2\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert not (dest / "week2" / "lab.ipynb").exists()
    assert report.restored == []
    assert (dest / "README.md").read_text() == "v2\n"


def test_an_untracked_file_in_the_way_is_renamed_with_a_timestamp(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week3" / "new.ipynb", "the student's own file\n")
    student.write(dest / "solutions", "a file where upstream adds a folder\n")
    upstream.commit({"week3/new.ipynb": "upstream's file\n", "solutions/s1.py": "print(1)\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert (dest / "week3" / "new.ipynb").read_text() == "upstream's file\n"
    assert (dest / "solutions" / "s1.py").read_text() == "print(1)\n"
    renamed = dict(report.renamed)
    assert set(renamed) == {"week3/new.ipynb", "solutions"}
    assert re.fullmatch(r"week3/new__\d{14}\.ipynb", renamed["week3/new.ipynb"])
    assert re.fullmatch(r"solutions__\d{14}", renamed["solutions"])
    assert (dest / renamed["week3/new.ipynb"]).read_text() == "the student's own file\n"
    assert (dest / renamed["solutions"]).read_text() == "a file where upstream adds a folder\n"


def test_an_ignored_file_in_the_way_is_renamed_not_overwritten(home, upstream, do_sync, student):
    # git merge overwrites ignored files by default: that would lose the student's bytes.
    upstream.commit({".gitignore": "*.log\n"})
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "run.log", "precious\n")
    upstream.commit({"run.log": "upstream log\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    ((src, dst),) = report.renamed
    assert src == "run.log"
    assert (dest / dst).read_text() == "precious\n"
    assert (dest / "run.log").read_text() == "upstream log\n"


def test_the_students_own_commits_are_merged_nothing_lost(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "mine.py", "print('mine')\n")
    student.write(dest / "week1" / "data.csv", "edited and committed\n")
    student.git(dest, "add", "mine.py", "week1/data.csv")
    student.git(dest, "commit", "-q", "-m", "my work")
    upstream.commit({"week2/lab.ipynb": "lab v2\n", "week1/data.csv": "a,b\n5,6\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert (dest / "mine.py").read_text() == "print('mine')\n"
    assert (dest / "week1" / "data.csv").read_text() == "edited and committed\n"
    assert (dest / "week2" / "lab.ipynb").read_text() == "lab v2\n"
    assert "my work" in repo_git(dest, "log", "--format=%s")
    assert sorted(report.kept) == ["mine.py", "week1/data.csv"]


def test_staged_but_uncommitted_changes_are_kept(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "data.csv", "staged edit\n")
    student.write(dest / "new_staged.py", "x = 1\n")
    student.git(dest, "add", "week1/data.csv", "new_staged.py")
    upstream.commit({"README.md": "# v2\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert (dest / "week1" / "data.csv").read_text() == "staged edit\n"
    assert (dest / "new_staged.py").read_text() == "x = 1\n"
    assert (dest / "README.md").read_text() == "# v2\n"


def test_nothing_new_upstream_is_unchanged_and_makes_no_commit(home, upstream, do_sync, student):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "data.csv", "work in progress\n")
    before = commits(dest)

    report = do_sync(dest)

    assert report.outcome == "unchanged", report
    assert report.before == report.after
    assert commits(dest) == before
    assert report.kept == ["week1/data.csv"]
    assert (dest / "week1" / "data.csv").read_text() == "work in progress\n"
    assert repo_git(dest, "status", "--porcelain") == " M week1/data.csv\n"


def test_the_students_commit_uses_a_fixed_identity_and_origin_stays_upstream(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "data.csv", "mine\n")
    upstream.commit({"README.md": "v2\n"})

    do_sync(dest)

    authors = repo_git(dest, "log", "--format=%an <%ae>|%cn", "-2").splitlines()
    assert "Hubclass <hubclass@localhost>|Hubclass" in authors
    # The fetch came from the mirror, but the student's origin is the course URL.
    assert repo_git(dest, "remote", "get-url", "origin").strip() == upstream.url
    assert repo_git(dest, "rev-parse", "--abbrev-ref", "@{upstream}").strip() == "origin/main"


def test_a_student_who_missed_distributions_still_gets_every_change(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest)
    for week in (3, 4):  # two distributions this student's sync did not run for
        upstream.commit({f"week{week}/lab.ipynb": f"week {week}\n"})
        ensure_mirror(upstream.url, "main", do_sync.mirrors, timeout=30)
    upstream.commit({"week5/lab.ipynb": "week 5\n"})

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert report.updated == ["week3/lab.ipynb", "week4/lab.ipynb", "week5/lab.ipynb"]
    repo_git(dest, "fsck", "--no-progress")
    assert report.after == upstream_head(upstream)


def test_dry_run_reports_and_changes_nothing(home, upstream, do_sync, student):
    dest = home / "course"
    assert do_sync(dest, dry_run=True).outcome == "cloned"
    assert not dest.exists()
    do_sync(dest)
    student.write(dest / "week1" / "data.csv", "mine\n")
    student.write(dest / "week3" / "new.ipynb", "in the way\n")
    (dest / "README.md").unlink()
    upstream.commit({"week3/new.ipynb": "upstream\n", "week2/lab.ipynb": "v2\n"})
    files_before = tree_bytes(dest)
    head_before = repo_git(dest, "rev-parse", "HEAD", "origin/main")

    report = do_sync(dest, dry_run=True)

    assert report.outcome == "updated", report
    assert sorted(report.updated) == ["week2/lab.ipynb", "week3/new.ipynb"]
    assert report.restored == ["README.md"]
    assert report.kept == ["week1/data.csv"]
    assert [src for src, _ in report.renamed] == ["week3/new.ipynb"]
    assert tree_bytes(dest) == files_before
    assert repo_git(dest, "rev-parse", "HEAD", "origin/main") == head_before
    assert "refs/hubclass" not in repo_git(dest, "for-each-ref")


def test_no_mirror_fetches_straight_from_the_url(home, upstream, do_sync, student):
    # Without a mirror the student's own git reads the upstream, so it must be readable by them
    # (git refuses a repository owned by someone else).
    for dirpath, dirnames, filenames in os.walk(upstream.bare):
        for name in [*dirnames, *filenames]:
            os.chown(Path(dirpath) / name, student.uid, student.gid)
    os.chown(upstream.bare, student.uid, student.gid)
    dest = home / "course"

    report = do_sync(dest, mirror=False)

    assert report.outcome == "cloned", report
    assert (dest / "week1" / "data.csv").read_text() == "a,b\n1,2\n"
