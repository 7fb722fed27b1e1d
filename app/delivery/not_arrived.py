"""The course's changes that did not reach a student, in words: per file of one delivery (the
student's page), and per file and change across a distribution (its page), so the instructor can
send one message, or reset those files.

The engine's report says it in data (``missed``, see gitsync.missed and gitsync.notebooks); the
words speak to the student, as an instructor would pass them on ("you had edited this cell").
Every quoted text comes from the student's folder, so templates show it escaped and cut.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.extensions import db

from .models import Delivery, Distribution
from .states import State

# A distribution's page lists at most this many students' reports (the count is exact).
MAX_LISTED_DELIVERIES = 2000
EDITED = "you had edited this cell"


def count(report: Mapping[str, Any] | None) -> int | None:
    """How many files of the report kept some of the course's change out; None: no report."""
    if report is None:
        return None
    missed = report.get("missed")
    if isinstance(missed, list):
        return sum(1 for entry in missed if isinstance(entry, dict) and entry.get("changes"))
    return len(report.get("not_applied") or ())  # a report from before "missed" was kept


def _q(value: Any) -> str:
    return f"`{value}`"


def change_words(change: Mapping[str, Any]) -> str:
    """One change of the course that did not arrive, as a sentence to the student."""
    what = change.get("what")
    cell = change.get("cell")
    before, after = change.get("before") or "", change.get("after") or ""
    keys = ", ".join(str(key) for key in change.get("keys") or ())
    if what == "cell_edited":
        if before and after:
            return f"cell {cell} ({_q(before)} → {_q(after)}) was not applied: {EDITED}"
        if after:
            return f"cell {cell}: the course's new line {_q(after)} was not applied: {EDITED}"
        return f"cell {cell}: the course's removal of {_q(before)} was not applied: {EDITED}"
    if what == "cell_type":
        return f"cell {cell}: the course made it a {after} cell, which was not applied: {EDITED}"
    if what == "cell_deleted":
        return f"you deleted cell {cell}, which the course changed ({_q(after)})"
    if what == "cell_added":
        return f"the course's new cell {cell} ({_q(after)}) did not arrive"
    if what == "cell_kept":
        return (
            f"the course removed a cell ({_q(before)}); you had edited or run it, so it stays "
            f"as your cell {cell}"
        )
    if what == "cell_metadata":
        return (
            f"the course's change to cell {cell}'s settings ({keys}) was not applied: you had "
            "changed them too"
        )
    if what == "metadata":
        return (
            f"the course's change to the notebook's settings ({keys}) was not applied: yours differ"
        )
    if what == "order":
        return "the course's new order of cells was not applied: you had moved cells yourself"
    if what == "lines":
        where = _lines(change.get("start"), change.get("end"))
        return (
            f"{where} of the course's version ({_q(before)} → {_q(after)}) did not arrive: you "
            "had edited the same lines"
        )
    if what == "lines_removed":
        return (
            f"the course removed {_q(before)} (after its line {change.get('after_line')}); you "
            "had edited it, so it stays"
        )
    if what == "file_kept":
        return "the course deleted this file; you had edited it, so your copy stays"
    if what == "more":
        return f"and {change.get('count')} more changes"
    return "some of the course's change to this file did not arrive: you had changed the same parts"


def _lines(start: Any, end: Any) -> str:
    return f"line {start}" if start == end else f"lines {start} to {end}"


def file_notes(entry: Mapping[str, Any]) -> list[str]:
    """What the engine did about the file, beside the changes."""
    notes = []
    if entry.get("yours_restored"):
        notes.append(
            "Merging the course's version into yours gave a file that is not a valid notebook, "
            "so your own version was put back as it was."
        )
    if entry.get("course_copy"):
        notes.append(f"The course's version is beside it as {_q(entry['course_copy'])}.")
    return notes


@dataclass
class FileShown:
    path: str
    changes: list[str]
    notes: list[str]


def files(report: Mapping[str, Any] | None) -> list[FileShown]:
    """The report's files whose course changes did not all arrive, or that were put back."""
    if not report:
        return []
    missed = report.get("missed")
    if not isinstance(missed, list):
        return [  # a report from before "missed" was kept: the file's name only
            FileShown(str(path), [change_words({"what": "file"})], [])
            for path in report.get("not_applied") or ()
        ]
    shown = []
    for entry in missed:
        if not isinstance(entry, dict):
            continue
        changes = [change_words(c) for c in entry.get("changes") or () if isinstance(c, dict)]
        notes = file_notes(entry)
        if changes or notes:
            shown.append(FileShown(str(entry.get("path")), changes, notes))
    return shown


@dataclass
class Across:
    """A distribution's changes that did not arrive: students, and per file and change who."""

    students: int = 0
    by_file: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    listed_all: bool = True


def across(distribution: Distribution) -> Across:
    """Who of the distribution's students kept some of the course's change out, per file and
    change (the same words for the same change: one line lists everyone it concerns)."""
    rows = db.session.execute(
        select(Delivery.username, Delivery.report)
        .where(
            Delivery.distribution_id == distribution.id,
            Delivery.state == State.DONE,
            Delivery.not_arrived > 0,
        )
        .order_by(Delivery.username)
        .limit(MAX_LISTED_DELIVERIES + 1)
    ).all()
    found = Across(listed_all=len(rows) <= MAX_LISTED_DELIVERIES)
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for username, report in rows[:MAX_LISTED_DELIVERIES]:
        found.students += 1
        for shown in files(report):
            for said in shown.changes:
                grouped[shown.path][said].append(username)
    found.by_file = {
        path: dict(sorted(changes.items(), key=lambda item: (-len(item[1]), item[0])))
        for path, changes in sorted(grouped.items())
    }
    return found
