"""Course use cases, shared by the pages, the API and the CLI."""

from __future__ import annotations

import re

from sqlalchemy import select

from . import audit
from .extensions import db
from .models import Course

# Lowercase, digits and inner hyphens: the slug becomes part of Hub group names and URLs.
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
GROUP_PREFIX = "course-"


class CourseError(Exception):
    """A course could not be created or found; the message is safe to show."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validate_slug(slug: str) -> str:
    """Return the slug if it is safe for URLs and Hub group names, else raise CourseError."""
    if not SLUG_PATTERN.fullmatch(slug or "") or "--" in slug:
        raise CourseError(
            "invalid_slug",
            f"{slug!r} cannot be a course slug: use 1-40 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit (e.g. 'data100-fall').",
        )
    return slug


def list_courses() -> list[Course]:
    """Return all courses, newest first."""
    return list(db.session.scalars(select(Course).order_by(Course.created_at.desc(), Course.id)))


def get_course(slug: str) -> Course:
    """Return the course with this slug, or raise CourseError('not_found')."""
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise CourseError("not_found", f"There is no course {slug!r}.")
    return course


def create_course(slug: str, title: str, *, actor: str) -> Course:
    """Create a course whose students go into the Hub group course-<slug>."""
    slug = validate_slug((slug or "").strip())
    title = (title or "").strip() or slug
    if len(title) > 200:
        raise CourseError("invalid_title", "The title is longer than 200 characters.")
    if db.session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise CourseError("exists", f"A course {slug!r} exists already.")
    course = Course(slug=slug, title=title, hub_group=GROUP_PREFIX + slug, created_by=actor)
    db.session.add(course)
    db.session.flush()
    audit.record(actor, "course.create", course=course, target=slug, title=title)
    return course


def to_json(course: Course) -> dict:
    return {
        "slug": course.slug,
        "title": course.title,
        "hub_group": course.hub_group,
        "created_at": course.created_at.isoformat() + "Z",
        "created_by": course.created_by,
    }
