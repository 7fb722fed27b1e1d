"""Notebooks both sides changed: the course's changes arrive cell by cell wherever the student did
not touch the same thing, the report names each one that did not (cell, and the change), and a
notebook is never left broken. Real git, real notebooks written with nbformat, a real student."""

from __future__ import annotations

import copy
import json
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

LAB = "lab.ipynb"


def lab() -> nbformat.NotebookNode:
    """A course notebook as an instructor writes it: a title, eight code cells, no outputs."""
    book = new_notebook()
    book.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.2"},
    }
    book.cells = [new_markdown_cell("# Lab 7")] + [
        new_code_cell(f"x{i} = {i}\nprint('value', x{i})") for i in range(1, 9)
    ]
    return book


def ran(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student ran every cell in JupyterLab: counts, outputs, timings, the kernel's version."""
    book = copy.deepcopy(book)
    for count, cell in enumerate(c for c in book.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [new_output("stream", name="stdout", text=f"value {count}\n")]
        cell.metadata["execution"] = {"iopub.execute_input": "2026-12-01T10:00:00.000Z"}
    book.metadata["language_info"]["version"] = "3.11.9"
    return book


def text(book: nbformat.NotebookNode) -> str:
    return nbformat.writes(book) + "\n"


def read(path) -> nbformat.NotebookNode:
    book = nbformat.reads(path.read_text(), as_version=nbformat.NO_CONVERT)
    nbformat.validate(book)
    return book


def sources(book) -> list[str]:
    return [cell.source for cell in book.cells]


def start(upstream, do_sync, home, book=None):
    """The course publishes the lab and the student receives it."""
    book = book or lab()
    upstream.commit({LAB: text(book)})
    dest = home / "course"
    assert do_sync(dest).outcome == "cloned"
    return dest, book


def missed_of(report, path=LAB) -> dict | None:
    found = [entry for entry in report.missed if entry["path"] == path]
    return found[0] if found else None


def test_a_fix_to_a_cell_the_student_did_not_touch_arrives_and_nothing_is_missing(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[2].source = "x2 = 'my answer'\nprint('value', x2)"
    mine.cells.append(new_code_cell("scratch = 1"))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[4].source = "x4 = 40\nprint('value', x4)"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert report.outcome == "updated", report
    assert result.cells[4].source == "x4 = 40\nprint('value', x4)"
    assert result.cells[2].source == "x2 = 'my answer'\nprint('value', x2)"
    assert result.cells[-1].source == "scratch = 1"
    assert [c.outputs for c in result.cells[1:9]] == [c.outputs for c in mine.cells[1:9]]
    assert report.not_applied == []
    assert missed_of(report) is None
    assert student.git(dest, "status", "--porcelain") == ""


def test_a_cell_both_edited_stays_the_students_and_the_report_names_cell_and_change(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[4].source = "x4 = 'mine'\nprint('value', x4)"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[4].source = "x4 = 4  # helo\nprint('value', x4)"
    course.cells[6].source = "x6 = 60\nprint('value', x6)"  # a cell the student did not touch
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert result.cells[4].source == "x4 = 'mine'\nprint('value', x4)"
    assert result.cells[6].source == "x6 = 60\nprint('value', x6)"
    assert report.not_applied == [LAB]
    assert missed_of(report)["changes"] == [
        {
            "what": "cell_edited",
            "cell": 5,
            "id": course.cells[4].id,
            "before": "x4 = 4",
            "after": "x4 = 4  # helo",
        }
    ]
    assert missed_of(report)["course_copy"] is None  # the switch is off by default
    assert not (dest / "lab.course.ipynb").exists()
    assert do_sync(dest).missed == []  # said once: the next sync brings nothing new


def test_a_cell_the_student_deleted_and_the_course_changed_is_named(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    del mine.cells[6]
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[6].source = "x6 = 66\nprint('value', x6)"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert course.cells[6].id not in [cell.id for cell in result.cells]
    assert missed_of(report)["changes"] == [
        {"what": "cell_deleted", "cell": 7, "id": course.cells[6].id, "after": "x6 = 66 …"}
    ]


def test_both_append_cells_and_both_are_kept_the_courses_first(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells.append(new_code_cell("scratch = 'mine'"))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells.append(new_markdown_cell("## Part 2"))
    course.cells.append(new_code_cell("part2 = True"))
    published = upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    # git's line merge alone keeps only the student's new cell (-Xours): the cells merge puts
    # the course's in, each after the cell it follows in the course's notebook.
    assert sources(result)[-3:] == ["## Part 2", "part2 = True", "scratch = 'mine'"]
    assert len(result.cells) == 12
    assert [c.outputs for c in result.cells[1:9]] == [c.outputs for c in mine.cells[1:9]]
    assert missed_of(report) == {
        "path": LAB,
        "changes": [],
        "course_copy": None,
        "yours_restored": False,
        "mended": True,
    }
    assert report.not_applied == []
    # The mended notebook is in the merge commit: nothing is left uncommitted, and the next
    # sync finds nothing to do.
    assert student.git(dest, "status", "--porcelain") == ""
    parents = student.git(dest, "log", "-1", "--format=%P").split()
    assert parents[1] == published
    assert do_sync(dest).outcome == "unchanged"


def test_both_insert_at_one_place_in_the_middle(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells.insert(4, new_code_cell("mine_here = 1"))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells.insert(4, new_code_cell("course_here = 1"))
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    inserted = sources(read(dest / LAB))[3:6]
    assert inserted == [base.cells[3].source, "course_here = 1", "mine_here = 1"]
    assert missed_of(report)["changes"] == []


def test_the_courses_move_of_a_cell_the_student_did_not_touch_arrives(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[7].source = "x7 = 'mine'"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells.insert(2, course.cells.pop(5))
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    order = [cell.id for cell in course.cells]
    assert [cell.id for cell in result.cells] == order
    assert result.cells[7].source == "x7 = 'mine'"
    assert [c.get("outputs") for c in result.cells] == [
        c.get("outputs") for c in sorted(mine.cells, key=lambda c: order.index(c.id))
    ]
    assert missed_of(report)["changes"] == []


def test_a_move_the_student_reordered_against_is_named_once(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = copy.deepcopy(base)
    mine.cells.insert(1, mine.cells.pop(8))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells.insert(2, course.cells.pop(5))
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    assert [cell.id for cell in read(dest / LAB).cells][:2] == [base.cells[0].id, base.cells[8].id]
    assert {"what": "order"} in missed_of(report)["changes"]


def test_outputs_changed_on_both_sides_keep_the_students(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    student.write(dest / LAB, text(mine))
    course = ran(base)  # the instructor ran it too, and fixed a cell
    for cell in course.cells[1:]:
        cell.outputs = [new_output("stream", name="stdout", text="the instructor's run\n")]
    course.cells[3].source = "x3 = 33\nprint('value', x3)"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert result.cells[3].source == "x3 = 33\nprint('value', x3)"
    assert [c.get("outputs") for c in result.cells] == [c.get("outputs") for c in mine.cells]
    assert report.not_applied == []


def test_notebook_metadata_the_student_changed_too_is_one_line(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.metadata["kernelspec"]["display_name"] = "My kernel"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.metadata["kernelspec"]["display_name"] = "Python 3 (course)"
    course.metadata["course"] = {"week": 7}
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert result.metadata["kernelspec"]["display_name"] == "My kernel"
    assert result.metadata["course"] == {"week": 7}
    # The kernel's own rewrite of language_info is nobody's change: not reported.
    assert missed_of(report)["changes"] == [{"what": "metadata", "keys": ["kernelspec"]}]


def test_a_broken_course_notebook_leaves_the_students_valid_and_the_courses_beside(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[2].source = "x2 = 'mine'"
    student.write(dest / LAB, text(mine))
    # A comma lost in the title cell, which the student did not touch: git takes that line.
    broken = text(base).replace('"cell_type": "markdown",', '"cell_type": "markdown"', 1)
    upstream.commit({LAB: broken})

    report = do_sync(dest)

    assert json.loads((dest / LAB).read_text()) == json.loads(text(mine))
    assert (dest / "lab.course.ipynb").read_text() == broken
    entry = missed_of(report)
    assert entry["yours_restored"] is True
    assert entry["course_copy"] == "lab.course.ipynb"
    assert entry["changes"] == [{"what": "file"}]
    assert student.git(dest, "status", "--porcelain") == "?? lab.course.ipynb\n"


def test_a_student_notebook_that_was_broken_stays_theirs_with_the_courses_beside(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine_text = text(ran(base)).replace("x2 = 2", "x2 = 'mine'").replace("}\n", "", 1)
    student.write(dest / LAB, mine_text)
    course = copy.deepcopy(base)
    course.cells[2].source = "x2 = 22\nprint('value', x2)"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    assert (dest / LAB).read_text() == mine_text
    assert json.loads((dest / "lab.course.ipynb").read_text()) == json.loads(text(course))
    assert missed_of(report)["yours_restored"] is True
    assert "<<<<<<<" not in (dest / LAB).read_text()


def test_a_text_file_clash_names_its_line_ranges(home, upstream, do_sync, student):
    upstream.commit({"hw.py": "".join(f"line {n}\n" for n in range(1, 21))})
    dest = home / "course"
    do_sync(dest)
    mine = [f"line {n}\n" for n in range(1, 21)]
    mine[4] = "my line 5\n"
    student.write(dest / "hw.py", "".join(mine))
    course = [f"line {n}\n" for n in range(1, 21)]
    course[4:6] = ["course line 5\n", "course line 6\n", "course line 6b\n"]
    course[15] = "course line 16\n"
    upstream.commit({"hw.py": "".join(course)})

    report = do_sync(dest)

    assert (dest / "hw.py").read_text().splitlines()[4] == "my line 5"
    assert "course line 16" in (dest / "hw.py").read_text()
    assert missed_of(report, "hw.py")["changes"] == [
        {"what": "lines", "start": 5, "end": 7, "before": "line 5 …", "after": "course line 5 …"}
    ]


def test_the_course_copy_switch_leaves_the_courses_version_and_never_overwrites_the_students(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = copy.deepcopy(base)
    mine.cells[1].source = "x1 = 'mine'"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[1].source = "x1 = 'course'"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest, course_copies=True)

    assert missed_of(report)["course_copy"] == "lab.course.ipynb"
    assert (dest / "lab.course.ipynb").read_text() == text(course)
    # The student writes in the copy; the next course change leaves it and puts a new one beside.
    student.write(dest / "lab.course.ipynb", text(course).replace("course", "my notes"))
    course.cells[1].source = "x1 = 'course v2'"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest, course_copies=True)

    copy_name = missed_of(report)["course_copy"]
    assert copy_name.startswith("lab.course-") and copy_name.endswith(".ipynb")
    assert "my notes" in (dest / "lab.course.ipynb").read_text()
    assert (dest / copy_name).read_text() == text(course)


def test_ids_written_anew_by_a_script_are_not_taken_for_new_cells(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells[2].source = "x2 = 'mine'"
    student.write(dest / LAB, text(mine))
    course = lab()  # the instructor's build script made every cell again: all ids are new
    course.cells[5].source = "x5 = 55\nprint('value', x5)"
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    assert len(result.cells) == len(base.cells)  # no cell twice
    assert "x2 = 'mine'" in sources(result)
    assert report.outcome == "updated"


def test_a_five_megabyte_notebook_with_images(home, upstream, do_sync, student):
    image = {"image/png": "iVBORw0KGgo" + "A" * 250_000}
    book = lab()
    for cell in book.cells[1:]:
        cell.outputs = [new_output("display_data", data=image)] * 2
    dest, base = start(upstream, do_sync, home, book)
    assert (dest / LAB).stat().st_size > 4_000_000
    mine = ran(base)
    for cell in mine.cells[1:]:
        cell.outputs.append(new_output("display_data", data=image))
    mine.cells[3].source = "x3 = 'mine'"
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells[3].source = "x3 = 3  # course"
    course.cells[5].source = "x5 = 5  # course"
    course.cells.append(new_code_cell("extra = 1"))
    upstream.commit({LAB: text(course)})

    began = time.monotonic()
    report = do_sync(dest, timeout=60)
    took = time.monotonic() - began

    result = read(dest / LAB)
    assert report.outcome == "updated", (report, took)
    assert result.cells[5].source == "x5 = 5  # course"
    assert result.cells[-1].source == "extra = 1"
    assert [change["cell"] for change in missed_of(report)["changes"]] == [4]


def test_a_merge_commit_holds_the_mended_notebook(home, upstream, do_sync, student):
    dest, base = start(upstream, do_sync, home)
    mine = ran(base)
    mine.cells.append(new_code_cell("scratch"))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    course.cells.append(new_code_cell("course"))
    upstream.commit({LAB: text(course)})

    do_sync(dest)

    committed = student.git(dest, "show", f"HEAD:{LAB}")
    assert committed == (dest / LAB).read_text()
    assert sources(nbformat.reads(committed, as_version=4))[-2:] == ["course", "scratch"]


def test_a_cell_the_course_removed_stays_when_the_student_ran_it_and_goes_when_untouched(
    home, upstream, do_sync, student
):
    dest, base = start(upstream, do_sync, home)
    mine = copy.deepcopy(base)
    mine.cells[3].execution_count = 1  # the student ran cell 4 only: an hour's result, say
    mine.cells[3].outputs = [new_output("stream", name="stdout", text="long result\n")]
    mine.cells.append(new_code_cell("scratch"))
    student.write(dest / LAB, text(mine))
    course = copy.deepcopy(base)
    gone_run, gone_untouched = course.cells[3].id, course.cells[6].id
    del course.cells[6], course.cells[3]
    course.cells.append(new_code_cell("course's new cell"))
    upstream.commit({LAB: text(course)})

    report = do_sync(dest)

    result = read(dest / LAB)
    ids = [cell.id for cell in result.cells]
    assert gone_run in ids and gone_untouched not in ids
    assert result.cells[ids.index(gone_run)].outputs == mine.cells[3].outputs
    assert sources(result)[-2:] == ["course's new cell", "scratch"]
    assert missed_of(report)["changes"] == [
        {"what": "cell_kept", "cell": 4, "id": gone_run, "before": "x3 = 3 …"}
    ]


def test_a_report_names_at_most_ten_metadata_keys_each_cut():
    from app.gitsync import notebooks

    base = json.loads(text(lab()))
    course = copy.deepcopy(base)
    final = copy.deepcopy(base)
    for n in range(30):
        key = f"k{n:02d}" + "x" * 100
        course["metadata"][key] = "course"
        final["metadata"][key] = "mine"
    (item,) = notebooks.not_arrived(base, course, final)
    assert item["what"] == "metadata" and len(item["keys"]) == 11
    assert item["keys"][-1] == "20 more" and all(len(k) <= 60 for k in item["keys"])
