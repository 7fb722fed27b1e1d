"""Which of the course's file changes did not arrive because the student had edited the same lines.

The engine merges with ``-Xours`` (nbgitpuller's rule): where the student and the course changed
the same lines, the student's side wins and that hunk of the course's change is dropped without a
word from git. This module finds those files, so the report can name them. It is asked only about
files both sides changed, so a sync without such a file pays nothing for it.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from .runner import Git

# git merge-file exits with the number of conflicts (capped at 127), and 255 when it cannot merge
# at all (a binary file: -Xours then keeps the student's whole file).
MERGE_FILE_STATUSES = tuple(range(256))
HEX = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")


def not_applied(
    git: Git, base: str, target: str, paths: list[str], ours: str | None, work_tree: Path
) -> list[str]:
    """Return those of ``paths`` where some of the course's change ``base -> target`` is not in
    the student's version: ``ours`` (a commit), or the files in ``work_tree`` when None.

    A path the student's version lacks is not named: the engine restores the course's copy.
    A path the course deleted that the student still has is named: their edited copy was kept.
    """
    if not paths:
        return []
    revs = (base, target, ours) if ours else (base, target)
    contents = read_blobs(git, [f"{rev}:{path}" for path in paths for rev in revs])
    found = []
    with tempfile.TemporaryDirectory(prefix="hubclass-clashes-", dir=git.git_dir) as scratch:
        for index, path in enumerate(paths):
            before, course, *rest = contents[len(revs) * index : len(revs) * (index + 1)]
            mine = rest[0] if ours else read_file(work_tree, path)
            if mine is None:
                continue
            if course is None or clashes(git, Path(scratch), before or b"", mine, course):
                found.append(path)
    return sorted(found)


def clashes(git: Git, scratch: Path, base: bytes, mine: bytes, course: bytes) -> bool:
    """True when a three-way merge of the file's versions has a conflict (or cannot merge)."""
    files = []
    for name, data in (("mine", mine), ("base", base), ("course", course)):
        path = scratch / name
        path.write_bytes(data)
        files.append(str(path))
    # Without -p the merge goes into "mine" (a scratch copy): nothing of it is read back.
    result = git.run("merge-file", "--quiet", *files, cwd=scratch, ok=MERGE_FILE_STATUSES)
    return result.returncode != 0


def read_blobs(git: Git, names: list[str]) -> list[bytes | None]:
    """The contents of ``rev:path`` names, read in one ``git cat-file --batch``; None for a name
    that is not a file in that commit (missing, or a folder)."""
    request = b"".join(os.fsencode(name) + b"\0" for name in names)
    out = git.run("cat-file", "--batch", "-z", input=request).stdout
    found: list[bytes | None] = []
    pos = 0
    for name in names:
        # "<oid> <type> <size>\n<contents>\n", or "<name> missing\n" (the name may hold "\n").
        end = out.index(b"\n", pos)
        fields = out[pos:end].split(b" ")
        if len(fields) == 3 and fields[2].isdigit() and HEX.fullmatch(fields[0]):
            size = int(fields[2])
            found.append(out[end + 1 : end + 1 + size] if fields[1] == b"blob" else None)
            pos = end + 1 + size + 1
        else:
            end = out.index(b"\n", pos + len(os.fsencode(name)))
            found.append(None)
            pos = end + 1
    return found


def read_file(work_tree: Path, path: str) -> bytes | None:
    """The student's file as git would commit it (a link: its target), or None."""
    full = work_tree / path
    try:
        mode = os.lstat(full).st_mode
        if stat.S_ISLNK(mode):
            return os.fsencode(os.readlink(full))
        if not stat.S_ISREG(mode):
            return None
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()
