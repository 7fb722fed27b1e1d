"""Notebooks after a merge: valid, with every course change that could arrive, and an honest list of
the ones that could not.

git merges a notebook as lines of JSON. On real notebooks (ids kept as JupyterLab keeps them, every
cell run by the student) that brings the course's fixes to cells the student did not touch, but
it drops the course's new cells when the student also added cells at the same place (both append
at the end: -Xours keeps only the student's), and it drops the course's moves of cells. It can also
leave JSON that is not a notebook. So, for each notebook both sides changed:

- ``mend()`` starts from git's result (or from the student's own version when git's is not a valid
  notebook) and puts in, cell by cell and matched by id, what the course changed where the student
  did not: a cell's source, type, outputs and metadata keys, the notebook's metadata keys, new
  cells, removed cells, the order. Where both changed the same thing, the student's side stays.
- ``not_arrived()`` compares the final notebook with the course's change and lists, per cell,
  what did not arrive, in data the web turns into words.

Notebooks are read with nbformat's validator; cells are matched by their ids (nbformat 4.5), or,
in older notebooks without ids, by their content (difflib), which is enough to report but not
to mend.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any

import nbformat

from .hunks import Hunk, lines_of, missing_hunks

# A notebook bigger than this is not parsed (its JSON, not its size on screen: images count).
MAX_NOTEBOOK_BYTES = 64 << 20
# Keys the notebook front ends and kernels rewrite by themselves: a difference there is nobody's
# change, so it is neither mended nor reported.
VOLATILE_CELL_KEYS = frozenset({"execution", "collapsed", "scrolled", "jupyter", "ExecuteTime"})
VOLATILE_NOTEBOOK_KEYS = frozenset({"language_info", "widgets"})
# How much of a changed line the report quotes.
SNIPPET_CHARS = 60
MAX_KEYS_SHOWN = 10

Cell = dict[str, Any]
Notebook = dict[str, Any]


def read(data: bytes | None) -> Notebook | None:
    """The notebook in ``data`` when it is a valid nbformat 4 notebook with unique cell ids (or
    none at all), else None. Never raises on hostile input."""
    if data is None or len(data) > MAX_NOTEBOOK_BYTES:
        return None
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        return None
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        return None
    ids = [cell["id"] for cell in cells if "id" in cell]
    if len(set(map(str, ids))) != len(ids):
        return None  # nbformat's validator would "repair" this in place; here it is invalid
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(copy.deepcopy(notebook))
    except Exception:  # any failure of the validator means "not valid"
        return None
    return notebook


def prepare() -> None:
    """Build nbformat's validators now (each minor version's schema is compiled at its first use,
    some 80 ms): the fork server calls this once, so no student's sync pays it."""
    from nbformat import validator

    for minor in range(nbformat.v4.nbformat_minor + 1):
        validator.get_validator(4, minor)


