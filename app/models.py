"""Typed SQLAlchemy models: the nouns of a course. Models never commit; the caller does."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

if TYPE_CHECKING:  # Flask-SQLAlchemy makes db.Model at run time; type checkers see its base
    from .extensions import Base as Model
else:
    Model = db.Model
from .timeutil import utcnow


class Course(Model):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # The Hub group that holds the course's students: course-<slug> unless set otherwise.
    hub_group: Mapped[str] = mapped_column(String(255))
    # Hub groups whose members teach this course, besides the service-wide instructor groups.
    instructor_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Hub usernames of teaching staff named one by one (TAs), besides the staff groups.
    staff_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The instructor who created it; None for a course made on the command line, which no
    # Hub user owns (a Hub user called "cli" must not manage such courses).
    created_by: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"<Course {self.slug!r}>"


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


class AuditEvent(Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"), index=True)
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    course: Mapped[Course | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action!r} by {self.actor!r}>"


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

    def __repr__(self) -> str:
        return f"<Enrollment {self.username!r} in {self.course_id}>"


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
    remove_mode: Mapped[str] = mapped_column(String(10))
    # The preview as shown: to_json() of the plan, its details, and the students to enrol.
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # previewed -> applied | partial (some changes failed; applying again retries them)
    status: Mapped[str] = mapped_column(String(20), default="previewed")
    applied_at: Mapped[datetime | None]
    applied_by: Mapped[str | None] = mapped_column(String(255))
    results: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    course: Mapped[Course] = relationship()

    def __repr__(self) -> str:
        return f"<RosterImport {self.id} {self.filename!r} {self.status}>"


class HubUserState(Model):
    """The Hub's view of a user, copied by the activity poller so pages never ask the Hub."""

    __tablename__ = "hub_user_state"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    on_hub: Mapped[bool] = mapped_column(default=True)  # False once the Hub no longer lists them
    admin: Mapped[bool] = mapped_column(default=False)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    created: Mapped[datetime | None]
    # The Hub's last_activity stays null until the first authenticated visit, so the first
    # non-null value a poll sees is when the student first logged in (to within a poll).
    first_login: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    server: Mapped[str] = mapped_column(String(10), default="stopped")  # running|pending|stopped
    server_ready: Mapped[bool] = mapped_column(default=False)
    server_started: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<HubUserState {self.username!r} {self.server}>"


class ActivitySample(Model):
    """How many of a course's students were active at one time (per minute, thinned to hourly)."""

    __tablename__ = "activity_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    resolution: Mapped[str] = mapped_column(String(6), default="minute")  # minute | hour
    active: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer)
    logged_in: Mapped[int] = mapped_column(Integer)


class Lease(Model):
    """A named lock with an expiry, so one process of many does a periodic job at a time."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
