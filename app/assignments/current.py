"""The assignment a page or API route is about, for the person asking."""

from app.courses.current import managed_course

from .models import Assignment
from .service import get_assignment


def managed_assignment(slug: str, assignment: str) -> Assignment:
    """The course's assignment if the signed-in person may manage the course; else 404/403."""
    return get_assignment(managed_course(slug), assignment)
