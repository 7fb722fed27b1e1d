"""A long table shown a page at a time (the dashboard's students, the roster's): the Hub's own
admin page pages its users too. Thousands of rows were most of those pages' time and a
megabyte each to the browser; the counts, filters and exports above them still cover all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

# Rows per page.
PAGE_SIZE = 250

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of a table: its rows, its number (from 1) and how many there are."""

    rows: list[Row]
    number: int
    pages: int
    first: int  # the position of its first row among all the rows, from 1 (0: none)
    total: int

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def page_of(rows: Sequence[Row], asked: str | None, size: int = PAGE_SIZE) -> Page[Row]:
    """The page `asked` (a `page` query parameter) of `rows`: the last one if it is past the
    end, the first if it is no number."""
    pages = max(1, -(-len(rows) // size))
    try:
        number = min(max(int(asked or 1), 1), pages)
    except ValueError:
        number = 1
    start = (number - 1) * size
    shown = list(rows[start : start + size])
    return Page(shown, number, pages, start + 1 if shown else 0, len(rows))
