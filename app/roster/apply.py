"""Apply a roster plan to the Hub: create users, set group members, remove who left.

Idempotent and convergent: each run reads the Hub's current state and does only what is still
missing, so re-applying the same import after a failure finishes the job without duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from app.courses.names import SECTION_SEPARATOR
from app.hub import HubClient, HubError, HubUser, roles_by_group
from app.roster.plan import RemoveMode
from app.roster.protection import Safeguards, account_kept, never_removed, with_group_roles

log = logging.getLogger(__name__)


@dataclass
class Intent:
    """What the instructor approved: who is in the course (with sections), who leaves, how."""

    course_group: str
    enrol: dict[str, list[str]]  # username -> section names
    remove: list[str]
    remove_mode: RemoveMode
    instructor_groups: frozenset[str] = frozenset()
    # This course's teaching staff; and every course's staff by username (see Safeguards).
    staff_groups: frozenset[str] = frozenset()
    staff_users: frozenset[str] = frozenset()
    any_staff_users: frozenset[str] = frozenset()
    # Accounts Hubclass created for this course, each with the Hub's `created` time it had
    # then (None: recorded from history, to be created no later than `recorded_before`).
    created_here: Mapping[str, tuple[str | None, datetime]] = field(default_factory=dict)
    # This course's section groups (from its enrollments and this file): the only course-*
    # groups besides course_group that belong to it. A slug may contain hyphens, so a prefix
    # test cannot tell course-data100-fall (another course) from a section of data100.
    section_groups: frozenset[str] = frozenset()

    @property
    def own_groups(self) -> frozenset[str]:
        return self.section_groups | {self.course_group}

    def safeguards(self, users: Mapping[str, HubUser]) -> Safeguards:
        """The protection rules, with "created here" checked against the Hub's accounts now."""
        return Safeguards(
            own_groups=self.own_groups,
            instructor_groups=self.instructor_groups,
            staff_groups=self.staff_groups,
            staff_users=self.staff_users,
            any_staff_users=self.any_staff_users,
            created_here=frozenset(
                name
                for name, (hub_created, recorded) in self.created_here.items()
                if name in users and still_ours(users[name], hub_created, recorded)
            ),
        )


def still_ours(user: HubUser, hub_created: str | None, recorded: datetime) -> bool:
    """Tell whether the Hub's account is the one Hubclass created, not a later namesake.

    An account deleted and made again outside Hubclass has a new `created` time: the Hub's text
    is compared with the text it gave at creation, exactly. Accounts recorded from roster
    history carry no such time: they must be older than the record.
    """
    if not user.created:
        return False
    if hub_created is not None:
        return user.created == hub_created
    when = user.created_at
    return when is not None and when <= recorded


class Result(StrEnum):
    """What applying a roster did for one student; a failure is "failed: <reason>" instead.

    Stored per username in roster_import.results and shown as is by the pages, API and CLI.
    """

    CREATED = "created"
    ADDED = "added"
    REMOVED = "removed"
    DELETED = "deleted"


FAILED = "failed"


def failure(reason: str) -> str:
    """The result of a change that did not happen, with why."""
    return f"{FAILED}: {reason}"


def is_failure(result: str) -> bool:
    return result.startswith(FAILED)


@dataclass
class Outcome:
    """Per-username results: a Result, or a failure() with its reason."""

    results: dict[str, str] = field(default_factory=dict)
    # The Hub's `created` time of each account created now, so it can be known again later.
    hub_created: dict[str, str | None] = field(default_factory=dict)
    # The Hub groups this run created (the course's, a new section's): for the audit log.
    groups_created: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return sorted(u for u, r in self.results.items() if is_failure(r))


def section_group(course_group: str, section: str) -> str:
    """Return the Hub group of a section, e.g. course-data100--section-01.

    The double hyphen cannot occur in a course slug, so no section group of one course can be
    another course's group (course-alpha + "lab" would otherwise be course-alpha-lab's group).
    """
    slug = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")[:40] or "section"
    return f"{course_group}{SECTION_SEPARATOR}{slug}"


