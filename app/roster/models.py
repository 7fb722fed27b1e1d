"""A course's students as the roster made them, each uploaded roster, and the Hub accounts
Hubclass created. Models never commit; the caller does."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.courses.models import Course
from app.extensions import Model
from app.timeutil import iso_z, utcnow


class Enrollment(Model):
    """A student of a course, as the roster made them: kept when they leave (active=False)."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("course_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    username: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    section: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship()

    def to_json(self) -> dict[str, Any]:
        """The student as the roster API lists them."""
        return {
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "section": self.section,
            "enrolled_at": iso_z(self.enrolled_at),
        }

    def __repr__(self) -> str:
        return f"<Enrollment {self.username!r} in {self.course_id}>"


class ImportStatus(StrEnum):
    """Where an uploaded roster is: previewed -> applied | partial."""

    PREVIEWED = "previewed"
    APPLIED = "applied"
    PARTIAL = "partial"  # some changes failed; applying again retries them


class RosterImport(Model):
    """One uploaded roster: what it would change (the plan) and, once applied, what it did."""

    __tablename__ = "roster_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    file_format: Mapped[str] = mapped_column(String(20))
    encoding: Mapped[str] = mapped_column(String(20))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    username_rule: Mapped[str] = mapped_column(String(255))
    remove_mode: Mapped[str] = mapped_column(String(10))  # a plan.RemoveMode
    # The preview as shown: to_json() of the plan, its details, and the students to enrol.
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.PREVIEWED)
    applied_at: Mapped[datetime | None]
    applied_by: Mapped[str | None] = mapped_column(String(255))
    # username -> an apply.Result, or "failed: <reason>"
    results: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    course: Mapped[Course] = relationship()

    def __repr__(self) -> str:
        return f"<RosterImport {self.id} {self.filename!r} {self.status}>"


class HubAccount(Model):
    """A Hub account that Hubclass itself created, and for which course.

    Only such accounts may ever be deleted by a roster: an account the Hub had before (a
    researcher, an admin's test user) can at most leave a course's group.
    """

    __tablename__ = "hub_account"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    # The Hub's own `created` time of the account as it answered the creation: an account
    # deleted and made again outside Hubclass has another one, and is no longer ours.
    # None for accounts recorded from roster history, which are judged by `recorded_at`.
    hub_created: Mapped[str | None] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()

    def __repr__(self) -> str:
        return f"<HubAccount {self.username!r} of {self.course_id}>"
