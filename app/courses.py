"""Course use cases, shared by the pages, the API and the CLI."""

from __future__ import annotations

import re
from typing import Protocol

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


GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class Teacher(Protocol):
    """Who is asking: an instructor checked against the Hub (see app.auth.Instructor)."""

    @property
    def name(self) -> str: ...

    @property
    def admin(self) -> bool: ...

    @property
    def groups(self) -> tuple[str, ...]: ...


def can_manage(course: Course, who: Teacher | None) -> bool:
    """Hub admins, the course's creator and members of its instructor groups manage it.

    `who` is None only for the command line, run by the machine's administrator.
    """
    if who is None or who.admin or course.created_by == who.name:
        return True
    return bool(set(who.groups) & set(course.instructor_groups or ()))


def list_courses(*, who: Teacher | None) -> list[Course]:
    """Return the courses `who` manages, newest first."""
    everything = db.session.scalars(select(Course).order_by(Course.created_at.desc(), Course.id))
    return [course for course in everything if can_manage(course, who)]


def get_course(slug: str, *, who: Teacher | None) -> Course:
    """Return the course if `who` manages it; else CourseError('not_found'), saying no more."""
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None or not can_manage(course, who):
        raise CourseError("not_found", f"There is no course {slug!r} that you teach.")
    return course


def parse_groups(text: str) -> list[str]:
    """Read a comma-separated list of Hub group names, refusing anything that is not one."""
    groups = [g.strip() for g in (text or "").split(",") if g.strip()]
    for group in groups:
        if not GROUP_NAME.fullmatch(group):
            raise CourseError(
                "invalid_group",
                f"{group!r} is not a Hub group name: letters, digits, '.', '_' and '-'.",
            )
        if group.startswith(GROUP_PREFIX):
            raise CourseError(
                "student_group",
                f"{group!r} is a course's group of students, not of its teaching staff.",
            )
    return sorted(set(groups))


def staff_groups() -> set[str]:
    """Every course's teaching-staff groups: their members count as instructors everywhere
    Hubclass asks (signing in, and never being removed by a roster)."""
    found: set[str] = set()
    for groups in db.session.scalars(select(Course.instructor_groups)):
        found.update(groups or ())
    return found


def set_instructor_groups(course: Course, text: str, *, actor: str) -> Course:
    """Let the members of these Hub groups manage the course too (TAs, co-instructors)."""
    course.instructor_groups = parse_groups(text)
    audit.record(actor, "course.staff", course=course, target=course.slug,
                 groups=course.instructor_groups)  # fmt: skip
    return course


def create_course(slug: str, title: str, *, actor: str, instructor_groups: str = "") -> Course:
    """Create a course whose students go into the Hub group course-<slug>."""
    slug = validate_slug((slug or "").strip())
    title = (title or "").strip() or slug
    if len(title) > 200:
        raise CourseError("invalid_title", "The title is longer than 200 characters.")
    if db.session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise CourseError("exists", f"A course {slug!r} exists already.")
    course = Course(
        slug=slug,
        title=title,
        hub_group=GROUP_PREFIX + slug,
        created_by=actor,
        instructor_groups=parse_groups(instructor_groups),
    )
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
        "instructor_groups": list(course.instructor_groups or ()),
    }
