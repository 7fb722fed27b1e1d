"""The course's changes that did not reach students, on the pages: a distribution to real homes
where students edited the cell the instructor fixed. The distribution's page counts them and lists
them by file and cell with every name; a student's page says it in words; the assignment's switch
leaves the course's version beside the notebook. Real Hub, real users, real git."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from app.assignments.models import Assignment
from app.delivery import not_arrived
from app.delivery.models import Delivery
from app.extensions import db
from tests.delivery.kit import assignment_of, course_with, eventually, make_homes, settled, workers
from tests.delivery.test_pages import Pages, signed_in

pytestmark = [pytest.mark.hub, pytest.mark.root]

LAB = "week1/lab.ipynb"


def lab(fix: str = "total = 0") -> nbformat.NotebookNode:
    book = new_notebook()
    book.cells = [new_code_cell(source) for source in ("x = 1", fix, "print(total)", "y = 2")]
    for number, cell in enumerate(book.cells):
        cell.id = f"cell-{number}"  # as JupyterLab keeps them
    return book


def text(book) -> str:
    return nbformat.writes(book) + "\n"


def test_the_pages_say_which_cell_did_not_reach_whom(
    hub_delivery_app, homes: Path, make_students, upstream
):
    app = hub_delivery_app
    ann, ben, cat = make_students(3)
    make_homes(homes, [ann, ben, cat])
    upstream.commit({LAB: text(lab())})
    course = course_with("na", [ann.name, ben.name, cat.name])
    course.created_by = "instructor"
    assignment_of(course, upstream)
    pages = Pages(signed_in(app), "na")

    with workers(app, 1):
        pages.distribute()
        eventually(lambda: settled(1), "the first distribution ends")
        # Ann and Ben write their answer into the cell the instructor is about to fix; Cat
        # answers in a cell of her own.
        for student in (ann, ben):
            mine = lab("total = 42  # my answer")
            student.write(homes / student.name / "hw1" / LAB, text(mine))
        theirs = lab()
        theirs.cells.append(new_code_cell("print('mine')"))
        cat.write(homes / cat.name / "hw1" / LAB, text(theirs))
        upstream.commit({LAB: text(lab("total = sum([])  # the fix"))})
        pages.distribute()
        eventually(lambda: settled(2), "the second distribution ends")

    db.session.remove()
    counted = {d.username: d.not_arrived for d in Delivery.query.filter_by(distribution_id=2)}
    assert counted == {ann.name: 1, ben.name: 1, cat.name: 0}
    page = html.unescape(pages.get("/distributions/2"))
    said = (
        "cell 2 (`total = 0` → `total = sum([])  # the fix`) was not applied: you had edited "
        "this cell"
    )
    section = re.search(r'<section class="not-arrived".*?</section>', page, re.S).group(0)
    assert "2 students with changes that did not arrive" in section
    assert f"<code>{LAB}</code>" in section
    assert said in section and ann.name in section and ben.name in section
    assert cat.name not in section
    # The student's page: the same words, for that student.
    student = html.unescape(pages.get(f"/students/{ann.name}"))
    assert said in student
    assert "The course's version is beside it" not in student
    # Cat's fix arrived; her own cell stayed.
    cat_lab = nbformat.reads((homes / cat.name / "hw1" / LAB).read_text(), as_version=4)
    assert [c.source for c in cat_lab.cells][1:] == [
        "total = sum([])  # the fix",
        "print(total)",
        "y = 2",
        "print('mine')",
    ]

    # The switch, through the assignment's own settings form: the next distribution leaves
    # the course's version beside the notebooks whose change did not all arrive.
    page = pages.get()
    assert 'name="course_copy"' in page
    assignment = db.session.scalar(db.select(Assignment).filter_by(slug="hw1"))
    assignment.course_copy = True
    db.session.commit()
    with workers(app, 1):
        upstream.commit({LAB: text(lab("total = sum([0])  # the fix, again"))})
        pages.distribute()
        eventually(lambda: settled(3), "the third distribution ends")
    copy = homes / ann.name / "hw1" / "week1" / "lab.course.ipynb"
    assert (
        nbformat.reads(copy.read_text(), as_version=4)
        .cells[1]
        .source.startswith("total = sum([0])")
    )
    assert copy.stat().st_uid == ann.uid
    student = html.unescape(pages.get(f"/students/{ann.name}"))
    assert "The course's version is beside it as `week1/lab.course.ipynb`." in student
    assert not (homes / cat.name / "hw1" / "week1" / "lab.course.ipynb").exists()


def test_every_change_has_words_and_old_reports_still_read():
    for change in (
        {"what": "cell_edited", "cell": 4, "before": "print('helo')", "after": "print('hello')"},
        {"what": "cell_edited", "cell": 4, "before": "", "after": "x = 1"},
        {"what": "cell_edited", "cell": 4, "before": "x = 1", "after": ""},
        {"what": "cell_type", "cell": 2, "before": "code", "after": "markdown"},
        {"what": "cell_deleted", "cell": 6, "after": "x = 6"},
        {"what": "cell_added", "cell": 9, "after": "x = 9"},
        {"what": "cell_kept", "cell": 3, "before": "old"},
        {"what": "cell_metadata", "cell": 3, "keys": ["tags"]},
        {"what": "metadata", "keys": ["kernelspec"]},
        {"what": "order"},
        {"what": "lines", "start": 5, "end": 7, "before": "a", "after": "b"},
        {"what": "lines_removed", "after_line": 4, "before": "a"},
        {"what": "file_kept"},
        {"what": "file"},
        {"what": "more", "count": 3},
    ):
        words = not_arrived.change_words(change)
        assert words and "None" not in words, change
    assert (
        not_arrived.change_words(
            {"what": "cell_edited", "cell": 4, "before": "print('helo')", "after": "print('hello')"}
        )
        == "cell 4 (`print('helo')` → `print('hello')`) was not applied: you had edited this cell"
    )
    assert not_arrived.change_words({"what": "cell_deleted", "cell": 6, "after": "x"}).startswith(
        "you deleted cell 6, which the course changed"
    )
    # A report written before "missed" was kept: the file is named, counted once.
    old = {"outcome": "updated", "not_applied": ["a.ipynb"]}
    assert not_arrived.count(old) == 1
    assert [f.path for f in not_arrived.files(old)] == ["a.ipynb"]
    assert not_arrived.count(None) is None
    hostile = {"missed": ["x", {"path": "p", "changes": ["y", {"what": "order"}]}]}
    assert [f.changes for f in not_arrived.files(hostile)] == [
        ["the course's new order of cells was not applied: you had moved cells yourself"]
    ]
