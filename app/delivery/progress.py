"""What the delivery pages show: an assignment's distributions with their counts, one
distribution's progress (the bar, the table and its filter, the buttons), and one student's
deliveries. Reads only; a page costs a few queries whatever the course size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.assignments.models import Assignment
from app.courses.models import Course
from app.extensions import db
from app.roster.models import Enrollment

from . import forms, not_arrived, progress_json, service, words
from .models import RESET, Delivery, Distribution
from .states import State, shown

# How many earlier distributions an assignment's page lists.
HISTORY = 10
# The table's filter (`?show=`): the states as the JSON says them, and their words.
SHOW = {
    "all": "everyone",
    "queued": "queued",
    "running": "running",
    "done": "done",
    "attention": "needs attention",
    "failed": "failed",
    "waiting": "waiting",
    "superseded": "replaced by a newer distribution",
}
# The bar's counts, in the order the page lists them.
COUNTS = ("queued", "running", "done", "attention", "failed", "waiting")


def sections(course: Course) -> list[str]:
    """The sections of the course's active students (an enrollment holds "; "-joined ones)."""
    values = db.session.scalars(
        select(Enrollment.section)
        .where(Enrollment.course_id == course.id, Enrollment.active.is_(True))
        .distinct()
    )
    return sorted({name for value in values for name in (value or "").split("; ") if name})


def newest_distribution(assignment: Assignment) -> Distribution | None:
    """The assignment's newest distribution to its students (one student's reset aside)."""
    return db.session.scalar(
        select(Distribution)
        .where(Distribution.assignment_id == assignment.id, Distribution.scope != RESET)
        .order_by(Distribution.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Earlier:
    """A distribution in the assignment's list, with how many of its deliveries are where."""

    distribution: Distribution
    counts: Counter[str]

    @property
    def said(self) -> str:
        return words.targeted(self.distribution.scope, self.distribution.scope_detail)


def recent_distributions(assignment: Assignment, limit: int = HISTORY) -> list[Earlier]:
    """The assignment's newest distributions, newest first, each with its counts per state."""
    found = list(
        db.session.scalars(
            select(Distribution)
            .where(Distribution.assignment_id == assignment.id)
            .order_by(Distribution.id.desc())
            .limit(limit)
        )
    )
    counts: dict[int, Counter[str]] = {d.id: Counter() for d in found}
    rows = db.session.execute(
        select(Delivery.distribution_id, Delivery.state, func.count(Delivery.id))
        .where(Delivery.distribution_id.in_(list(counts)))
        .group_by(Delivery.distribution_id, Delivery.state)
    )
    for distribution_id, state, number in rows:
        counts[distribution_id][shown(state)] += number
    return [Earlier(d, counts[d.id]) for d in found]


def distribution_of(assignment: Assignment, distribution_id: int) -> Distribution:
    """The assignment's distribution `distribution_id`; another's is as if it did not exist."""
    found = db.session.get(Distribution, distribution_id)
    if found is None or found.assignment_id != assignment.id:
        raise service.no_distribution(distribution_id)
    return found


def shown_filter(value: str | None) -> str:
    return value if value in SHOW else "all"


def targeting(distribution: Distribution) -> dict[str, str]:
    """The distribute form's fields that reach the students `distribution` went to."""
    detail = distribution.scope_detail if isinstance(distribution.scope_detail, dict) else {}
    if detail.get("users"):
        return {"to": forms.USERS, "section": "", "users": " ".join(detail["users"])}
    if detail.get("section"):
        return {"to": forms.SECTION, "section": str(detail["section"]), "users": ""}
    return {"to": forms.COURSE, "section": "", "users": ""}


def again_words(distribution: Distribution) -> str:
    """Whom "Distribute again" sends to: the students the distribution went to, all of them."""
    return words.targeted(targeting(distribution)["to"], distribution.scope_detail)


def page_progress(distribution: Distribution, show: str | None) -> dict[str, Any]:
    """What `delivery/_progress.html` needs: the progress JSON (the script polls the same),
    the filter, and the fields of the retry and distribute-again buttons."""
    summary = progress_json.distribution_json(distribution)
    fields = targeting(distribution)
    ended = summary["done"] + summary["attention"] + summary["failed"] + summary["superseded"]
    return {
        "distribution": distribution,
        "summary": summary,
        "ended": ended,
        "show": shown_filter(show),
        "show_labels": SHOW,
        "targeted": words.targeted(distribution.scope, distribution.scope_detail),
        "retry_fields": {**fields, "only": forms.FAILED},
        "again_fields": {**fields, "only": forms.ALL},
        "again_words": again_words(distribution),
        # A reset went to one student's chosen files: sending "again" is the reset form's job.
        "buttons": distribution.scope != RESET,
        "not_arrived": not_arrived.across(distribution),
    }


def deliveries_to(assignment: Assignment, username: str) -> list[Delivery]:
    """Every delivery of the assignment to the student, newest first."""
    return list(
        db.session.scalars(
            select(Delivery)
            .where(Delivery.assignment_id == assignment.id, Delivery.username == username)
            .order_by(Delivery.id.desc())
        )
    )


def enrolled(course: Course, username: str) -> bool:
    found = db.session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == course.id, Enrollment.username == username
        )
    )
    return found is not None


def newest_that_counts(deliveries: list[Delivery]) -> Delivery | None:
    """The newest delivery not replaced by a newer one (the one that ran, or will run)."""
    return next((d for d in deliveries if d.state != State.SUPERSEDED), None)
