"""Course use cases, shared by the pages, the API and the CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, Protocol

from sqlalchemy import select

from app import audit
from app.errors import HubclassError
from app.extensions import db
from app.timeutil import iso_z

from .models import Course
from .names import GROUP_PREFIX, SECTION_SEPARATOR

# Lowercase, digits and inner hyphens: the slug becomes part of Hub group names and URLs.
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")


class CourseError(HubclassError):
    """A course could not be created, found or changed; the message is safe to show."""

    title = "Course"
    statuses: ClassVar[dict[str, int]] = {
        "not_found": 404,
        "exists": 409,
        "group_exists": 409,
        "not_allowed": 403,
    }


def validate_slug(slug: str) -> str:
    """Return the slug if it is safe for URLs and Hub group names, else raise CourseError."""
    if not SLUG_PATTERN.fullmatch(slug or "") or SECTION_SEPARATOR in slug:
        raise CourseError(
            "invalid_slug",
            f"{slug!r} cannot be a course slug: use 1-40 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit (e.g. 'data100-fall').",
        )
    return slug


GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Staff usernames as Hubclass accepts them anywhere: the roster's strict default rule.
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
# Audit events of the command line say so; no course has the command line as its creator.
CLI_ACTOR = "(command line)"


class Teacher(Protocol):
    """Who is asking: an instructor checked against the Hub (see app.auth.Instructor)."""

    @property
    def name(self) -> str: ...

    @property
    def admin(self) -> bool: ...

    @property
    def instructor(self) -> bool:
        """In a service-wide instructor group: may create courses."""
        ...

    @property
    def groups(self) -> tuple[str, ...]: ...


def is_staff(course: Course, who: Teacher) -> bool:
    """Tell whether `who` is teaching staff of this course (by username or staff group)."""
    return who.name in (course.staff_users or ()) or bool(
        set(who.groups) & set(course.instructor_groups or ())
    )


def can_manage(course: Course, who: Teacher | None) -> bool:
    """Hub admins, the course's creator while an instructor, and its teaching staff manage it.

    `who` is None only for the command line, run by the machine's administrator.
    """
    if who is None or who.admin:
        return True
    if who.instructor and course.created_by is not None and course.created_by == who.name:
        return True
    return is_staff(course, who)


def can_create_courses(who: Teacher | None) -> bool:
    """Hub admins and instructors create courses; a course's staff act on that course only."""
    return who is None or who.admin or who.instructor


def require_instructor(who: Teacher | None) -> None:
    """Refuse teaching staff what only instructors see (the service's settings and scopes)."""
    if not can_create_courses(who):
        raise CourseError(
            "not_allowed", "Only instructors and Hub admins see the service's status."
        )


def can_change_staff(course: Course, who: Teacher | None) -> bool:
    """Hub admins, and instructors who manage the course, name its staff (not TAs themselves)."""
    return who is None or who.admin or (who.instructor and can_manage(course, who))


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
    """Every course's teaching-staff groups: their members may sign in (to their courses only)
    and are never removed by a roster."""
    found: set[str] = set()
    for groups in db.session.scalars(select(Course.instructor_groups)):
        found.update(groups or ())
    return found


def staff_users() -> set[str]:
    """Every course's teaching staff named by username, as staff_groups() for groups."""
    found: set[str] = set()
    for names in db.session.scalars(select(Course.staff_users)):
        found.update(names or ())
    return found


def parse_usernames(text: str) -> list[str]:
    """Read a comma- or space-separated list of Hub usernames (lowercased as the Hub does)."""
    names = [n.strip().lower() for n in re.split(r"[,\s]+", text or "") if n.strip()]
    for name in names:
        if not USERNAME.fullmatch(name):
            raise CourseError(
                "invalid_username", f"{name[:80]!r} is not a Hub username Hubclass accepts."
            )
    return sorted(set(names))


