"""The part of an assignment's page that another feature fills: the `distribution` block.

Delivery reads assignments, so assignments must not import it. Instead the delivery feature
registers, in its init_app, a template that extends "assignments/assignment.html" and fills
its `distribution` block, and a function that gives that template what it shows. The page then
renders whatever was registered, knowing nothing of what it shows; with nothing registered it
is the assignment's page alone. One feature fills the block (templates inherit from one parent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template

from .models import Assignment

EXTENSION = "hubclass.assignment_page"
TEMPLATE = "assignments/assignment.html"


@dataclass(frozen=True)
class PagePart:
    template: str  # extends TEMPLATE, filling its `distribution` block
    context: Callable[[Assignment], dict[str, Any]]  # what the template needs beyond ours


def register(app: Flask, template: str, context: Callable[[Assignment], dict[str, Any]]) -> None:
    """Fill the assignment page's `distribution` block with `template` (registering again
    replaces it, so calling a feature's init_app twice is safe)."""
    app.extensions[EXTENSION] = PagePart(template, context)


def render(assignment: Assignment, context: dict[str, Any], **overrides: Any) -> str:
    """Render the assignment's page: `context` is ours, `overrides` replace what the
    registered part would give (a form posted back with its errors)."""
    part: PagePart | None = current_app.extensions.get(EXTENSION)
    if part is None:
        return render_template(TEMPLATE, **context, **overrides)
    return render_template(part.template, **{**context, **part.context(assignment), **overrides})
