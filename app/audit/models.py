"""Who did what, when, to which course."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.courses.models import Course
from app.extensions import Model
from app.timeutil import utcnow


class AuditEvent(Model):
    __tablename__ = "audit_event"
    # The log page reads newest first (by id) within what its filters and the reader's
    # courses allow: each filter's column leads an index that ends in the id, so a page is
    # found without sorting or scanning other courses' events.
    __table_args__ = (
        Index("ix_audit_event_course_id_id", "course_id", "id"),
        Index("ix_audit_event_actor_id", "actor", "id"),
        Index("ix_audit_event_action_id", "action", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"))
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    course: Mapped[Course | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action!r} by {self.actor!r}>"
