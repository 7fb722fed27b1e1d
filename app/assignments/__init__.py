"""Assignments: a course's git repositories, each with its target folder, branch and depth.

The package holds the pure rules (`rules.py`: what each setting may be, the nbgitpuller link),
the service (`service.py`, shared by pages, API and CLI), its model, pages, API routes, forms,
commands and templates; this module is the service's public face.
"""

from .rules import AssignmentError
from .service import (
    FIELDS,
    add_assignment,
    change_assignment,
    check_repo_url,
    get_assignment,
    list_assignments,
    nbgitpuller_link,
    to_json,
)

__all__ = [
    "FIELDS",
    "AssignmentError",
    "add_assignment",
    "change_assignment",
    "check_repo_url",
    "get_assignment",
    "list_assignments",
    "nbgitpuller_link",
    "to_json",
]