def _check_staff_groups(groups: list[str], who: Teacher | None) -> None:
    """Only Hub admins name any Hub group; an instructor names groups they belong to.

    Otherwise naming a group would hand its members this course's powers, among them deleting
    the accounts Hubclass created for it.
    """
    if who is None or who.admin:
        return
    foreign = [g for g in groups if g not in who.groups]
    if foreign:
        raise CourseError(
            "not_your_group",
            f"You are not in the Hub group {foreign[0]!r}: name groups you belong to, add "
            "teaching assistants by username, or ask a Hub admin to name that group.",
        )


def set_staff(
    course: Course,
    *,
    groups_text: str,
    users_text: str,
    who: Teacher | None,
    hub_users_exist: Callable[[list[str]], list[str]] | None = None,
) -> Course:
    """Name the course's teaching staff: Hub groups and single usernames (TAs, co-instructors).

    `hub_users_exist` returns which of the names are missing on the Hub, so a typo is refused
    rather than silently granting nothing (or, later, granting a namesake).
    """
    if not can_change_staff(course, who):
        raise CourseError(
            "not_allowed",
            "Only the course's instructors and Hub admins change its teaching staff.",
        )
    groups = parse_groups(groups_text)
    added = [g for g in groups if g not in (course.instructor_groups or ())]
    _check_staff_groups(added, who)
    users = parse_usernames(users_text)
    missing = hub_users_exist(users) if hub_users_exist else []
    if missing:
        raise CourseError(
            "unknown_user",
            f"The Hub has no user {missing[0]!r}: check the spelling (the usernames people "
            "sign in to the Hub with).",
        )
    course.instructor_groups = groups
    course.staff_users = users
    audit.record(actor_name(who), "course.staff", course=course, target=course.slug,
                 groups=groups, users=users)  # fmt: skip
    return course


def actor_name(who: Teacher | None) -> str:
    """The name audit events record: the Hub user, or the command line."""
    return who.name if who is not None else CLI_ACTOR


def create_course(
    slug: str,
    title: str,
    *,
    who: Teacher | None,
    instructor_groups: str = "",
    group_members: Callable[[str], list[str] | None],
    adopt_group: bool = False,
) -> Course:
    """Create a course whose students go into the Hub group course-<slug>.

    `group_members` returns the members of a Hub group, or None when the Hub has no such
    group. A group that exists already belongs to someone: its members would count as the
    course's students (and be listed for removal), so only a Hub admin adopts it, knowingly.
    """
    if not can_create_courses(who):
        raise CourseError(
            "not_allowed",
            "Only instructors and Hub admins create courses; teaching staff act on the "
            "courses they are staff of.",
        )
    slug = validate_slug((slug or "").strip())
    title = (title or "").strip() or slug
    if len(title) > 200:
        raise CourseError("invalid_title", "The title is longer than 200 characters.")
    if db.session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise CourseError("exists", f"A course {slug!r} exists already.")
    groups = parse_groups(instructor_groups)
    _check_staff_groups(groups, who)
    hub_group = GROUP_PREFIX + slug
    members = group_members(hub_group)
    if members is not None and not adopt_group:
        raise CourseError(
            "group_exists",
            f"The Hub already has a group {hub_group!r} ({len(members)} members) that no "
            "Hubclass course owns. Choose another short name, or ask a Hub admin to adopt the "
            f"group: flask --app wsgi course create {slug} --adopt-group",
        )
    course = Course(
        slug=slug,
        title=title,
        hub_group=hub_group,
        created_by=who.name if who is not None else None,
        instructor_groups=groups,
        staff_users=[],
    )
    db.session.add(course)
    db.session.flush()
    # Who manages the course from its start; course.staff events say who does after a change.
    detail: dict = {"title": title, "instructor_groups": groups}
    if members is not None:
        detail["adopted_group_members"] = sorted(members)
    audit.record(actor_name(who), "course.create", course=course, target=slug, **detail)
    return course


def to_json(course: Course) -> dict:
    return {
        "slug": course.slug,
        "title": course.title,
        "hub_group": course.hub_group,
        "created_at": iso_z(course.created_at),
        "created_by": course.created_by,
        "instructor_groups": list(course.instructor_groups or ()),
        "staff_users": list(course.staff_users or ()),
    }