def apply_intent(
    client: HubClient,
    intent: Intent,
    *,
    hub_users: Mapping[str, HubUser] | None = None,
    group_roles: Mapping[str, Sequence[str]] | None = None,
    created: Callable[[list[HubUser]], None] | None = None,
) -> Outcome:
    """Bring the Hub to the intent.

    `hub_users` and `group_roles` are complete listings taken just before, if any; otherwise
    they are read now, so protection is judged on the Hub's current state. `created` is told
    each chunk of accounts the Hub made, as soon as it made them.
    """
    outcome = Outcome()
    # A copy: what this run learns (new accounts, new members) never changes the caller's.
    users: dict[str, HubUser] = (
        dict(hub_users) if hub_users is not None else {u.name: u for u in client.list_users()}
    )
    if group_roles is None:
        group_roles = roles_by_group(client.list_groups())

    def fail(names: Iterable[str], error: HubError) -> None:
        for name in names:
            outcome.results[name] = failure(error.message)

    # 1. Users: the bulk endpoint creates only the missing ones.
    # Chunk by chunk, so one failed chunk does not hide what the others created.
    missing = [name for name in intent.enrol if name not in users]
    for start in range(0, len(missing), client.create_chunk):
        batch = missing[start : start + client.create_chunk]
        try:
            made = client.create_users(batch)
        except HubError as e:
            log.warning("Creating users failed: %r", e.message)
            fail([n for n in batch if n not in users], e)
            continue
        for user in made:
            users[user.name] = user
            outcome.results[user.name] = Result.CREATED
            outcome.hub_created[user.name] = user.created
        if created is not None and made:
            created(made)
    enrolled = [n for n in intent.enrol if n in users]

    # 2. The course group and its sections: only members that are not in yet.
    wanted: dict[str, list[str]] = {intent.course_group: enrolled}
    for name in enrolled:
        for section in intent.enrol[name]:
            wanted.setdefault(section_group(intent.course_group, section), []).append(name)
    for group, members in wanted.items():
        absent = [n for n in members if group not in users[n].groups]
        try:
            if client.ensure_group(group):
                outcome.groups_created.append(group)
            if absent:
                client.add_group_members(group, absent)
        except HubError as e:
            log.warning("Adding members to %r failed: %r", group, e.message)
            fail(absent, e)
            continue
        for name in absent:
            users[name] = replace(users[name], groups=(*users[name].groups, group))
            if group == intent.course_group:
                outcome.results.setdefault(name, Result.ADDED)

    # 3. Removal, only when asked; the Hub's fresh state decides who is protected.
    if intent.remove_mode != RemoveMode.NONE:
        _remove(client, intent, users, group_roles, outcome)

    return outcome


def _remove(
    client: HubClient,
    intent: Intent,
    users: dict[str, HubUser],
    group_roles: Mapping[str, Sequence[str]],
    outcome: Outcome,
) -> None:
    guards = intent.safeguards(users)
    leaving, deleting = [], []
    for name in intent.remove:
        if name not in users:
            continue
        who = with_group_roles(users[name], group_roles)
        reason = never_removed(name, who, guards)
        if reason:
            outcome.results[name] = failure(f"not removed, {reason}")
        elif intent.remove_mode == RemoveMode.DELETE and not account_kept(name, who, guards):
            deleting.append(name)
        else:
            leaving.append(name)
    for name in deleting:
        try:
            client.delete_user(name)  # the Hub never deletes home folders
            outcome.results[name] = Result.DELETED
        except HubError as e:
            outcome.results[name] = failure(e.message)
    own = [intent.course_group, *sorted(intent.section_groups)]
    for group in own:
        members = [n for n in leaving if group in users[n].groups]
        if not members:
            continue
        try:
            client.remove_group_members(group, members)
        except HubError as e:
            fail_names = members if group == intent.course_group else []
            for name in fail_names:
                outcome.results[name] = failure(e.message)
            continue
        if group == intent.course_group:
            for name in members:
                outcome.results[name] = Result.REMOVED
