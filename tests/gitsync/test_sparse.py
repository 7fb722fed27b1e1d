"""Sub-folder release: only released paths appear; a later release adds without touching."""

from __future__ import annotations

import pytest

from tests.gitsync.conftest import tree_bytes


def test_only_the_released_folder_appears(home, upstream, do_sync):
    dest = home / "course"

    report = do_sync(dest, path="week1")

    assert report.outcome == "cloned", report
    assert report.updated == ["week1/data.csv", "week1/notes.ipynb"]
    assert sorted(tree_bytes(dest)) == ["week1/data.csv", "week1/notes.ipynb"]


def test_releasing_another_folder_later_adds_it_without_touching_the_first(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest, path="week1")
    student.write(dest / "week1" / "notes.ipynb", "my notes\n")
    student.write(dest / "week1" / "extra.txt", "untracked\n")
    student.write(dest / "week2" / "lab.ipynb", "a file the student made before release\n")
    upstream.commit({"README.md": "# v2\n", "week2/lab.ipynb": "lab v2\n"})
    week1 = {k: v for k, v in tree_bytes(dest).items() if k.startswith("week1/")}

    report = do_sync(dest, path="week2")

    assert report.outcome == "updated", report
    assert "week2/lab.ipynb" in report.updated
    assert {k: v for k, v in tree_bytes(dest).items() if k.startswith("week1/")} == week1
    assert (dest / "week2" / "lab.ipynb").read_text() == "lab v2\n"
    ((src, dst),) = report.renamed
    assert src == "week2/lab.ipynb"
    assert (dest / dst).read_text() == "a file the student made before release\n"
    assert not (dest / "README.md").exists()  # never released


def test_upstream_changes_arrive_only_in_released_folders(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest, path="week1")
    upstream.commit({"week1/data.csv": "new data\n", "week2/lab.ipynb": "lab v2\n"})

    report = do_sync(dest, path="week1")

    assert report.outcome == "updated", report
    assert report.updated == ["week1/data.csv"]
    assert (dest / "week1" / "data.csv").read_text() == "new data\n"
    assert not (dest / "week2").exists()


def test_no_path_on_a_sparse_workspace_releases_everything(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest, path="week1")

    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert sorted(tree_bytes(dest)) == [
        "README.md",
        "week1/data.csv",
        "week1/notes.ipynb",
        "week2/lab.ipynb",
    ]


def test_a_path_on_a_full_checkout_hides_nothing(home, upstream, do_sync):
    dest = home / "course"
    do_sync(dest)

    report = do_sync(dest, path="week1")

    assert report.outcome == "unchanged"
    assert (dest / "README.md").exists() and (dest / "week2" / "lab.ipynb").exists()


def test_a_path_missing_upstream_fails_and_leaves_nothing(home, upstream, do_sync):
    report = do_sync(home / "course", path="week9")

    assert report.outcome == "failed"
    assert report.error_code == "path_not_found"
    assert sorted(p.name for p in home.iterdir()) == [".course.hubclass.lock"]


@pytest.mark.parametrize(
    "path", ["../etc", "/etc", ".git", "week1/../..", "a//b", "", "*", "week[1]", "a\0b", "~"]
)
def test_unsafe_paths_are_refused(path, home, upstream, do_sync):
    report = do_sync(home / "course", path=path)

    assert report.outcome == "failed"
    assert report.error_code == "path_invalid"
    assert list(home.iterdir()) == []
