"""Apply a roster plan to the Hub: create users, set group members, remove who left.

Idempotent and convergent: each run reads the Hub's current state and does only what is still
missing, so re-applying the same import after a failure finishes the job without duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.hub import HubClient, HubError

log = logging.getLogger(__name__)

COURSE_GROUP_PREFIX = "course-"


@dataclass
class Intent:
    """What the instructor approved: who is in the course (with sections), who leaves, how."""

    course_group: str
    enrol: dict[str, list[str]]  # username -> section names
    remove: list[str]
    remove_mode: str  # none | group | delete
    instructor_groups: frozenset[str] = frozenset()
    # This course's section groups (from its enrollments and this file): the only course-*
    # groups besides course_group that belong to it. A slug may contain hyphens, so a prefix
    # test cannot tell course-data100-fall (another course) from a section of data100.
    section_groups: frozenset[str] = frozenset()

    @property
    def own_groups(self) -> frozenset[str]:
        return self.section_groups | {self.course_group}


@dataclass
class Outcome:
    """Per-username results: created | added | removed | deleted | failed: <reason>."""

    results: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return sorted(u for u, r in self.results.items() if r.startswith("failed"))


def section_group(course_group: str, section: str) -> str:
    """Return the Hub group of a section, e.g. course-data100--section-01.

    The double hyphen cannot occur in a course slug, so no section group of one course can be
    another course's group (course-alpha + "lab" would otherwise be course-alpha-lab's group).
    """
    slug = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")[:40] or "section"
    return f"{course_group}--{slug}"


def _protected(model: Mapping | None, intent: Intent) -> str | None:
    """Say why a user must not be removed now (read from the Hub at apply time), or None.

    The same rules as the plan's: "another course" protects only from deletion.
    """
    if model is None:
        return None
    groups = set(model.get("groups") or ())
    if model.get("admin"):
        return "a Hub admin"
    if intent.instructor_groups & groups:
        return "an instructor"
    other = any(g.startswith(COURSE_GROUP_PREFIX) and g not in intent.own_groups for g in groups)
    if other and intent.remove_mode == "delete":
        return "enrolled in another course"
    return None


def apply_intent(
    client: HubClient, intent: Intent, *, hub_users: Mapping[str, Mapping] | None = None
) -> Outcome:
    """Bring the Hub to the intent. `hub_users` is a complete listing taken just before, if any."""
    outcome = Outcome()
    users: dict[str, dict] = (
        {name: dict(u) for name, u in hub_users.items()}
        if hub_users is not None
        else {u["name"]: u for u in client.list_users()}
    )

    def fail(names: Iterable[str], error: HubError) -> None:
        for name in names:
            outcome.results[name] = f"failed: {error.message}"

    # 1. Users: the bulk endpoint creates only the missing ones.
    # Chunk by chunk, so one failed chunk does not hide what the others created.
    missing = [name for name in intent.enrol if name not in users]
    for start in range(0, len(missing), client.create_chunk):
        batch = missing[start : start + client.create_chunk]
        try:
            for model in client.create_users(batch):
                users[model["name"]] = model
                outcome.results[model["name"]] = "created"
        except HubError as e:
            log.warning("Creating users failed: %r", e.message)
            fail([n for n in batch if n not in users], e)
    enrolled = [n for n in intent.enrol if n in users]

    # 2. The course group and its sections: only members that are not in yet.
    wanted: dict[str, list[str]] = {intent.course_group: enrolled}
    for name in enrolled:
        for section in intent.enrol[name]:
            wanted.setdefault(section_group(intent.course_group, section), []).append(name)
    for group, members in wanted.items():
        absent = [n for n in members if group not in (users[n].get("groups") or ())]
        try:
            client.ensure_group(group)
            if absent:
                client.add_group_members(group, absent)
        except HubError as e:
            log.warning("Adding members to %r failed: %r", group, e.message)
            fail(absent, e)
            continue
        for name in absent:
            users[name].setdefault("groups", []).append(group)
            if group == intent.course_group:
                outcome.results.setdefault(name, "added")

    # 3. Removal, only when asked; the Hub's fresh state decides who is protected.
    if intent.remove_mode != "none":
        _remove(client, intent, users, outcome)

    return outcome


def _remove(client: HubClient, intent: Intent, users: dict, outcome: Outcome) -> None:
    leaving = []
    for name in intent.remove:
        reason = _protected(users.get(name), intent)
        if reason:
            outcome.results[name] = f"failed: not removed, {reason}"
        elif name in users:
            leaving.append(name)
    if intent.remove_mode == "delete":
        for name in leaving:
            try:
                client.delete_user(name)  # the Hub never deletes home folders
                outcome.results[name] = "deleted"
            except HubError as e:
                outcome.results[name] = f"failed: {e.message}"
        return
    own = [intent.course_group, *sorted(intent.section_groups)]
    for group in own:
        members = [n for n in leaving if group in (users[n].get("groups") or ())]
        if not members:
            continue
        try:
            client.remove_group_members(group, members)
        except HubError as e:
            fail_names = members if group == intent.course_group else []
            for name in fail_names:
                outcome.results[name] = f"failed: {e.message}"
            continue
        if group == intent.course_group:
            for name in members:
                outcome.results[name] = "removed"
