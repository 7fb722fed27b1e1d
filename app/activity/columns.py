"""The dashboard's assignment columns, which another feature fills.

Delivery reads activity (the Hub users' state), so activity must not import it. Instead delivery
registers, in its init_app, a provider: called once per dashboard request (page, CSV, API, the
`status` command) with the course and its students' usernames, it gives the columns (one per
assignment, in the course's order) and each student's cell in each. A provider reads the
database only, in a constant number of queries (never one per assignment or per student).
With nothing registered the dashboard has no assignment columns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app

from app.courses.models import Course
from app.timeutil import iso_z

EXTENSION = "hubclass.dashboard_columns"


def _iso(value: datetime | None) -> str | None:
    return iso_z(value, "seconds") if value else None


@dataclass(frozen=True)
class Column:
    slug: str
    title: str
    # The column header's link: url_for(endpoint, **values), built by the page only.
    endpoint: str
    values: dict[str, Any]
    # The branch's newest commit when the service last read the repository, and when.
    latest_commit: str | None
    latest_checked_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "latest_commit": self.latest_commit,
            "latest_checked_at": _iso(self.latest_checked_at),
        }


@dataclass(frozen=True)
class Cell:
    state: str  # in the instructor's words ("current", "behind", "failed"...)
    commit: str | None
    at: datetime | None
    # The dashboard's "behind or failed" filter shows a student with any such cell.
    needs_action: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "commit": self.commit,
            "at": _iso(self.at),
            "needs_action": self.needs_action,
        }


@dataclass
class Columns:
    columns: list[Column] = field(default_factory=list)
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)  # username -> slug -> cell


Provider = Callable[[Course, Collection[str]], Columns]


def register(app: Flask, name: str, provider: Provider) -> None:
    """Add the provider `name`'s columns to the dashboard (registering again replaces it, so
    calling a feature's init_app twice is safe)."""
    app.extensions.setdefault(EXTENSION, {})[name] = provider


def read(course: Course, usernames: Collection[str]) -> Columns:
    """Every registered provider's columns and cells, in the order they were registered."""
    found = Columns()
    providers: dict[str, Provider] = current_app.extensions.get(EXTENSION, {})
    for provider in providers.values():
        part = provider(course, usernames)
        found.columns.extend(part.columns)
        for username, cells in part.cells.items():
            found.cells.setdefault(username, {}).update(cells)
    return found
