"""Attacks on the notebook merge and the report of what did not arrive: the student's work (a
cell's type, outputs they produced, settings) is never replaced without a word, and no input of
either side makes the sync fail or run past its time. Real git, real notebooks, a real student."""

from __future__ import annotations

import copy
import json
import os
import random
import time

import nbformat

from .test_notebook_report import LAB, lab, missed_of, ran, read, start, text


def test_a_cell_the_course_removed_and_the_student_ran_keeps_their_outputs(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[3].metadata["tags"] = ["my-answer"]
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    removed = course.cells.pop(3)
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    kept = [cell for cell in result.cells if cell.id == removed.id]
    assert kept, "the cell the student ran (outputs, a tag of theirs) was deleted without a word"
    assert kept[0].outputs == mine.cells[3].outputs
    assert kept[0].metadata["tags"] == ["my-answer"]
    assert [c["what"] for c in missed_of(report)["changes"]] == ["cell_kept"]
    assert student.git(dest, "status", "--porcelain") == ""


def test_a_cell_the_student_answered_stays_code_when_the_course_makes_it_markdown(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[4].source = "answer = solve()\nprint(answer)"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[4] = nbformat.from_dict(
        {"cell_type": "markdown", "id": base.cells[4].id, "metadata": {}, "source": "x4 = 4"}
    )
    course.cells[6].source = "x6 = 66\nprint('value', x6)"  # a fix elsewhere that must arrive
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    cell = result.cells[4]
    assert cell.cell_type == "code", "the student's code became a markdown cell"
    assert cell.source == "answer = solve()\nprint(answer)"
    assert cell.outputs == mine.cells[4].outputs
    assert result.cells[6].source == "x6 = 66\nprint('value', x6)"
    changes = missed_of(report)["changes"]
    assert [(c["what"], c["cell"]) for c in changes] == [("cell_type", 5)]


def test_a_students_type_change_of_a_cell_they_did_not_otherwise_touch_arrives_from_the_course(
    home, upstream, do_sync, student
):
    """The other side of the rule above: a cell the student left alone takes the course's type."""
    dest, base = start(upstream, do_sync, home)
    mine = copy.deepcopy(base)  # not run: the cell is as the course gave it
    mine.cells[2].source = "x2 = 'mine'"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[4] = nbformat.from_dict(
        {"cell_type": "markdown", "id": base.cells[4].id, "metadata": {}, "source": "Read this."}
    )
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert result.cells[4].cell_type == "markdown"
    assert result.cells[4].source == "Read this."
    assert missed_of(report) is None or missed_of(report)["changes"] == []


def test_a_data_file_of_repeated_lines_both_changed_is_examined_in_time(
    home, upstream, do_sync, student
):
    """A column of 0/1 values: difflib without its junk heuristic is cubic on such lines."""
    chooser = random.Random(7)
    rows = [f"{chooser.choice('01')}\n" for _ in range(6000)]
    upstream.commit({"labels.csv": "".join(rows)})
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    mine = list(rows)
    mine[101] = "mine\n"
    student.write(dest / "labels.csv", "".join(mine))
    course = list(rows)
    course[100] = "course\n"
    upstream.commit({"labels.csv": "".join(course)})

    began = time.monotonic()
    report = do_sync(dest)
    took = time.monotonic() - began

    assert report.outcome == "updated", report
    assert took < 5, f"the report's analysis of one data file took {took:.0f} s"
    assert (dest / "labels.csv").read_text().splitlines()[101] == "mine"
    assert missed_of(report, "labels.csv")["changes"]


def test_a_course_copy_the_student_cannot_read_does_not_fail_the_sync(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[1].source = "x1 = 'mine'"
    student.write(dest / LAB, text(mine))
    student.write(dest / "lab.course.ipynb", "my notes")
    os.chmod(dest / "lab.course.ipynb", 0)
    course = copy.deepcopy(base)
    course.cells[1].source = "x1 = 'course'"
    course.cells.append(nbformat.v4.new_code_cell("extra = 1"))
    upstream.commit({LAB: text(course)})

    report = do_sync(dest, course_copies=True)

    assert report.outcome == "updated", report
    copy_name = missed_of(report)["course_copy"]
    assert copy_name and copy_name != "lab.course.ipynb"
    assert json.loads((dest / copy_name).read_text()) == json.loads(text(course))
    assert student.git(dest, "status", "--porcelain", "--untracked-files=no") == ""


def without_ids(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The same notebook as nbformat 4.4 wrote it (no cell ids): many courses' older notebooks."""
    book = copy.deepcopy(book)
    book.nbformat_minor = 4
    for cell in book.cells:
        del cell["id"]
    return book


def cell_without_id(source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    del cell["id"]
    return cell


def test_in_notebooks_without_ids_a_course_cell_lost_to_the_students_new_cell_is_named(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home, without_ids(lab()))
    mine = copy.deepcopy(base)
    mine.cells[2].source = "x2 = 'mine'"
    mine.cells.append(cell_without_id("scratch = 'mine'"))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells.append(cell_without_id("part2 = True"))
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = ["".join(cell["source"]) for cell in json.loads((dest / LAB).read_text())["cells"]]
    assert "scratch = 'mine'" in result, result
    if "part2 = True" not in result:
        # git's -Xours kept only the student's new cell, and cells without ids cannot be mended:
        # the report must say so, not pair the course's cell with the student's.
        assert {"what": "cell_added", "cell": 10, "id": "", "after": "part2 = True"} in (
            missed_of(report) or {"changes": []}
        )["changes"]


def test_metadata_nested_near_pythons_recursion_limit_never_fails_the_sync(
    home, upstream, do_sync, student
):
    """Nesting a notebook's reading allows but its merge (deeper in the stack) may not."""
    upstream.commit({LAB: text(lab())})
    for depth in range(476, 500, 2):
        dest = home / f"course{depth}"
        assert do_sync(dest).outcome == "cloned"
        mine = json.loads((dest / LAB).read_text())
        mine["cells"].append(json.loads(json.dumps(nbformat.v4.new_code_cell("mine"))))
        deep: dict = {}
        for _ in range(depth):
            deep = {"a": deep}
        mine["cells"][2]["metadata"]["deep"] = deep
        student.write(dest / LAB, json.dumps(mine))
        course = read_course(upstream)
        course.cells.append(nbformat.v4.new_code_cell(f"course {depth}"))
        upstream.commit({LAB: text(course)})

        report = do_sync(dest)

        assert report.outcome == "updated", (depth, report)
        assert "mine" in (dest / LAB).read_text()


def read_course(upstream) -> nbformat.NotebookNode:
    return nbformat.reads((upstream.work / LAB).read_text(), as_version=4)
