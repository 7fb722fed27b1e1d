"""Whom a roster never removes, and whose Hub account it never deletes.

One rule for the preview and for apply (which judges again on the Hub's state at that moment),
so what the instructor was shown is what happens. Pure: the caller passes what it knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the roster core stays pure: no Hub client (requests) nor Flask at run time
    from app.hub.users import HubUser

from app.courses.names import GROUP_PREFIX

# Every Hub user holds the role "user"; any other role was given by a Hub admin on purpose.
DEFAULT_ROLES = frozenset({"user"})


class HubUserInfo(Protocol):
    """What the roster needs to know about a Hub user."""

    @property
    def admin(self) -> bool: ...

    @property
    def groups(self) -> Sequence[str]: ...

    @property
    def roles(self) -> Sequence[str]: ...


def with_group_roles(user: HubUser, group_roles: Mapping[str, Sequence[str]]) -> HubUser:
    """The user as the roster judges them: with the roles their groups grant as their own.

    `group_roles` maps each Hub group to the roles it grants.
    """
    roles = set(user.roles)
    for group in user.groups:
        roles.update(group_roles.get(group, ()))
    return replace(user, roles=tuple(sorted(roles)))


@dataclass(frozen=True)
class Safeguards:
    """What protects people from one course's roster."""

    # The course's student group and its section groups: the only groups a roster touches.
    own_groups: frozenset[str]
    # Service-wide instructor groups (HUBCLASS_INSTRUCTOR_GROUPS).
    instructor_groups: frozenset[str] = frozenset()
    # This course's teaching staff, by group and by username. Another course's staff do not
    # shield anyone from this course's roster (that would let its instructor name a student of
    # this course as their TA to keep them here); they only keep their account.
    staff_groups: frozenset[str] = frozenset()
    staff_users: frozenset[str] = frozenset()
    # Teaching staff of any course by username: their accounts are never deleted.
    any_staff_users: frozenset[str] = frozenset()
    # Accounts Hubclass created for this course and that are still those accounts.
    created_here: frozenset[str] = frozenset()


def never_removed(name: str, info: HubUserInfo, guards: Safeguards) -> str | None:
    """Say why this person never leaves the course by a roster, or None.

    A Hub role can grant admin scopes (`admin:users` through a role or a group's role), and the
    Hub does not let a service read what a role grants: every role beyond "user" counts.
    """
    if info.admin:
        return "a Hub admin"
    instructor = sorted(guards.instructor_groups.intersection(info.groups))
    if instructor:
        return f"an instructor (group {instructor[0]!r})"
    staff = sorted(guards.staff_groups.intersection(info.groups))
    if staff:
        return f"teaching staff of this course (group {staff[0]!r})"
    if name in guards.staff_users:
        return "teaching staff of this course"
    roles = sorted(set(info.roles) - DEFAULT_ROLES)
    if roles:
        return f"holds the Hub role {roles[0]!r} (a role may grant admin rights)"
    return None


def account_kept(name: str, info: HubUserInfo, guards: Safeguards) -> str | None:
    """Say why deleting this person's Hub account is refused (they only leave the group), or None.

    Hubclass deletes only accounts it created for this course, and only while no other course
    or Hub group outside this course holds them.
    """
    if name not in guards.created_here:
        return "the account was not created by Hubclass for this course"
    if name in guards.any_staff_users:
        return "teaching staff of a course"
    others = sorted(g for g in info.groups if g not in guards.own_groups)
    courses = [g for g in others if g.startswith(GROUP_PREFIX)]
    if courses:
        return f"enrolled in another course (group {courses[0]!r})"
    if others:
        return f"also in the Hub group {others[0]!r}"
    return None
