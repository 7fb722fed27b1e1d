"""Which of the course's line changes (base -> course) are not in a merged result.

The engine merges with ``-Xours``: where git finds the student's and the course's changes touching
the same lines, the student's lines win and the course's hunk is dropped without a word. This
module names those hunks, so the report can say "lines 10-12 were not applied" instead of only the
file's name. It is plain Python over lists of lines (no process per file: it runs for every file
both sides changed, in every student's sync).

A hunk is one run of the course's change, found by difflib between base and course. Its fate is
read from where its base lines went in the result:
- the lines just around it are unchanged in the result (the student did not touch them): the hunk
  arrived when the result holds exactly the course's lines between them;
- the student changed lines next to or inside it (git then clashes and keeps the student's side):
  the hunk arrived only when the result has the course's new lines there and no longer the
  course's removed ones (the student made the same change).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

# Beyond this many lines a file is named without line ranges: difflib's cost grows faster than
# the file, and a sync must not spend its time on a generated file.
MAX_LINES = 20_000
# difflib (without its junk heuristic, which would hide real changes) compares each line with every
# equal line of the other side: a column of 0/1 values costs minutes. Beyond this many such pairs
# (some 1.5 s of work) the file is named without line ranges too.
MAX_PAIRS = 2_000_000


@dataclass(frozen=True)
class Hunk:
    """One change of the course: base lines ``[base_start, base_end)`` became course lines
    ``[course_start, course_end)`` (0-based, end excluded)."""

    base_start: int
    base_end: int
    course_start: int
    course_end: int


def _pairs(left: list[str], right: list[str]) -> int:
    """How many (left line, equal right line) pairs there are: what difflib's work grows with."""
    counts = Counter(right)
    return sum(counts[line] for line in left)


def course_hunks(base: list[str], course: list[str]) -> list[Hunk]:
    """The course's changes from ``base`` to ``course``, in order."""
    matcher = SequenceMatcher(None, base, course, autojunk=False)
    return [Hunk(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def missing_hunks(base: list[str], course: list[str], result: list[str]) -> list[Hunk] | None:
    """The course's hunks that are not in ``result``; None when the file is too big to say."""
    if max(len(base), len(course), len(result)) > MAX_LINES:
        return None
    if _pairs(base, course) > MAX_PAIRS or _pairs(base, result) > MAX_PAIRS:
        return None
    hunks = course_hunks(base, course)
    if not hunks:
        return []
    where = _where_in_result(base, result)
    return [hunk for hunk in hunks if not _arrived(hunk, base, course, result, where)]


def _where_in_result(base: list[str], result: list[str]) -> dict[int, int]:
    """For each base line the student's side left as it was: its index in ``result``."""
    matcher = SequenceMatcher(None, base, result, autojunk=False)
    where: dict[int, int] = {}
    for i, j, size in matcher.get_matching_blocks():
        for k in range(size):
            where[i + k] = j + k
    return where


def _arrived(
    hunk: Hunk, base: list[str], course: list[str], result: list[str], where: dict[int, int]
) -> bool:
    before = hunk.base_start - 1
    while before >= 0 and before not in where:
        before -= 1
    after = hunk.base_end
    while after < len(base) and after not in where:
        after += 1
    start = where[before] + 1 if before >= 0 else 0
    end = where[after] if after < len(base) else len(result)
    region = result[start:end]
    new = course[hunk.course_start : hunk.course_end]
    if before == hunk.base_start - 1 and after == hunk.base_end:
        return region == new
    removed = base[hunk.base_start : hunk.base_end]
    if not new:
        # A removal next to the student's own change: it arrived only if none of the removed
        # lines is left there (the student removed them too).
        return not any(line in region for line in removed)
    return _holds(region, new) and (
        not removed or _holds(new, removed) or not _holds(region, removed)
    )


def _holds(lines: list[str], run: list[str]) -> bool:
    """True when ``run`` appears in ``lines`` as consecutive lines."""
    size = len(run)
    return any(lines[i : i + size] == run for i in range(len(lines) - size + 1))


def lines_of(text: str) -> list[str]:
    """Lines with their endings, so a change of the last line's newline is a change too."""
    return text.splitlines(keepends=True)
