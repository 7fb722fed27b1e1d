"""After a merge, for each file both sides changed: what of the course's change did not arrive, said
per cell (notebooks) or per line range (text); and no notebook left broken.

Runs in the student's process, on the folder it just merged (HEAD is the merge commit: HEAD^1 is the
student's side, ``target`` the course's). For notebooks it may write the file: the mended notebook
(see ``notebooks.mend``), or, when git's line merge left something that is not a valid notebook and
no cell merge is possible, the student's own version back. The caller commits what was written
into the merge commit. The course's version is left beside a notebook as ``<name>.course.ipynb``
(never over a file of the student's) when git's result was broken, and, if the assignment asks
for it, whenever some of the course's change did not arrive.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import notebooks
from .clashes import read_blobs
from .hunks import lines_of, missing_hunks
from .runner import Git

NOTEBOOK_SUFFIX = ".ipynb"
# The report is stored and shown for every student: a file with thousands of clashing cells is
# named with its first changes and a count of the rest.
MAX_CHANGES_PER_FILE = 50
COURSE_COPY_SUFFIX = ".course.ipynb"


@dataclass
class Examined:
    """What ``examine()`` found and did."""

    files: list[dict[str, Any]] = field(default_factory=list)  # the report's "missed"
    written: list[str] = field(default_factory=list)  # tracked files rewritten: to commit


def examine(
    git: Git,
    base: str,
    target: str,
    paths: list[str],
    work_tree: Path,
    *,
    course_copies: bool,
    now: datetime,
) -> Examined:
    """Look at ``paths`` (changed by the course since ``base`` and, after the merge, different from
    the course's version). Each file gets ``{"path", "changes": [...], "course_copy",
    "yours_restored", "mended"}`` when something did not arrive or was done to it."""
    examined = Examined()
    if not paths:
        return examined
    revs = (base, target, "HEAD^1", "HEAD")
    contents = read_blobs(git, [f"{rev}:{path}" for path in paths for rev in revs])
    for index, path in enumerate(paths):
        before, course, mine, merged = contents[4 * index : 4 * (index + 1)]
        try:
            if path.lower().endswith(NOTEBOOK_SUFFIX):
                entry = _notebook(
                    path, before, course, mine, merged, work_tree, examined, course_copies, now
                )
            else:
                entry = _text(path, before, course, merged)
        except RecursionError:
            # JSON nested just below what reading allows, too deep for the merge further down
            # the stack: the file is named as a whole (what was written is still committed).
            entry = _entry(path, [{"what": "file"}])
        if entry is not None:
            changes = entry["changes"]
            if len(changes) > MAX_CHANGES_PER_FILE:
                more = len(changes) - MAX_CHANGES_PER_FILE
                kept = changes[:MAX_CHANGES_PER_FILE]
                entry["changes"] = [*kept, {"what": "more", "count": more}]
            examined.files.append(entry)
    return examined


def _entry(path: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "path": path,
        "changes": changes,
        "course_copy": None,
        "yours_restored": False,
        "mended": False,
    }


def _text(
    path: str, before: bytes | None, course: bytes | None, merged: bytes | None
) -> dict | None:
    if merged is None:
        return None  # the student's side lacks it: the engine restores the course's copy
    if course is None:
        return _entry(path, [{"what": "file_kept"}])
    texts = [_decoded(data) for data in (before or b"", course, merged)]
    if any(text is None for text in texts):
        return _entry(path, [{"what": "file"}])
    old, new, now = (lines_of(text) for text in texts if text is not None)
    missing = missing_hunks(old, new, now)
    if missing == []:
        return None
    if missing is None:
        return _entry(path, [{"what": "file"}])
    changes = []
    for hunk in missing:
        if hunk.course_end > hunk.course_start:
            changes.append(
                {
                    "what": "lines",
                    "start": hunk.course_start + 1,
                    "end": hunk.course_end,
                    "before": notebooks.snippet(old[hunk.base_start : hunk.base_end]),
                    "after": notebooks.snippet(new[hunk.course_start : hunk.course_end]),
                }
            )
        else:
            changes.append(
                {
                    "what": "lines_removed",
                    "after_line": hunk.course_start,
                    "before": notebooks.snippet(old[hunk.base_start : hunk.base_end]),
                }
            )
    return _entry(path, changes)


def _decoded(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _notebook(
    path: str,
    before: bytes | None,
    course: bytes | None,
    mine: bytes | None,
    merged: bytes | None,
    work_tree: Path,
    examined: Examined,
    course_copies: bool,
    now: datetime,
) -> dict | None:
    if merged is None:
        return None
    if course is None:
        return _entry(path, [{"what": "file_kept"}])
    base_nb, course_nb, mine_nb, merged_nb = (
        notebooks.read(data) for data in (before, course, mine, merged)
    )
    if course_nb is None and mine_nb is None:
        return _text(path, before, course, merged)  # named .ipynb, but a notebook on no side
    entry = _entry(path, [])
    final_nb = merged_nb
    if base_nb and course_nb and mine_nb and notebooks.with_ids(base_nb, course_nb, mine_nb):
        mended = notebooks.mend(base_nb, course_nb, mine_nb, merged_nb)
        if mended != merged_nb:
            data = notebooks.write(mended)
            if notebooks.read(data) is not None and _replace(work_tree, path, data):
                examined.written.append(path)
                entry["mended"] = True
                final_nb = mended
    # git's lines are not a notebook and cells could not be merged: the student's own version
    # goes back, and the course's waits beside it.
    if final_nb is None and mine is not None and _replace(work_tree, path, mine):
        examined.written.append(path)
        entry["yours_restored"] = True
        final_nb = mine_nb
    if base_nb and course_nb and final_nb:
        entry["changes"] = notebooks.not_arrived(base_nb, course_nb, final_nb)
    elif course_nb is None or final_nb is None or base_nb is None:
        entry["changes"] = [{"what": "file"}]
    if entry["yours_restored"] or (course_copies and entry["changes"]):
        entry["course_copy"] = _leave_course_copy(work_tree, path, before, course, now)
    if not entry["changes"] and not entry["yours_restored"] and not entry["mended"]:
        return None
    return entry


def _replace(work_tree: Path, path: str, data: bytes) -> bool:
    """Write ``data`` over the tracked file ``path`` (a regular file: a link is left alone), by a
    new file renamed into place, so a crash never leaves half a notebook."""
    full = work_tree / path
    try:
        if not stat.S_ISREG(os.lstat(full).st_mode):
            return False
    except OSError:
        return False
    mode = stat.S_IMODE(os.lstat(full).st_mode)
    return _write_new(full.with_name(f".hubclass-tmp-{os.getpid()}-{full.name}"), data, mode, full)


def _write_new(tmp: Path, data: bytes, mode: int, final: Path) -> bool:
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, final)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def _leave_course_copy(
    work_tree: Path, path: str, before: bytes | None, course: bytes, now: datetime
) -> str | None:
    """Put the course's version beside the notebook; return its path in the folder, or None.

    An existing copy is replaced only when it is one Hubclass left (the course's earlier or current
    version); one the student changed stays, and the new copy gets a time in its name."""
    name = path[: -len(NOTEBOOK_SUFFIX)] + COURSE_COPY_SUFFIX
    full = work_tree / name
    try:
        info: os.stat_result | None = os.lstat(full)
    except FileNotFoundError:
        info = None
    except OSError:
        return None
    if info is not None:
        current = _read_copy(full, info, (len(before or b""), len(course)))
        if current == course:
            return name
        if current is None or current not in (before, course):
            stamp = now.strftime("%Y%m%d-%H%M%S")
            name = path[: -len(NOTEBOOK_SUFFIX)] + f".course-{stamp}.ipynb"
            full = work_tree / name
            if os.path.lexists(full):
                return None
    tmp = full.with_name(f".hubclass-tmp-{os.getpid()}-{full.name}")
    return name if _write_new(tmp, course, 0o644, full) else None


def _read_copy(full: Path, info: os.stat_result, sizes: tuple[int, ...]) -> bytes | None:
    """The bytes of an existing course copy when it may be one Hubclass left (a regular file of
    one of ``sizes``), else None: a folder, a link, a file the student cannot read or made big."""
    if not stat.S_ISREG(info.st_mode) or info.st_size not in sizes:
        return None
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read(max(sizes) + 1)
        except OSError:
            return None
