"""Courses: a course's slug and Hub group, its teaching staff, and who may manage it.

The package holds the service (`service.py`, shared by pages, API and CLI), its model, pages,
API routes, forms, commands and templates; this module is the service's public face.
"""

from .names import GROUP_PREFIX
from .service import (
    CLI_ACTOR,
    CourseError,
    Teacher,
    actor_name,
    can_change_staff,
    can_create_courses,
    can_manage,
    create_course,
    get_course,
    is_staff,
    list_courses,
    parse_groups,
    parse_usernames,
    require_instructor,
    set_staff,
    staff_groups,
    staff_users,
    to_json,
    validate_slug,
)

__all__ = [
    "CLI_ACTOR",
    "GROUP_PREFIX",
    "CourseError",
    "Teacher",
    "actor_name",
    "can_change_staff",
    "can_create_courses",
    "can_manage",
    "create_course",
    "get_course",
    "is_staff",
    "list_courses",
    "parse_groups",
    "parse_usernames",
    "require_instructor",
    "set_staff",
    "staff_groups",
    "staff_users",
    "to_json",
    "validate_slug",
]
