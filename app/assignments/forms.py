"""The assignment pages' forms: a new assignment, and an assignment's settings."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.web.forms import PageForm

from . import rules
from .models import Assignment
from .service import FIELDS


def _text(label: str, limit: int, description: str = "", required: bool = False) -> Any:
    checks = [DataRequired(), Length(max=limit)] if required else [Length(max=limit)]
    return StringField(label, validators=checks, description=description)


class AssignmentForm(PageForm):
    """An assignment's settings, as on its page; the service checks each one."""

    title = _text("Title", rules.MAX_TITLE)
    repo_url = _text(
        "Repository URL",
        2048,
        "e.g. https://github.com/your-org/week1 (only the hosts your Hub admin allows).",
        required=True,
    )
    branch = _text("Branch", 255, "Empty: the repository's default branch.")
    subpath = _text(
        "Sub-folder of the repository",
        rules.MAX_SUBPATH,
        "Deliver only this folder, e.g. week1 or labs/lab2. Empty: all of it.",
    )
    target = _text(
        "Target folder",
        rules.MAX_TARGET,
        "The folder in each student's home, e.g. week1. Empty: the repository's name.",
    )
    depth = StringField(
        "History depth",
        default=str(rules.DEFAULT_DEPTH),
        validators=[Length(max=20)],
        description=f"How many commits to clone: {rules.DEFAULT_DEPTH} (the latest only) or "
        f"{rules.FULL_DEPTH} for the whole history (for courses that teach git).",
    )
    policy = SelectField(
        "A student's folder that cannot be merged safely",
        choices=[
            SelectChoice("needs_attention", "leave it, and list it as needing attention"),
            SelectChoice("backup", "move it aside (<folder>_backup_<time>) and clone afresh"),
        ],
        default=rules.DEFAULT_POLICY,
    )
    course_copy = BooleanField(
        "Leave the course's version beside a notebook whose changes did not all arrive",
        description="As <name>.course.ipynb, never over a file of the student's, so they can "
        "compare (home delivery only: nbgitpuller in students' servers does not do it).",
    )

    def settings(self) -> dict[str, Any]:
        """The settings as typed, by their names in the service."""
        return {name: getattr(self, name).data for name in FIELDS}

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentForm:
        """The form filled with the assignment's current settings."""
        return cls(
            data={
                "title": assignment.title,
                "repo_url": assignment.repo_url,
                "branch": assignment.branch or "",
                "subpath": assignment.subpath or "",
                "target": assignment.target,
                "depth": str(rules.depth_json(assignment.depth)),
                "policy": assignment.unsafe_policy,
                "course_copy": assignment.course_copy,
            }
        )


class NewAssignmentForm(AssignmentForm):
    slug = _text(
        "Short name (slug)",
        40,
        "Lowercase letters, digits and hyphens, e.g. week1. Part of the assignment's address; "
        "it cannot be changed later.",
        required=True,
    )
