"""The report names each file where some of the course's change did not arrive because the
student's side won (``not_applied``), and only those; a dry run says the same beforehand."""

from __future__ import annotations

import nbformat

from app.gitsync import SyncReport
from tests.gitsync.test_engine import NOTES


def test_a_clash_on_the_same_lines_is_named_and_a_change_to_other_lines_is_not(
    home, upstream, do_sync, student
):
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "week1" / "notes.ipynb", NOTES.replace("line 2", "MY line 2"))
    student.write(dest / "week1" / "data.csv", "a,b\n1,2\nmy row\n")
    upstream.commit(
        {
            "week1/notes.ipynb": NOTES.replace("line 2", "THEIR line 2").replace("5", "5!"),
            "week1/data.csv": "a,b (units: m)\n1,2\n",
        }
    )

    planned = do_sync(dest, dry_run=True)
    report = do_sync(dest)

    assert report.outcome == "updated", report
    assert report.kept == ["week1/data.csv", "week1/notes.ipynb"]
    # The clashing line is the student's, so line 2 of the course's change did not arrive.
    assert (dest / "week1" / "notes.ipynb").read_text() == NOTES.replace(
        "line 2", "MY line 2"
    ).replace("5", "5!")
    # The course's change to other lines of data.csv arrived whole: not named.
    assert (dest / "week1" / "data.csv").read_text() == "a,b (units: m)\n1,2\nmy row\n"
    assert report.not_applied == ["week1/notes.ipynb"]
    assert planned.not_applied == ["week1/notes.ipynb"]
    assert report.to_json()["not_applied"] == ["week1/notes.ipynb"]
    # The existing keys keep their order; the newer ones follow.
    assert list(report.to_json())[-2:] == ["not_applied", "missed"]
    assert [entry["path"] for entry in report.missed] == report.not_applied
    assert SyncReport.from_json(report.to_json()) == report

    assert do_sync(dest).not_applied == []  # said once: the next sync brings nothing new


def _notebook(cells: list[str]) -> str:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return nbformat.writes(book)


def test_a_notebook_cell_both_edited_is_named(home, upstream, do_sync, student):
    upstream.commit({"lab.ipynb": _notebook(["x = 1", "y = 2", "print(x + y)"])})
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "lab.ipynb", _notebook(["x = 1", "y = 40  # my answer", "print(x + y)"]))
    upstream.commit({"lab.ipynb": _notebook(["x = 1", "y = 2  # hint: try 3", "print(x + y)"])})

    report = do_sync(dest)

    assert report.not_applied == ["lab.ipynb"]
    mine = nbformat.reads((dest / "lab.ipynb").read_text(), as_version=4)
    assert mine.cells[1].source == "y = 40  # my answer"


def test_deletions_and_binary_files_count_the_side_that_won(home, upstream, do_sync, student):
    upstream.commit({"plot.png": b"\x89PNG\0course v1", "old.py": "print(1)\n"})
    dest = home / "course"
    do_sync(dest)
    student.write(dest / "plot.png", b"\x89PNG\0my plot")
    student.write(dest / "old.py", "print('mine')\n")
    student.git(dest, "rm", "--quiet", "week1/data.csv")
    student.git(dest, "commit", "--quiet", "-m", "I do not need the data")
    upstream.commit(
        {"plot.png": b"\x89PNG\0course v2", "old.py": None, "week1/data.csv": "a,b\n5,6\n"}
    )

    planned = do_sync(dest, dry_run=True)
    report = do_sync(dest)

    # The course's new plot and its deletion of old.py did not arrive: the student's files won.
    assert (dest / "plot.png").read_bytes() == b"\x89PNG\0my plot"
    assert (dest / "old.py").read_text() == "print('mine')\n"
    # The student's deletion lost: the course's changed data.csv came back, so it arrived.
    assert (dest / "week1" / "data.csv").read_text() == "a,b\n5,6\n"
    assert report.not_applied == ["old.py", "plot.png"]
    assert planned.not_applied == ["old.py", "plot.png"]