def write(notebook: Notebook) -> bytes:
    """The notebook as Jupyter writes it (nbformat's own layout: one-space indent, sorted keys,
    multi-line strings as lists), so the student's next save changes as little as possible."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.writes(nbformat.from_dict(notebook)).encode("utf-8") + b"\n"


def with_ids(base: Notebook, *others: Notebook | None) -> bool:
    """True when cells can be matched by id: every cell of every notebook has one (nbformat 4.5),
    and each other notebook keeps most of the base's (a notebook written anew by a script, or
    pasted into a new file, has all-new ids: there an id says nothing of which cell is which)."""
    notebooks = [base, *others]
    if not all(
        notebook is not None and all("id" in cell for cell in notebook["cells"])
        for notebook in notebooks
    ):
        return False
    return all(_ids_agree(base["cells"], other["cells"]) for other in others if other is not None)


def _ids_agree(left: list[Cell], right: list[Cell]) -> bool:
    ids = {str(cell["id"]) for cell in left}
    shared = ids & {str(cell["id"]) for cell in right}
    return not ids or 2 * len(shared) >= len(ids)


# -- mend --------------------------------------------------------------------------------------


def mend(base: Notebook, course: Notebook, mine: Notebook, merged: Notebook | None) -> Notebook:
    """The notebook with the course's changes the student did not clash with, on top of git's
    ``merged`` result (or of ``mine`` when git's is not usable). All of them have cell ids."""
    start = merged if merged is not None and with_ids(mine, merged) else mine
    result = copy.deepcopy(start)
    b_cells, c_cells, m_cells = (_by_id(nb) for nb in (base, course, mine))
    cells: list[Cell] = result["cells"]

    # Cells the course removed and the student left as they were (not even run: outputs they
    # produced, a tag they set, are theirs).
    cells[:] = [
        cell
        for cell in cells
        if not (
            cell["id"] in b_cells
            and cell["id"] not in c_cells
            and _left_alone(m_cells.get(cell["id"]), b_cells[cell["id"]])
        )
    ]
    # Within each cell, what the course changed and the student did not.
    for cell in cells:
        key = cell["id"]
        if key in b_cells and key in c_cells and key in m_cells:
            _take_theirs(cell, b_cells[key], c_cells[key], m_cells[key])
    _take_keys(result["metadata"], base["metadata"], course["metadata"], mine["metadata"])

    _follow_course_order(cells, base, course, mine)
    _add_course_cells(cells, base, course)
    return result


def _by_id(notebook: Notebook) -> dict[str, Cell]:
    return {str(cell["id"]): cell for cell in notebook["cells"]}


def _ids(cells: Iterable[Cell]) -> list[str]:
    return [str(cell["id"]) for cell in cells]


def _same_content(cell: Cell | None, other: Cell) -> bool:
    """The student left the cell's own text as it was (running it changes only its outputs)."""
    return cell is not None and all(
        cell.get(key) == other.get(key) for key in ("cell_type", "source", "attachments")
    )


def _same_cell(cell: Cell, other: Cell) -> bool:
    """One cell: the same id, or, without ids, the same kind and text."""
    if "id" in cell and "id" in other:
        return str(cell["id"]) == str(other["id"])
    return (cell.get("cell_type"), _source(cell)) == (other.get("cell_type"), _source(other))


def _ran(cell: Cell, other: Cell) -> bool:
    """The student ran the cell (or cleared it): outputs and count differ from ``other``'s."""
    return (cell.get("outputs"), cell.get("execution_count")) != (
        other.get("outputs"),
        other.get("execution_count"),
    )


def _left_alone(cell: Cell | None, other: Cell) -> bool:
    """Nothing of the student's is in the cell: its text, outputs and settings are ``other``'s
    (but for the keys the front end rewrites by itself)."""
    if cell is None or not _same_content(cell, other) or _ran(cell, other):
        return False
    mine, theirs = cell.get("metadata", {}), other.get("metadata", {})
    return all(
        mine.get(key) == theirs.get(key)
        for key in set(mine) | set(theirs)
        if key not in VOLATILE_CELL_KEYS
    )


def _take_theirs(cell: Cell, base: Cell, course: Cell, mine: Cell) -> None:
    """Three-way, field by field: where the student kept the base's value, the course's wins."""
    if course.get("cell_type") != base.get("cell_type") and (
        not _same_content(mine, base) or _ran(mine, base)
    ):
        # The course made the cell another kind, and the student wrote in it or ran it: their
        # cell stays as a whole (kind, text and outputs go together; git's lines may mix them).
        for key in ("cell_type", "source", "attachments", "outputs", "execution_count"):
            if key in mine:
                cell[key] = copy.deepcopy(mine[key])
            else:
                cell.pop(key, None)
    else:
        for key in ("cell_type", "source", "attachments"):
            if mine.get(key) == base.get(key) and cell.get(key) != course.get(key):
                _set(cell, key, course.get(key))
    if cell.get("cell_type") == "code" and course.get("cell_type") == "code":
        # Outputs and the count go together: the course's arrive only over a cell not run.
        if not _ran(mine, base):
            cell["outputs"] = copy.deepcopy(course.get("outputs", []))
            cell["execution_count"] = course.get("execution_count")
    elif cell.get("cell_type") != "code":
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    _take_keys(
        cell.setdefault("metadata", {}),
        base.get("metadata", {}),
        course.get("metadata", {}),
        mine.get("metadata", {}),
    )


def _take_keys(result: dict, base: dict, course: dict, mine: dict) -> None:
    for key in set(base) | set(course):
        if mine.get(key) == base.get(key) and result.get(key) != course.get(key):
            _set(result, key, course.get(key))


def _set(target: dict, key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = copy.deepcopy(value)


def _follow_course_order(
    cells: list[Cell], base: Notebook, course: Notebook, mine: Notebook
) -> None:
    """When the course moved cells and the student moved none, the cells both have take the
    course's order, each in one of the places those cells had: the student's own cells stay put."""
    base_ids = _ids(base["cells"])
    course_ids = set(_ids(course["cells"]))
    mine_ids = set(_ids(mine["cells"]))
    shared = [key for key in base_ids if key in course_ids and key in mine_ids]
    in_course = [key for key in _ids(course["cells"]) if key in set(shared)]
    in_mine = [key for key in _ids(mine["cells"]) if key in set(shared)]
    if in_course == shared or in_mine != shared:
        return  # the course moved nothing, or the student reordered: their order stays
    present = {key for key in _ids(cells)}
    wanted = iter(key for key in in_course if key in present)
    by_id = {str(cell["id"]): cell for cell in cells}
    slots = set(shared)
    cells[:] = [by_id[next(wanted)] if str(cell["id"]) in slots else cell for cell in cells]


def _add_course_cells(cells: list[Cell], base: Notebook, course: Notebook) -> None:
    """The course's new cells, each after the cell it follows in the course's notebook (and before
    cells the student added there: the course's flow first, the student's scratch after)."""
    base_ids = set(_ids(base["cells"]))
    present = _ids(cells)
    previous: str | None = None
    for cell in course["cells"]:
        key = str(cell["id"])
        if key not in base_ids and key not in present:
            at = present.index(previous) + 1 if previous in present else 0
            cells.insert(at, copy.deepcopy(cell))
            present.insert(at, key)
        if key in present:
            previous = key


# -- what did not arrive -----------------------------------------------------------------------


def not_arrived(base: Notebook, course: Notebook, final: Notebook) -> list[dict[str, Any]]:
    """What of the course's change ``base -> course`` is not in ``final``, as report items:
    ``{"what": "cell_edited" | "cell_type" | "cell_deleted" | "cell_added" | "cell_kept" |
    "cell_metadata" | "metadata" | "order", "cell": n (1-based, in the course's notebook; for
    "cell_kept" in the student's), "id", "before", "after" (quoted lines), "keys"}``."""
    b_cells, c_cells, f_cells = base["cells"], course["cells"], final["cells"]
    to_course = _match(b_cells, c_cells)
    to_final = _match(b_cells, f_cells)
    from_course_to_final = _match(c_cells, f_cells)
    found: list[dict[str, Any]] = []
    from_course = {c: b for b, c in to_course.items()}
    for index, cell in enumerate(c_cells):
        number = index + 1
        base_index = from_course.get(index)
        final_index = from_course_to_final.get(index)
        if base_index is None:
            # Matched by content, the course's new cell may be paired with the student's own new
            # cell at its place: it arrived only if the final notebook has it as it is.
            if final_index is None or not _same_cell(cell, f_cells[final_index]):
                found.append(_item("cell_added", number, cell, after=_first_line(cell)))
            continue
        before = b_cells[base_index]
        if _same_content(before, cell) and _changed_keys(before, cell, final_index, f_cells) == []:
            continue
        final_index = to_final.get(base_index, final_index)
        if final_index is None:
            found.append(_item("cell_deleted", number, cell, after=_first_line(cell)))
            continue
        final_cell = f_cells[final_index]
        item = _cell_change(number, before, cell, final_cell)
        if item:
            found.append(item)
        keys = _changed_keys(before, cell, final_index, f_cells)
        if keys:
            found.append(_item("cell_metadata", number, cell, keys=_shown_keys(keys)))
    for base_index, cell in enumerate(b_cells):
        if base_index not in to_course and base_index in to_final:
            final_index = to_final[base_index]
            found.append(
                _item("cell_kept", final_index + 1, f_cells[final_index], before=_first_line(cell))
            )
    keys = [
        key
        for key in sorted(set(base["metadata"]) | set(course["metadata"]))
        if key not in VOLATILE_NOTEBOOK_KEYS
        and base["metadata"].get(key) != course["metadata"].get(key)
        and final["metadata"].get(key) != course["metadata"].get(key)
    ]
    if keys:
        found.append({"what": "metadata", "keys": _shown_keys(keys)})
    if _order_not_arrived(to_course, to_final):
        found.append({"what": "order"})
    return found


def _item(what: str, number: int, cell: Cell, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"what": what, "cell": number, "id": str(cell.get("id", ""))}
    item.update(extra)
    return item


def _cell_change(number: int, base: Cell, course: Cell, final: Cell) -> dict[str, Any] | None:
    if final.get("cell_type") != course.get("cell_type") != base.get("cell_type"):
        return _item(
            "cell_type",
            number,
            course,
            before=base.get("cell_type"),
            after=course.get("cell_type"),
        )
    old, new, now = (lines_of(_source(cell)) for cell in (base, course, final))
    if old == new:
        return None
    missing = missing_hunks(old, new, now)
    if missing == []:
        return None
    if missing is None:  # too big to say which lines: the cell as a whole
        return _item("cell_edited", number, course, before="", after=_first_line(course))
    hunk: Hunk = missing[0]
    return _item(
        "cell_edited",
        number,
        course,
        before=snippet(old[hunk.base_start : hunk.base_end]),
        after=snippet(new[hunk.course_start : hunk.course_end]),
    )


def _shown_keys(keys: list[str]) -> list[str]:
    """Keys as the report names them: a few, each cut (they come from the student's .git)."""
    shown = [snippet([str(key)]) for key in keys[:MAX_KEYS_SHOWN]]
    return shown + ([f"{len(keys) - MAX_KEYS_SHOWN} more"] if len(keys) > MAX_KEYS_SHOWN else [])


def _changed_keys(base: Cell, course: Cell, final_index: int | None, final_cells: list) -> list:
    if final_index is None:
        return []
    final = final_cells[final_index].get("metadata", {})
    b_meta, c_meta = base.get("metadata", {}), course.get("metadata", {})
    return [
        key
        for key in sorted(set(b_meta) | set(c_meta))
        if key not in VOLATILE_CELL_KEYS
        and b_meta.get(key) != c_meta.get(key)
        and final.get(key) != c_meta.get(key)
    ]


def _order_not_arrived(to_course: dict[int, int], to_final: dict[int, int]) -> bool:
    """The course moved cells, and the cells the final notebook shares with the course are not in
    the course's order."""
    shared = sorted(b for b in to_course if b in to_final)
    course_order = [to_course[b] for b in shared]
    if course_order == sorted(course_order):
        return False  # the course moved nothing the student still has
    final_order = sorted(shared, key=lambda b: to_final[b])
    return [to_course[b] for b in final_order] != sorted(course_order)


def _match(left: list[Cell], right: list[Cell]) -> dict[int, int]:
    """Which cell of ``right`` each cell of ``left`` is (by index): by id when both sides have
    ids, else by content, pairing changed cells in place when a run of them has equal length."""
    by_id = all("id" in cell for cell in left + right) and _ids_agree(left, right)
    if by_id:
        where = {str(cell["id"]): index for index, cell in enumerate(right)}
        return {
            index: where[str(cell["id"])]
            for index, cell in enumerate(left)
            if str(cell["id"]) in where
        }
    keys_left = [(cell.get("cell_type"), _source(cell)) for cell in left]
    keys_right = [(cell.get("cell_type"), _source(cell)) for cell in right]
    matcher = SequenceMatcher(None, keys_left, keys_right, autojunk=False)
    found: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            found.update({i1 + k: j1 + k for k in range(i2 - i1)})
    return found


def _source(cell: Cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _first_line(cell: Cell) -> str:
    return snippet(lines_of(_source(cell)))


def snippet(lines: list[str]) -> str:
    """The first line with text, cut to SNIPPET_CHARS; "…" says there is more."""
    shown = [line.strip() for line in lines if line.strip()]
    if not shown:
        return ""
    text = shown[0]
    if len(text) > SNIPPET_CHARS:
        return text[: SNIPPET_CHARS - 1] + "…"
    return text + (" …" if len(shown) > 1 else "")
