"""Distributions and their deliveries: one row per student, which is also the job queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assignments.models import Assignment
from app.extensions import Model
from app.timeutil import utcnow

# What a delivery does (its `kind`).
SYNC, RESET = "sync", "reset"


class Distribution(Model):
    """One press of "Distribute": which students it targeted, by whom, when."""

    __tablename__ = "distribution"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), index=True)
    # course | section | users | behind | failed | joined (a student who joined later) |
    # reset (one student's files put back to the course's version)
    scope: Mapped[str] = mapped_column(String(20))
    # The section name or the usernames the scope names; a reset's student and paths.
    scope_detail: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))

    assignment: Mapped[Assignment] = relationship()

    def __repr__(self) -> str:
        return f"<Distribution {self.id} of {self.assignment_id}>"


class Delivery(Model):
    """One student's copy of one distribution: queued, running, waiting for a home, or ended.

    The columns state, lease_holder, lease_expires and attempts make it a queue table of
    app/jobs (claim.Queue): a worker claims it with a lease it renews while the sync runs.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_state_id", "state", "id"),
        Index("ix_delivery_assignment_username", "assignment_id", "username"),
        # The poller's look for a student's Hub activity that was a delivery's (activity.py).
        Index("ix_delivery_username_finished", "username", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    distribution_id: Mapped[int] = mapped_column(ForeignKey("distribution.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"))
    username: Mapped[str] = mapped_column(String(255))
    # "sync": bring the course's commit in, keeping every edit; "reset": put the course's
    # version of `paths` back, the student's copy moved aside with a timestamp.
    kind: Mapped[str] = mapped_column(String(10), default="sync", server_default="sync")
    # For a reset: the folder's paths to reset; an empty list is the whole folder.
    paths: Mapped[list[str] | None] = mapped_column(JSON)
    # queued | claimed | waiting | done | attention | failed | superseded
    state: Mapped[str] = mapped_column(String(16), default="queued")
    lease_holder: Mapped[str | None] = mapped_column(String(128))
    lease_expires: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Why it waits, in the instructor's words ("waiting for first login").
    waiting_for: Mapped[str | None] = mapped_column(String(255))
    # The engine's outcome and report (gitsync SyncReport.to_json()), once it ran.
    outcome: Mapped[str | None] = mapped_column(String(20))
    commit: Mapped[str | None] = mapped_column(String(40))
    # The course branch it was delivered on (the mirror's, the remote's default resolved): a
    # reset of the folder follows exactly that branch. None in deliveries made before it was kept.
    branch: Mapped[str | None] = mapped_column(String(255))
    # A reset's commit, pinned when the instructor asked for it: the one the student had been
    # given then (what is put back is never silently another).
    reset_to: Mapped[str | None] = mapped_column(String(40))
    # How it reached the student: "home" (into their home, as them) or "server" (nbgitpuller
    # in their running server); None until it did (and in deliveries made before it was kept).
    way: Mapped[str | None] = mapped_column(String(10))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How many of the student's files kept some of the course's change out (the report's
    # "missed" entries that name a change): the distribution page lists those without reading
    # every report. None before it was counted.
    not_arrived: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    distribution: Mapped[Distribution] = relationship()
    assignment: Mapped[Assignment] = relationship()

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.username!r} {self.state}>"
