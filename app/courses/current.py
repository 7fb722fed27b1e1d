"""The course a page or API route is about, for the person asking."""

from app.auth import current_instructor

from .models import Course
from .service import get_course


def managed_course(slug: str) -> Course:
    """The course called `slug` if the signed-in person may manage it; a 404 or 403 otherwise."""
    return get_course(slug, who=current_instructor())
